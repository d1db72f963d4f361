"""``asyncio-lab compare``: judge two results files variant by variant; exit 0/1/2/3.

The rules are ``reports.gate`` (pure: verdicts, outcomes, exit codes) and the page is
``reports.compare_page``; this module prints the verdicts as a table (``ab`` prints its own
with ``print_comparison`` too) and writes what was asked for.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.commands.common import add_command, add_gate_flags, console

__all__ = ["add_parser", "print_comparison", "run"]

OUTCOME_STYLE = {
    "regression": "bold red",
    "inconclusive": "yellow",
    "improvement": "green",
    "pass": "green",
    "new": "cyan",
    "removed": "dim",
}


def add_parser(sub: Any) -> None:
    """Register ``compare``."""
    parser = add_command(
        sub,
        "compare",
        "compare two results files variant by variant",
        "Judge HEAD against BASE per variant (matched by scenario:variant): one-sided "
        "Mann-Whitney U on one median per worker process, plus an effect floor on the median "
        "(the variant's A/A spread, at least --floor). A run with fewer than 5 processes a "
        "variant (quick: 1, default: 2) can never reach alpha 0.01: compare says so first and "
        "names the profile that can (rigorous). Exit 0 pass, "
        "1 regression, 2 bad input, 3 inconclusive. Files from two separate runs carry the "
        "machine's drift between them; `ab` avoids it.",
        "asyncio-lab compare results/a/results.json results/b/results.json --html compare.html",
    )
    parser.add_argument("base", metavar="BASE.json")
    parser.add_argument("head", metavar="HEAD.json")
    add_gate_flags(parser)
    parser.add_argument("--html", metavar="FILE", help="also write the comparison page")
    parser.add_argument("--json", metavar="FILE", help="also write the comparison as JSON")


def run(args: argparse.Namespace) -> int:
    """Write the page and JSON if asked, then print the table; the gate's exit code.

    Written first, so a page that cannot be written is exit 2 before any verdict is printed:
    what is printed and the exit code always agree. A file compared with itself (or a copy of
    the same run) passes: nothing can have changed.
    """
    from asyncio_perf_lab.reports.compare_page import build_compare_page
    from asyncio_perf_lab.reports.errors import UsageError
    from asyncio_perf_lab.reports.gate import GateSettings, compare_results, judgeable
    from asyncio_perf_lab.reports.results_file import load_results, write_json_atomic

    settings = GateSettings(alpha=args.alpha, floor=args.floor)
    base_path, head_path = Path(args.base), Path(args.head)
    base, head = load_results(base_path), load_results(head_path)
    out, err = console(stderr=False), console()
    if same := sameness(base_path, head_path, base, head):
        out.print(f"{same}: nothing can have changed -> pass (exit 0)", highlight=False)
        if args.html or args.json:
            err.print("nothing compared, so no --html or --json written", highlight=False)
        return 0
    for side, results in (("BASE", base), ("HEAD", head)):
        # said before judging: which profile could give a verdict, and what a stopped run lacks
        if why := judgeable(results, settings):
            err.print(f"note: {why}", highlight=False, soft_wrap=True)
        if stopped := results["run"].get("incomplete"):
            err.print(
                f"note: {side} is an incomplete run ({stopped['reason']}); never measured: "
                f"{', '.join(stopped['missing']) or 'none'}",
                highlight=False,
                soft_wrap=True,
            )
    comparison = compare_results(base, head, settings, args.base, args.head)
    wrote = []
    if args.html:
        wrote.append(build_compare_page(comparison.to_dict(), Path(args.html)))
    if args.json:
        try:
            wrote.append(write_json_atomic(Path(args.json), comparison.to_dict()))
        except OSError as exc:
            raise UsageError(f"cannot write --json {args.json}: {exc.strerror or exc}") from None
    print_comparison(comparison, out)
    for path in wrote:
        err.print(f"wrote {path}", highlight=False)
    return comparison.exit_code


def sameness(
    base_path: Path, head_path: Path, base: dict[str, Any], head: dict[str, Any]
) -> str | None:
    """Why BASE and HEAD are one and the same (the same file, or the same run copied); None
    when they are two runs to judge."""
    try:
        if base_path.samefile(head_path):
            return f"BASE and HEAD are the same file ({head_path})"
    except OSError:
        pass
    if base == head:
        return f"BASE and HEAD hold the same run ({head['run']['id']}, identical contents)"
    return None


def print_comparison(comparison: Any, out: Any) -> None:
    """The text table (Rich) of a ``reports.gate.Comparison``, its notes and its summary."""
    from rich.table import Table

    from asyncio_perf_lab.reports.stats import median
    from asyncio_perf_lab.reports.units import format_seconds

    settings = comparison.settings
    table = Table(
        title=(
            f"{comparison.head_name} vs {comparison.base_name}  (one-sided Mann-Whitney U, "
            f"alpha {settings.alpha:g}, floor: own A/A spread, at least {settings.floor:.0%})"
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
            "-" if item.p_slower is None else f"{item.p_slower:.2g}",
            f"[{style}]{item.outcome}[/]",
            item.reason,
        )
    out.print(table)
    for note in comparison.notes:
        out.print(f"note: {note}", highlight=False)
    out.print(comparison.summary(), highlight=False)
