"""``asyncio-lab report``: the self-contained HTML report of a results file."""

from __future__ import annotations

import argparse
from typing import Any

from asyncio_perf_lab.benchmarks.commands.common import add_command, add_out


def add_parser(sub: Any) -> None:
    """Register ``report``."""
    parser = add_command(
        sub,
        "report",
        "write the self-contained HTML report of a results file",
        "Write one self-contained HTML file (inline SVG charts, nothing fetched) from a results "
        "file and print its path.",
        "asyncio-lab report results/latest/results.json --out /tmp/report.html",
    )
    parser.add_argument("results", metavar="RESULTS.json", help="a results file of the lab")
    add_out(parser, None, help="file to write (default: report.html beside RESULTS.json)")


def run(args: argparse.Namespace) -> int:
    """Write the report, print its path."""
    from asyncio_perf_lab.reports import build_report

    print(build_report(args.results, args.out))
    return 0
