"""The mock server process's command line (``asyncio-lab serve`` reuses its flags).

Bad input costs one line on stderr and exit 2. The flags are defined once, in ``add_arguments``:
the lab's ``serve`` command adds them to its own parser (mockserver may not import the lab's
command layer, so this module keeps its small parser for ``python -m``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import NoReturn

from asyncio_perf_lab.mockserver.app import load_routes, make_app
from asyncio_perf_lab.mockserver.faults import MAX_SEED
from asyncio_perf_lab.mockserver.latency import ALLOWED_FORMS, parse_latency
from asyncio_perf_lab.mockserver.limits import raise_open_files_limit
from asyncio_perf_lab.mockserver.routes import Route, RoutesError
from asyncio_perf_lab.mockserver.server import ListenError, serve

LOOPBACK = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line naming the bad value and what is allowed; argparse would print usage first.
        hint = "" if "allowed" in message else " (see asyncio-lab serve --help)"
        self.exit(2, f"mockserver: error: {message}{hint}\n")


def _host(text: str) -> str:
    if text not in LOOPBACK:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not loopback; the mock API binds loopback only (allowed: 127.0.0.1, "
            "localhost)"
        )
    return LOOPBACK[text]


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port (allowed: 0..65535, 0 = any free)"
        )
    return int(text)


def _latency(text: str) -> str:
    try:
        parse_latency(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _routes(text: str) -> list[Route]:
    try:
        return load_routes(text)
    except RoutesError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seed(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed (allowed: integers 0..2**63-1)")
    return int(text)


DESCRIPTION = "Serve the lab's fake API on loopback with injected latency and faults."
EXAMPLE = "asyncio-lab serve --port 8080 --latency lognormal:p50=40ms,p99=200ms --seed 1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's flags, on this module's parser or on ``asyncio-lab serve``'s."""
    parser.add_argument("--host", type=_host, default="127.0.0.1", help="127.0.0.1 (default)")
    parser.add_argument("--port", type=_port, default=0, help="port; 0 (default) picks a free one")
    parser.add_argument(
        "--latency",
        type=_latency,
        default="0ms",
        help=f"default latency SPEC (default 0ms); forms: {ALLOWED_FORMS}",
    )
    parser.add_argument("--seed", type=_seed, default=None, help="seed of the latency/fail streams")
    parser.add_argument(
        "--routes",
        type=_routes,
        default=[],
        metavar="FILE",
        help="a TOML file of your API's routes, served beside the built-in ones",
    )
    parser.add_argument(
        "--watch-stdin",
        action="store_true",
        help="exit when stdin reaches EOF (the launcher uses it: no orphan if the parent dies)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m asyncio_perf_lab.mockserver`` (the launcher's command)."""
    parser = _Parser(
        prog="asyncio-lab serve",
        description=f"{DESCRIPTION} Example: {EXAMPLE}",
    )
    add_arguments(parser)
    return parser


def serve_until_stopped(args: argparse.Namespace) -> int:
    """Serve with the parsed flags until SIGTERM/SIGINT; 0 on a clean stop, 1 if it cannot bind."""
    raise_open_files_limit()
    app = make_app(args.latency, args.seed, args.routes)
    try:
        asyncio.run(serve(app, args.host, args.port, watch_stdin=args.watch_stdin))
    except ListenError as exc:
        print(f"mockserver: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were in place
        return 0
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve."""
    return serve_until_stopped(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
