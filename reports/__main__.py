"""``asyncio-lab``: build the HTML report of a run, or the README's headline chart.

Bad input (a missing, corrupt, truncated, foreign or newer-schema results file, or an output that
cannot be written) is one line on stderr and exit code 2, never a traceback, and never a report.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from asyncio_perf_lab.reports.results_file import ResultsFileError

LATEST = "results/latest/results.json"
DEFAULT_LAST = 30  # reports.trend.DEFAULT_LAST, kept here so --help needs no matplotlib import


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def cmd_build(args: argparse.Namespace) -> Path:
    """Write the report and return its path."""
    from asyncio_perf_lab.reports.build import build_report

    return build_report(args.results, args.out)


def cmd_readme_chart(args: argparse.Namespace) -> Path:
    """Write the README chart and return its path."""
    from asyncio_perf_lab.reports.build import build_readme_chart

    return build_readme_chart(args.results, args.out)


def cmd_trend(args: argparse.Namespace) -> Path:
    """Write the trend page and return its path."""
    from asyncio_perf_lab.reports.trend import build_trend

    return build_trend(args.paths, args.out, args.last)


COMMANDS: dict[str, Callable[[argparse.Namespace], Path]] = {
    "build": cmd_build,
    "readme-chart": cmd_readme_chart,
    "trend": cmd_trend,
}


def build_parser() -> Parser:
    """The parser of every command; each command's help ends with an example."""
    parser = Parser(
        prog="asyncio-lab",
        description="Build the HTML report of a run, the trend across runs, or the README chart.",
        epilog="Example: asyncio-lab report results/latest/results.json",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    build = sub.add_parser(
        "build",
        help="write the self-contained HTML report of a results file",
        description=(
            "Write one self-contained HTML file (inline SVG charts, nothing fetched) from a "
            "results file and print its path. "
            "Example: asyncio-lab report results/latest/results.json --out /tmp/report.html"
        ),
    )
    build.add_argument("results", metavar="RESULTS.json", help="a results file of the lab")
    build.add_argument(
        "--out", metavar="PATH", help="where to write (default: report.html beside RESULTS.json)"
    )
    chart = sub.add_parser(
        "readme-chart",
        help="write the headline bar chart as an SVG for the README",
        description=(
            "Write the sequential_vs_gather bar chart (or the first scenario's) as a standalone "
            "SVG and print its path. "
            "Example: asyncio-lab readme-chart results/latest/results.json"
        ),
    )
    chart.add_argument(
        "results", metavar="RESULTS.json", nargs="?", default=LATEST, help=f"default: {LATEST}"
    )
    chart.add_argument(
        "--out", metavar="PATH", help="where to write (default: docs/readme-chart.svg in the repo)"
    )
    trend = sub.add_parser(
        "trend",
        help="write a page of every variant's median across the runs kept (never a gate)",
        description=(
            "Write one self-contained HTML page charting each variant's median across runs, "
            "oldest first, and print its path. History only: it fails for bad input alone. "
            "Example: asyncio-lab trend results/ --last 20"
        ),
    )
    trend.add_argument(
        "paths", metavar="PATH", nargs="*", default=["results"],
        help="results files, or directories holding */results.json (default: results)",
    )  # fmt: skip
    trend.add_argument(
        "--last", type=int, default=DEFAULT_LAST, metavar="N",
        help=f"only the newest N runs (default {DEFAULT_LAST}, at least 2)",
    )  # fmt: skip
    trend.add_argument(
        "--out", metavar="PATH", help="where to write (default: trend.html in the first PATH)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, dispatch, print the written path; bad input is one line on stderr and exit 2."""
    args = build_parser().parse_args(argv)
    try:
        path = COMMANDS[args.command](args)
    except ResultsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
