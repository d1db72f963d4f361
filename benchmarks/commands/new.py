"""``asyncio-lab new``: write a commented scenario of your own that runs as written."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from asyncio_perf_lab.benchmarks.commands.common import add_command

DEFAULT_DIR = "lab_scenarios"


def add_parser(sub: Any) -> None:
    """Register ``new``."""
    parser = add_command(
        sub,
        "new",
        "write a scenario of your own to start from (never overwrites)",
        "Write DIR/NAME.py: a commented scenario (awaited one by one vs gathered) that runs as "
        "written against the built-in fake API, with comments on switching to your routes. "
        "It never overwrites a file.",
        f"asyncio-lab new checkout --dir {DEFAULT_DIR}",
    )
    parser.add_argument("name", metavar="NAME", help="the scenario's name (letters, digits, _)")
    parser.add_argument(
        "--dir", default=DEFAULT_DIR, metavar="DIR", help=f"folder (default: {DEFAULT_DIR})"
    )


def run(args: argparse.Namespace) -> int:
    """Write the module, print its path and the command that runs it."""
    from asyncio_perf_lab.benchmarks.scaffold import write_scenario

    path = write_scenario(args.name, args.dir)
    # Plain lines, never wrapped: the second is a command to copy.
    print(f"wrote {path}; run it with:", file=sys.stderr)
    print(f"  asyncio-lab run {args.name} --scenarios {args.dir} --profile quick", file=sys.stderr)
    print(path)
    return 0
