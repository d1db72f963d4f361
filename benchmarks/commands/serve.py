"""``asyncio-lab serve``: the mock API in the foreground, with the mock server's own flags."""

from __future__ import annotations

import argparse
from typing import Any

from asyncio_perf_lab.benchmarks.commands.common import add_command
from asyncio_perf_lab.mockserver import __main__ as mockserver_cli


def add_parser(sub: Any) -> None:
    """Register ``serve`` with the flags the mock server's process takes."""
    parser = add_command(
        sub,
        "serve",
        "run the mock API in the foreground (Ctrl-C stops it)",
        mockserver_cli.DESCRIPTION
        + " Prints 'mockserver listening on http://127.0.0.1:PORT' once it accepts requests.",
        mockserver_cli.EXAMPLE,
    )
    mockserver_cli.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT."""
    return mockserver_cli.serve_until_stopped(args)
