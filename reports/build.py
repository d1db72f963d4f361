"""Results file in, report out: the two things the CLI and the benchmark runner ask of reports.

Everything is computed in memory first and written atomically last, so a bad results file or a
failing chart never leaves a half-written report (or destroys the previous one).
"""

from __future__ import annotations

import os
from pathlib import Path

from asyncio_perf_lab.reports.results_file import ResultsFileError, load_results, write_atomic

REPO_ROOT = Path(__file__).resolve().parent.parent
README_CHART = REPO_ROOT / "docs" / "readme-chart.svg"
HEADLINE_SCENARIO = "sequential_vs_gather"


class ReportError(ResultsFileError):
    """The report cannot be written where asked; the message is one line."""


def default_report_path(results_path: str | os.PathLike[str]) -> Path:
    """Where a report goes unless told otherwise: ``report.html`` beside its results file."""
    return Path(results_path).parent / "report.html"


def _write(out: Path, content: str, results_path: Path) -> Path:
    if out.exists() and results_path.exists() and out.resolve() == results_path.resolve():
        raise ReportError(f"{out}: refusing to overwrite the results file with a report")
    try:
        return write_atomic(out, content)
    except OSError as exc:
        raise ReportError(f"{out}: cannot write ({exc.strerror or exc})") from None


def build_report(
    results_path: str | os.PathLike[str], out_path: str | os.PathLike[str] | None = None
) -> Path:
    """Write the self-contained HTML report of a results file and return its path.

    Raises ``ResultsFileError`` (one-line message) for a missing, corrupt, truncated, foreign or
    newer-schema results file, and ``ReportError`` (a subclass) when the report cannot be written.
    """
    from asyncio_perf_lab.reports.html import render_report

    results_path = Path(results_path)
    results = load_results(results_path)
    out = Path(out_path) if out_path is not None else default_report_path(results_path)
    return _write(out, render_report(results, source=results_path.name), results_path)


def build_readme_chart(
    results_path: str | os.PathLike[str], out_path: str | os.PathLike[str] | None = None
) -> Path:
    """Write the headline bar chart (sequential_vs_gather, else the first scenario) as SVG."""
    from asyncio_perf_lab.reports import charts
    from asyncio_perf_lab.reports.headline import headline
    from asyncio_perf_lab.reports.html import timings_of

    results_path = Path(results_path)
    results = load_results(results_path)
    if not results["scenarios"]:
        raise ResultsFileError(f"{results_path}: the run has no scenarios to chart")
    scenario = next(
        (s for s in results["scenarios"] if s["name"] == HEADLINE_SCENARIO),
        results["scenarios"][0],
    )
    variants = scenario["variants"]
    timings = timings_of(variants, charts.role_colors([v["anti_pattern"] for v in variants]))
    title = f"{scenario['title']}\n{headline(variants)}"
    svg = charts.standalone_timing_svg(timings, title)
    out = Path(out_path) if out_path is not None else README_CHART
    return _write(out, svg, results_path)
