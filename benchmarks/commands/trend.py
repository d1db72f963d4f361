"""``asyncio-lab trend``: every variant's median across the runs kept (history, never a gate)."""

from __future__ import annotations

import argparse
from typing import Any

from asyncio_perf_lab.benchmarks.commands.common import add_command, add_out

DEFAULT_LAST = 30  # reports.trend.DEFAULT_LAST, written here so --help imports no matplotlib


def add_parser(sub: Any) -> None:
    """Register ``trend``."""
    parser = add_command(
        sub,
        "trend",
        "write a page of every variant's median across the runs kept (never a gate)",
        "Write one self-contained HTML page charting each variant's median across runs, oldest "
        "first, and print its path. History only: it fails for bad input alone.",
        "asyncio-lab trend results/ --last 20",
    )
    parser.add_argument(
        "paths", metavar="PATH", nargs="*", default=["results"],
        help="results files, or directories holding */results.json (default: results)",
    )  # fmt: skip
    parser.add_argument(
        "--last", type=int, default=DEFAULT_LAST, metavar="N",
        help=f"only the newest N runs (default {DEFAULT_LAST}, at least 2)",
    )  # fmt: skip
    add_out(parser, None, help="file to write (default: trend.html in the first PATH)")


def run(args: argparse.Namespace) -> int:
    """Write the trend page, print its path."""
    from asyncio_perf_lab.reports.trend import build_trend

    print(build_trend(args.paths, args.out, args.last))
    return 0
