"""``asyncio-lab readme-chart``: the README's headline bar chart, as a standalone SVG."""

from __future__ import annotations

import argparse
from typing import Any

from asyncio_perf_lab.benchmarks.commands.common import add_command, add_out

LATEST = "results/latest/results.json"


def add_parser(sub: Any) -> None:
    """Register ``readme-chart``."""
    parser = add_command(
        sub,
        "readme-chart",
        "write the headline bar chart as an SVG for the README",
        "Write the sequential_vs_gather bar chart (or the first scenario's) as a standalone SVG "
        "and print its path.",
        "asyncio-lab readme-chart results/latest/results.json --out docs/readme-chart.svg",
    )
    parser.add_argument(
        "results", metavar="RESULTS.json", nargs="?", default=LATEST, help=f"default: {LATEST}"
    )
    add_out(parser, None, help="file to write (default: docs/readme-chart.svg in the checkout)")


def run(args: argparse.Namespace) -> int:
    """Write the chart, print its path."""
    from asyncio_perf_lab.reports import build_readme_chart

    print(build_readme_chart(args.results, args.out))
    return 0
