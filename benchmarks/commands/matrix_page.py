"""``asyncio-lab matrix-page``: the merged matrix page, rebuilt from files alone."""

from __future__ import annotations

import argparse
from typing import Any

from asyncio_perf_lab.benchmarks.commands.common import add_command, add_out


def add_parser(sub: Any) -> None:
    """Register ``matrix-page``."""
    parser = add_command(
        sub,
        "matrix-page",
        "rebuild the matrix page from matrix.json files, or merge results files into one",
        "Write the merged matrix page from a matrix run's matrix.json (several: one CI job per "
        "cell, merged with their A/B verdicts), or from results files (one column each), and "
        "print its path.",
        "asyncio-lab matrix-page results/matrix-20260101-120000/matrix.json",
    )
    parser.add_argument("files", nargs="+", metavar="FILE.json", help="matrix.json or results")
    add_out(parser, None, help="file to write (default: matrix.html beside the first file)")


def run(args: argparse.Namespace) -> int:
    """Write the page (from the manifest, or merging results files), print its path."""
    from asyncio_perf_lab.reports import build_matrix_page

    print(build_matrix_page(args.files, args.out))
    return 0
