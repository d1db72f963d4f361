"""``asyncio-lab compare``: the command side of the regression gate (table, page, exit code).

The rules live in ``reports.gate`` (pure: verdicts, outcomes, exit codes); this module only
parses the gate's flags, prints the verdicts as a table and writes the page and the JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from asyncio_perf_lab.reports.errors import UsageError
from asyncio_perf_lab.reports.gate import Comparison, GateSettings, compare_files
from asyncio_perf_lab.reports.stats import median

__all__ = [
    "add_gate_arguments",
    "add_parser",
    "cmd_compare",
    "print_comparison",
    "table_console",
    "write_html",
]


def parse_fraction(text: str) -> float:
    """``10%`` or ``0.1`` -> 0.1 (argparse type of --floor)."""
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise UsageError(f"not a fraction or percentage: {text!r} (e.g. 10% or 0.1)") from None


def format_p(p: float | None) -> str:
    """A p-value for the table: 3 significant digits, '-' when not computed."""
    return "-" if p is None else f"{p:.2g}"


OUTCOME_STYLE = {
    "regression": "bold red",
    "inconclusive": "yellow",
    "improvement": "green",
    "pass": "green",
    "new": "cyan",
    "removed": "dim",
}


def print_comparison(comparison: Comparison, console: Any) -> None:
    """The text table (Rich) of a comparison, its notes and the one-line summary."""
    from rich.table import Table

    from asyncio_perf_lab.reports.units import format_seconds

    table = Table(
        title=(
            f"{comparison.head_name} vs {comparison.base_name}  "
            f"(one-sided Mann-Whitney U, alpha {comparison.settings.alpha:g}, "
            f"floor {comparison.settings.floor:.0%})"
        )
    )
    for column in ("variant", "base median", "head median", "change", "p slower", "outcome"):
        justify = "left" if column in ("variant", "outcome") else "right"
        table.add_column(column, justify=justify, no_wrap=True)
    table.add_column("why", overflow="fold", min_width=30)
    for item in comparison.items:
        medians = [format_seconds(median(v)) if v else "-" for v in item.sides]
        style = OUTCOME_STYLE[item.outcome]
        table.add_row(
            item.key,
            f"{medians[0]} (n={len(item.base)})" if item.base else "-",
            f"{medians[1]} (n={len(item.head)})" if item.head else "-",
            f"{item.ratio - 1:+.1%}" if item.ratio is not None else "-",
            format_p(item.p_slower),
            f"[{style}]{item.outcome}[/]",
            item.reason,
        )
    console.print(table)
    for note in comparison.notes:
        console.print(f"note: {note}", highlight=False)
    console.print(comparison.summary(), highlight=False)


def table_console() -> Any:
    """A Rich console for stdout; piped into a CI log it is at least 160 columns wide, not 80."""
    import os
    import sys

    from rich.console import Console

    if sys.stdout.isatty():
        return Console()
    columns = os.environ.get("COLUMNS", "")
    return Console(width=max(160, int(columns) if columns.isdigit() else 0))


def write_html(comparison: Comparison, path: Path) -> Path:
    """Write the comparison page (``reports.compare_page``); an unwritable path is bad input."""
    from asyncio_perf_lab.reports.compare_page import build_compare_page

    return build_compare_page(comparison.to_dict(), path)


def add_gate_arguments(parser: Any) -> None:
    """--floor and --alpha, shared by ``compare`` and ``ab``."""
    parser.add_argument(
        "--floor",
        type=_fraction,
        default=GateSettings.floor,
        metavar="PCT",
        help="smallest median change that can fail (default 10%%)",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=GateSettings.alpha,
        help="one-sided significance level (default 0.01)",
    )


def _fraction(text: str) -> float:
    import argparse

    try:
        return parse_fraction(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(sub: Any) -> None:
    """Register ``compare`` on the CLI's subparsers."""
    compare = sub.add_parser(
        "compare",
        help="compare two results files variant by variant",
        description=(
            "Judge HEAD against BASE per variant (matched by scenario:variant): one-sided "
            "Mann-Whitney U on the raw values plus an effect floor on the median. "
            "Exit 0 pass, 1 regression, 2 bad input, 3 inconclusive. Files from two separate "
            "runs carry the machine's drift between them; `ab` avoids it. "
            "Example: asyncio-lab compare results/a/results.json "
            "results/b/results.json --html compare.html"
        ),
    )
    compare.add_argument("base", metavar="BASE.json")
    compare.add_argument("head", metavar="HEAD.json")
    add_gate_arguments(compare)
    compare.add_argument("--html", metavar="FILE", help="also write the comparison page")
    compare.add_argument("--json", metavar="FILE", help="also write the comparison as JSON")


def cmd_compare(args: Any) -> int:
    """``asyncio-lab compare``: print the table, write the page, exit 0/1/2/3."""
    from rich.console import Console

    from asyncio_perf_lab.reports.results_file import write_json_atomic

    settings = GateSettings(alpha=args.alpha, floor=args.floor)
    comparison = compare_files(Path(args.base), Path(args.head), settings)
    print_comparison(comparison, table_console())
    err = Console(stderr=True)
    if args.html:
        err.print(f"wrote {write_html(comparison, Path(args.html))}", highlight=False)
    if args.json:
        try:
            path = write_json_atomic(Path(args.json), comparison.to_dict())
        except OSError as exc:
            raise UsageError(f"cannot write --json {args.json}: {exc.strerror or exc}") from None
        err.print(f"wrote {path}", highlight=False)
    return comparison.exit_code
