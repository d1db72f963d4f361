"""``asyncio-lab loadgen``: open-loop load against the mock API, from the command line.

A thin wrapper: the generator itself is ``scenarios.loadgen`` (the ``server_load`` scenario uses
it too, so there is one implementation). This adds a mock server of its own (or a loopback URL
of one already running), the lab's client session, and a printout of what the client and the
server saw: throughput, latency from each request's intended start, errors, the generator's own
schedule slip, the server's max in-flight and loop lag. Bounded: at most ``MAX_REQUESTS``
requests, each abandoned ``--timeout`` seconds after its intended start.

Example: ``asyncio-lab loadgen /work/async-sleep?ms=200 --requests 1000 --rate 5000``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any, NoReturn
from urllib.parse import urlsplit

from asyncio_perf_lab.benchmarks.context import make_session
from asyncio_perf_lab.benchmarks.loops import LOOPS, available_loops, new_event_loop
from asyncio_perf_lab.mockserver import MockServer, raise_open_files_limit
from asyncio_perf_lab.scenarios.loadgen import (
    DEFAULT_TIMEOUT_S,
    MAX_RATE,
    MAX_REQUESTS,
    describe,
    open_loop,
)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _bounded(kind: type, low: float, high: float, name: str) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{name} {text} is outside {low:g}..{high:g}")
        return value

    return parse


def _loopback_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a loopback http URL (allowed hosts: {', '.join(LOOPBACK_HOSTS)})"
        )
    return text.rstrip("/")


def build_parser() -> argparse.ArgumentParser:
    """The command line; the help ends with an example."""
    parser = _Parser(
        prog="asyncio-lab loadgen",
        description=(
            "Send GET PATH at a fixed rate (open loop) to the mock API and report throughput, "
            "latency from each request's intended start, errors, client slip and server lag."
        ),
        epilog="Example: asyncio-lab loadgen /work/async-sleep?ms=200 --requests 1000 --rate 5000",
    )
    parser.add_argument("path", help="path and query on the mock API, e.g. /work/cpu?ms=3")
    parser.add_argument(
        "--requests", type=_bounded(int, 1, MAX_REQUESTS, "--requests"), default=1000
    )
    parser.add_argument(
        "--rate", type=_bounded(float, 0.001, MAX_RATE, "--rate"), default=1000.0, help="per s"
    )
    parser.add_argument(
        "--timeout",
        type=_bounded(float, 0.001, 600, "--timeout"),
        default=DEFAULT_TIMEOUT_S,
        help="abandon a request this many seconds after its intended start",
    )
    parser.add_argument(
        "--url", type=_loopback_url, help="a running mock API (default: start one, port 0)"
    )
    parser.add_argument("--loop", choices=LOOPS, default="asyncio", help="the client's loop")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser


async def _server_json(session: Any, base_url: str, method: str, path: str) -> dict[str, Any]:
    async with session.request(method, f"{base_url}{path}") as resp:
        resp.raise_for_status()
        return await resp.json()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start (or reach) the server, run the load once, return client and server figures."""
    async with AsyncExitStack() as stack:
        if args.url is None:
            base_url = (await stack.enter_async_context(MockServer())).url
        else:
            base_url = args.url
        session = await stack.enter_async_context(make_session())
        await _server_json(session, base_url, "POST", "/stats/reset?loop_lag=1")
        path = args.path if args.path.startswith("/") else f"/{args.path}"
        result = await open_loop(
            session, base_url + path, requests=args.requests, rate=args.rate, timeout_s=args.timeout
        )
        server = await _server_json(session, base_url, "GET", "/stats?loop_lag=1")
    return {
        "client": result.summary(),
        "error_kinds": result.error_kinds,
        "server": {
            "max_in_flight": server["max_in_flight"],
            "requests": server["total_requests"],
            "loop_lag": server.get("loop_lag"),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run, print; 2 for bad input, 1 if any request failed."""
    args = build_parser().parse_args(argv)
    if args.loop not in available_loops():
        print(f"error: --loop {args.loop} is not available here", file=sys.stderr)
        return 2
    raise_open_files_limit()
    with asyncio.Runner(loop_factory=lambda: new_event_loop(args.loop)) as runner:
        figures = runner.run(run(args))
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        lag = figures["server"]["loop_lag"] or {}
        print(
            f"{args.requests} x GET {args.path} at {args.rate:g}/s: {describe(figures['client'])}"
        )
        print(
            f"server: max in flight {figures['server']['max_in_flight']}, loop lag "
            f"p99 {lag.get('p99_ms', 0):.1f} ms, max {lag.get('max_ms', 0):.1f} ms"
        )
        if figures["error_kinds"]:
            print(f"errors: {figures['error_kinds']}")
    return 1 if figures["client"]["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
