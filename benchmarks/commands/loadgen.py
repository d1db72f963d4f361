"""``asyncio-lab loadgen``: open-loop load against the mock API, figures printed.

Bounded: at most ``MAX_REQUESTS`` requests, each abandoned ``--timeout`` seconds after its
intended start; only loopback URLs.
"""

from __future__ import annotations

import argparse
import json
from typing import Any
from urllib.parse import urlsplit

from asyncio_perf_lab.benchmarks.commands.common import add_command, add_loop, bounded
from asyncio_perf_lab.scenarios.loadgen import DEFAULT_TIMEOUT_S, MAX_RATE, MAX_REQUESTS, describe

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _loopback_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a loopback http URL (allowed hosts: {', '.join(LOOPBACK_HOSTS)})"
        )
    return text.rstrip("/")


def add_parser(sub: Any) -> None:
    """Register ``loadgen``."""
    parser = add_command(
        sub,
        "loadgen",
        "send open-loop load to the mock API and print what client and server saw",
        "Send GET PATH at a fixed rate (open loop) to the mock API and report throughput, "
        "latency from each request's intended start, errors, client slip and server lag.",
        "asyncio-lab loadgen /work/async-sleep?ms=200 --requests 1000 --rate 5000",
    )
    parser.add_argument("path", help="path and query on the mock API, e.g. /work/cpu?ms=3")
    parser.add_argument(
        "--requests", type=bounded(int, 1, MAX_REQUESTS, "--requests"), default=1000
    )
    parser.add_argument(
        "--rate", type=bounded(float, 0.001, MAX_RATE, "--rate"), default=1000.0, help="per s"
    )
    parser.add_argument(
        "--timeout",
        type=bounded(float, 0.001, 600, "--timeout"),
        default=DEFAULT_TIMEOUT_S,
        help="abandon a request this many seconds after its intended start",
    )
    parser.add_argument(
        "--url", type=_loopback_url, help="a running mock API (default: start one, port 0)"
    )
    add_loop(parser, help="the client's loop (default: asyncio)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def run(args: argparse.Namespace) -> int:
    """Send the load, print the figures; 1 if any request failed."""
    import asyncio

    from asyncio_perf_lab.benchmarks.loadgen import measure_load
    from asyncio_perf_lab.benchmarks.loops import new_event_loop
    from asyncio_perf_lab.mockserver import raise_open_files_limit

    raise_open_files_limit()
    with asyncio.Runner(loop_factory=lambda: new_event_loop(args.loop)) as runner:
        figures = runner.run(
            measure_load(args.path, args.requests, args.rate, args.timeout, args.url)
        )
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
