"""The trend page: every variant's median across the runs kept under ``results/``, oldest first.

A view of history, never a gate: timings stored from separate runs on a shared machine differ
by 20-46% for identical code (measured for the gate, DESIGN section 7), so this page only shows
where a figure has been; ``asyncio-lab ab`` is what decides about a regression. It
therefore only ever fails for bad input: no readable run at all, or an output it cannot write.

Runs are found from results files or directories (``results/``: every ``*/results.json`` one
level down); the ``latest`` link and other duplicates count once. Unreadable files (corrupt,
truncated, foreign, newer schema) are listed on the page, not fatal. Usage:
``asyncio-lab trend [results/ ...] [--last N] [--out PATH]``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from asyncio_perf_lab.reports import chart_style
from asyncio_perf_lab.reports.errors import ResultsFileError, UsageError
from asyncio_perf_lab.reports.pages import generated_now, inline_segments, render_page, write_page
from asyncio_perf_lab.reports.results_file import load_results
from asyncio_perf_lab.reports.units import format_seconds, format_utc

__all__ = ["DEFAULT_LAST", "build_trend", "find_results", "load_runs", "trend_view"]

PAGE_NAME = "trend.html"
DEFAULT_LAST = 30  # runs per page: enough to see a drift, few enough to label each one
PLOT_IN, AXIS_IN, LEGEND_COLUMNS = 2.0, 1.35, 3  # the x axis holds rotated run labels
PROFILE_MARKERS = {"quick": "o", "default": "s", "rigorous": "D", "tiny": "v"}


@dataclass(frozen=True)
class Run:
    """One results file of the history, loaded."""

    path: Path
    results: Mapping[str, Any]

    @property
    def created(self) -> str:
        """The run's creation time as the file states it (ISO 8601), the history's sort key."""
        return str(self.results["run"]["created"])

    @property
    def when(self) -> str:
        """``2026-11-24 15:07 UTC`` (the file's own text if it is not an ISO date)."""
        return format_utc(self.created)

    @property
    def label(self) -> str:
        """``11-24 15:07 quick``: short enough to stand under a chart's x axis."""
        return f"{self.when[5:16]} {self.results['run']['profile']}"


@dataclass(frozen=True)
class Skipped:
    """A file of the history that could not be read, and why."""

    path: str
    why: str


def find_results(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Results files named, or found one level under the directories named; duplicates once."""
    found: dict[Path, Path] = {}
    for given in map(Path, paths):
        if given.is_dir():
            candidates = [given / "results.json"] if (given / "results.json").exists() else []
            candidates += sorted(given.glob("*/results.json"))
        elif given.exists():
            candidates = [given]
        else:
            raise ResultsFileError(f"{given}: no such results file or directory")
        for path in candidates:
            found.setdefault(path.resolve(), path)
    return list(found.values())


def load_runs(paths: Sequence[Path]) -> tuple[list[Run], list[Skipped]]:
    """Every readable run, oldest first, and every file that was not, with its reason."""
    runs, skipped = [], []
    for path in paths:
        try:
            runs.append(Run(path, load_results(path)))
        except ResultsFileError as exc:
            skipped.append(Skipped(str(path), str(exc).removeprefix(f"{path}: ")))
    runs.sort(key=lambda r: r.created)
    return runs, skipped


def series(runs: Sequence[Run], scenario: str) -> dict[str, list[Mapping[str, Any] | None]]:
    """variant name -> its record in each run (None where that run lacks it), first-seen order."""
    per_run = [
        {
            v["name"]: v
            for s in r.results["scenarios"]
            if s["name"] == scenario
            for v in s["variants"]
        }
        for r in runs
    ]
    names = list(dict.fromkeys(name for variants in per_run for name in variants))
    return {name: [variants.get(name) for variants in per_run] for name in names}


def trend_chart(runs: Sequence[Run], scenario: str, uid: str) -> str:
    """Each variant's median per run (p5-p95 as an error bar), one line per variant, log y."""
    lines = series(runs, scenario)
    legend_rows = math.ceil(len(lines) / LEGEND_COLUMNS)
    top_in = 0.12 + 0.22 * legend_rows
    firsts = [next(r for r in records if r is not None) for records in lines.values()]
    colors = chart_style.role_colors([first["anti_pattern"] for first in firsts])
    with chart_style.style():
        fig = Figure(figsize=(chart_style.WIDTH_IN, top_in + PLOT_IN + AXIS_IN))
        ax = fig.add_axes(
            chart_style.axes_rect(fig, 0.85, AXIS_IN, chart_style.WIDTH_IN - 1.15, PLOT_IN)
        )
        handles, everything = [], []
        for records, first, color in zip(lines.values(), firsts, colors, strict=True):
            dash = "--" if first["anti_pattern"] else "-"
            points = [(x, r["stats"]) for x, r in enumerate(records) if r is not None]
            xs = [x for x, _ in points]
            medians = [s["median"] for _, s in points]
            low = [s["median"] - s["p5"] for _, s in points]
            high = [s["p95"] - s["median"] for _, s in points]
            ax.errorbar(
                xs, medians, yerr=[low, high], color=color, linestyle=dash, linewidth=1.4,
                elinewidth=0.8, capsize=2, marker=None, zorder=3,
            )  # fmt: skip
            everything += [s["p5"] for _, s in points] + [s["p95"] for _, s in points]
            for x, median in zip(xs, medians, strict=True):
                marker = PROFILE_MARKERS.get(runs[x].results["run"]["profile"], "o")
                ax.plot([x], [median], marker=marker, color=color, markersize=4, zorder=4)
            handles.append(
                Line2D(
                    [],
                    [],
                    color=color,
                    linestyle=dash,
                    label=chart_style.plain_text(first["label"]),
                )
            )
        ax.set_yscale("log")
        low, high = min(everything), max(everything)
        ax.set_ylim(low / 1.3, high * 1.3)
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=_tick_steps(high * 1.3 / (low / 1.3))))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: format_seconds(y)))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel("median per call (log)")
        ax.set_xticks(range(len(runs)), [chart_style.plain_text(r.label) for r in runs])
        ax.tick_params(axis="x", labelrotation=60, labelsize=7)
        ax.set_xlim(-0.5, len(runs) - 0.5)
        ax.grid(axis="y", color=chart_style.GRID_COLOR, which="both")
        fig.legend(
            handles=handles, loc="upper left", ncols=LEGEND_COLUMNS, frameon=False,
            fontsize=8, bbox_to_anchor=(0.85 / chart_style.WIDTH_IN, 1.0),
        )  # fmt: skip
        return chart_style.chart_svg(fig, uid, f"{scenario}: medians per run")


def _tick_steps(span: float) -> tuple[float, ...]:
    """Labelled steps per decade: more of them when the axis spans less, so some always show."""
    if span < 10:
        return (1.0, 2.0, 3.0, 5.0, 7.0)
    if span < 300:
        return (1.0, 2.0, 5.0)
    return (1.0,)


@dataclass(frozen=True)
class Row:
    """One variant's median in each run the table shows."""

    label: str
    anti_pattern: bool
    medians: list[str]  # one per run shown in the table, a dash where the run lacks it


@dataclass(frozen=True)
class ScenarioBlock:
    """One scenario section: its chart and its table of medians."""

    anchor: str
    title: str
    question: list[tuple[str, str]]
    chart: str
    rows: list[Row]


@dataclass(frozen=True)
class TrendView:
    """The whole page."""

    runs: list[Run]
    table_runs: list[Run]
    skipped: list[Skipped]
    scenarios: list[ScenarioBlock]
    generated: str


TABLE_RUNS = 8  # the table shows the newest few runs; the chart shows them all


def trend_view(runs: Sequence[Run], skipped: Sequence[Skipped]) -> TrendView:
    """Everything the page shows, formatted."""
    titles: dict[str, Mapping[str, Any]] = {}
    for run in runs:
        for scenario in run.results["scenarios"]:
            titles.setdefault(scenario["name"], scenario)
    table_runs = list(runs[-TABLE_RUNS:])
    blocks = []
    for index, (name, scenario) in enumerate(titles.items(), start=1):
        anchor = f"t{index}-{name}"
        lines = series(table_runs, name)
        rows = []
        for records in lines.values():
            first = next(r for r in records if r is not None)
            medians = [format_seconds(r["stats"]["median"]) if r else "–" for r in records]
            rows.append(Row(first["label"], first["anti_pattern"], medians))
        blocks.append(
            ScenarioBlock(
                anchor=anchor,
                title=scenario["title"],
                question=inline_segments(scenario["question"]),
                chart=trend_chart(runs, name, anchor),
                rows=rows,
            )
        )
    return TrendView(
        runs=list(runs),
        table_runs=table_runs,
        skipped=list(skipped),
        scenarios=blocks,
        generated=generated_now(),
    )


def build_trend(
    paths: Sequence[str | os.PathLike[str]],
    out_path: str | os.PathLike[str] | None = None,
    last: int = DEFAULT_LAST,
) -> Path:
    """Write the trend page of the newest ``last`` runs found under ``paths``; return its path."""
    if last < 2:
        raise UsageError(f"--last {last}: a trend needs at least 2 runs (allowed: >= 2)")
    runs, skipped = load_runs(find_results(paths))
    if not runs:
        named = ", ".join(map(str, paths))
        raise ResultsFileError(f"{named}: no readable results file found (skipped {len(skipped)})")
    page = render_page("trend.html.j2", t=trend_view(runs[-last:], skipped))
    first = Path(paths[0])
    default = first / PAGE_NAME if first.is_dir() else first.with_name(PAGE_NAME)
    out = Path(out_path) if out_path is not None else default
    return write_page(out, page, [run.path for run in runs])
