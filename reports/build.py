"""Results file in, report out: the report page and the README's headline chart.

Everything is computed in memory first and written atomically last, so a bad results file or a
failing chart never leaves a half-written report (or destroys the previous one).
"""

from __future__ import annotations

import os
from pathlib import Path

from asyncio_perf_lab.reports.errors import ResultsFileError
from asyncio_perf_lab.reports.headline import TEACHES_ALL, headline
from asyncio_perf_lab.reports.pages import write_page
from asyncio_perf_lab.reports.results_file import load_results

__all__ = ["HEADLINE_SCENARIO", "README_CHART", "build_readme_chart", "build_report"]

# Relative to where the command runs (make: the checkout); reports never assume a checkout.
README_CHART = Path("docs") / "readme-chart.svg"
HEADLINE_SCENARIO = "sequential_vs_gather"


def default_report_path(results_path: str | os.PathLike[str]) -> Path:
    """Where a report goes unless told otherwise: ``report.html`` beside its results file."""
    return Path(results_path).parent / "report.html"


def build_report(
    results_path: str | os.PathLike[str], out_path: str | os.PathLike[str] | None = None
) -> Path:
    """Write the self-contained HTML report of a results file and return its path.

    Raises ``ResultsFileError`` for a missing, corrupt, truncated, foreign or newer-schema
    results file, and ``PageWriteError`` when the report cannot be written (both one line).
    """
    results_path = Path(results_path)
    results = load_results(results_path)  # a bad file is told before matplotlib is loaded
    from asyncio_perf_lab.reports.report_view import render_report

    out = Path(out_path) if out_path is not None else default_report_path(results_path)
    return write_page(out, render_report(results, source=results_path.name), [results_path])


def build_readme_chart(
    results_path: str | os.PathLike[str], out_path: str | os.PathLike[str] | None = None
) -> Path:
    """Write the headline bar chart (sequential_vs_gather, else the first scenario) as SVG."""
    results_path = Path(results_path)
    results = load_results(results_path)
    if not results["scenarios"]:
        raise ResultsFileError(f"{results_path}: the run has no scenarios to chart")
    scenario = next(
        (s for s in results["scenarios"] if s["name"] == HEADLINE_SCENARIO),
        results["scenarios"][0],
    )
    from asyncio_perf_lab.reports.chart_style import role_colors
    from asyncio_perf_lab.reports.charts_bars import standalone_timing_svg
    from asyncio_perf_lab.reports.report_charts import timings_of

    variants = scenario["variants"]
    timings = timings_of(variants, role_colors([v["anti_pattern"] for v in variants]))
    claim = headline(variants, scenario.get("teaches", TEACHES_ALL))
    svg = standalone_timing_svg(timings, f"{scenario['title']}\n{claim}")
    out = Path(out_path) if out_path is not None else README_CHART
    return write_page(out, svg, [results_path])
