"""``asyncio-lab matrix-page``: the merged matrix page, rebuilt from files alone."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.commands.common import add_command, add_out
from asyncio_perf_lab.reports.errors import UsageError


def add_parser(sub: Any) -> None:
    """Register ``matrix-page``."""
    parser = add_command(
        sub,
        "matrix-page",
        "rebuild the matrix page from matrix.json, or merge results files into one",
        "Write the merged matrix page from a matrix run's matrix.json, or from results files "
        "(one column each), and print its path.",
        "asyncio-lab matrix-page results/matrix-20260101-120000/matrix.json",
    )
    parser.add_argument("files", nargs="+", metavar="FILE.json", help="matrix.json or results")
    add_out(parser, None, help="file to write (default: matrix.html beside the first file)")


def run(args: argparse.Namespace) -> int:
    """Write the page (from the manifest, or merging results files), print its path."""
    from asyncio_perf_lab.reports import matrix
    from asyncio_perf_lab.reports.results_file import write_atomic

    first = Path(args.files[0])
    if len(args.files) == 1 and _kind(first) == matrix.MANIFEST_KIND:
        print(matrix.build_matrix_page(first, args.out))
        return 0
    page = matrix.render_matrix(None, matrix.cells_from_results(args.files))
    out = Path(args.out) if args.out else first.with_name(matrix.PAGE_NAME)
    try:
        print(write_atomic(out, page))
    except OSError as exc:
        raise UsageError(f"cannot write --out {out}: {exc.strerror or exc}") from None
    return 0


def _kind(path: Path) -> str | None:
    """The ``kind`` a JSON file declares (None when it is unreadable or declares none)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("kind") if isinstance(data, dict) else None
