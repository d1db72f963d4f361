"""``asyncio-lab compare``: judge two results files variant by variant; exit 0/1/2/3."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.commands.common import add_command, console


def add_parser(sub: Any) -> None:
    """Register ``compare``."""
    from asyncio_perf_lab.benchmarks.compare import add_gate_arguments

    parser = add_command(
        sub,
        "compare",
        "compare two results files variant by variant",
        "Judge HEAD against BASE per variant (matched by scenario:variant): one-sided "
        "Mann-Whitney U on the raw values plus an effect floor on the median. Exit 0 pass, "
        "1 regression, 2 bad input, 3 inconclusive. Files from two separate runs carry the "
        "machine's drift between them; `ab` avoids it.",
        "asyncio-lab compare results/a/results.json results/b/results.json --html compare.html",
    )
    parser.add_argument("base", metavar="BASE.json")
    parser.add_argument("head", metavar="HEAD.json")
    add_gate_arguments(parser)
    parser.add_argument("--html", metavar="FILE", help="also write the comparison page")
    parser.add_argument("--json", metavar="FILE", help="also write the comparison as JSON")


def run(args: argparse.Namespace) -> int:
    """Print the table, write the page and JSON if asked; the gate's exit code."""
    from asyncio_perf_lab.benchmarks.compare import print_comparison, write_html
    from asyncio_perf_lab.reports.errors import UsageError
    from asyncio_perf_lab.reports.gate import GateSettings, compare_files
    from asyncio_perf_lab.reports.results_file import write_json_atomic

    settings = GateSettings(alpha=args.alpha, floor=args.floor)
    comparison = compare_files(Path(args.base), Path(args.head), settings)
    print_comparison(comparison, console(stderr=False))
    err = console()
    if args.html:
        err.print(f"wrote {write_html(comparison, Path(args.html))}", highlight=False)
    if args.json:
        try:
            path = write_json_atomic(Path(args.json), comparison.to_dict())
        except OSError as exc:
            raise UsageError(f"cannot write --json {args.json}: {exc.strerror or exc}") from None
        err.print(f"wrote {path}", highlight=False)
    return comparison.exit_code
