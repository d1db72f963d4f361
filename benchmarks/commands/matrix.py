"""``asyncio-lab matrix``: the quick run under several Pythons and event loops, one page."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.commands.common import (
    add_command,
    add_out,
    add_profile,
    add_routes,
    add_scenarios,
    add_targets,
    argument_type,
    console,
)
from asyncio_perf_lab.benchmarks.loops import LOOPS

MIN_PYTHON = (3, 11)
DEFAULT_PYTHONS = ("3.11", "3.12", "3.13")


def python_versions(text: str) -> list[str]:
    """``3.11,3.12`` -> ["3.11", "3.12"]; anything else, or below 3.11, is refused."""
    versions = [part.strip() for part in text.split(",") if part.strip()]
    if not versions:
        raise ValueError("empty; e.g. --pythons 3.11,3.12,3.13")
    for version in versions:
        match = re.fullmatch(r"3\.(\d{1,2})", version)
        if match is None:
            raise ValueError(f"{version!r} is not a version like 3.12")
        if (3, int(match[1])) < MIN_PYTHON:
            raise ValueError(f"{version} is below 3.11, which the lab needs")
    return list(dict.fromkeys(versions))


def loop_names(text: str) -> list[str]:
    """``asyncio,uvloop`` -> the list (a loop missing here is a cell reported unavailable)."""
    loops = [part.strip() for part in text.split(",") if part.strip()]
    for loop in loops:
        if loop not in LOOPS:
            raise ValueError(f"unknown loop {loop!r}; allowed: {', '.join(LOOPS)}")
    if not loops:
        raise ValueError(f"empty; allowed: {', '.join(LOOPS)}")
    return list(dict.fromkeys(loops))


def cell_name(text: str) -> str:
    """``3.12-uvloop``: a Python version and a loop, as the matrix names its cells."""
    version, _, loop = text.partition("-")
    python_versions(version)
    loop_names(loop)
    return text


def add_parser(sub: Any) -> None:
    """Register ``matrix``."""
    parser = add_command(
        sub,
        "matrix",
        "the quick run under every Python and loop found, merged in one page",
        "Run the quick profile under each Python (own venv in .venv-matrix/, made on demand) "
        "and event loop, one after the other, A/B each cell against the reference cell "
        "interleaved in one job (as ab does), and merge everything into "
        "results/matrix-<id>/matrix.html. Missing interpreters are listed, not fatal.",
        "asyncio-lab matrix --pythons 3.11,3.12 --loops asyncio,uvloop sequential_vs_gather",
    )
    add_targets(parser)
    add_scenarios(parser)
    add_routes(parser)
    add_profile(parser, default="quick")
    parser.add_argument(
        "--pythons",
        type=argument_type(python_versions),
        default=list(DEFAULT_PYTHONS),
        metavar="X.Y,...",
        help=f"default: {','.join(DEFAULT_PYTHONS)}",
    )
    parser.add_argument(
        "--loops",
        type=argument_type(loop_names),
        default=list(LOOPS),
        metavar="LOOP,...",
        help=f"default: {','.join(LOOPS)}",
    )
    parser.add_argument(
        "--reference",
        type=argument_type(cell_name),
        metavar="X.Y-LOOP",
        help="the cell every other is A/B'd against (default: the first that ran); one "
        "outside --pythons/--loops is prepared, not run (a CI job that runs one cell)",
    )
    parser.add_argument(
        "--no-judge", action="store_true", help="figures only: no A/B against the reference"
    )
    add_out(parser)


def run(args: argparse.Namespace) -> int:
    """Run the matrix, build matrix.html, print the cells; 1 if a cell failed or none ran."""
    import time

    from rich.table import Table

    from asyncio_perf_lab.benchmarks.matrix import MatrixConfig, run_matrix
    from asyncio_perf_lab.benchmarks.selection import select
    from asyncio_perf_lab.reports.errors import UsageError
    from asyncio_perf_lab.reports.matrix_page import build_matrix_page

    select(args.targets, args.scenarios)  # an unknown scenario is bad input before any run
    config = MatrixConfig(
        pythons=args.pythons,
        loops=args.loops,
        profile=args.profile,
        targets=list(args.targets),
        out_dir=Path(args.out),
        scenarios=args.scenarios,
        routes=args.routes,
        reference=args.reference,
        judge=not args.no_judge,
    )
    err = console()
    started = time.perf_counter()
    manifest, cells = run_matrix(config, say=lambda line: err.print(line, highlight=False))
    table = Table(title=f"matrix {manifest.parent.name} ({time.perf_counter() - started:.0f} s)")
    for column in ("python", "loop", "status", "time", "detail", "verdict"):
        table.add_column(column)
    for cell in cells:
        style = {"ok": "green", "failed": "red", "partial": "red"}.get(cell.status, "yellow")
        wall = f"{cell.wall_s:.0f} s" if cell.wall_s is not None else "-"
        table.add_row(
            cell.python, cell.loop, f"[{style}]{cell.status}[/]", wall, cell.detail, cell.verdict
        )
    err.print(table)
    try:
        page = build_matrix_page(manifest)
    except UsageError as exc:  # a results file unreadable, or the page unwritable
        err.print(f"[red]matrix page not written:[/] {exc}", highlight=False)
        return 1
    err.print(f"matrix page: {page}", highlight=False)
    print(page)
    broken = any(cell.status in ("failed", "partial") for cell in cells)
    ran = any(cell.status in ("ok", "partial") for cell in cells)
    return 1 if broken or not ran else 0
