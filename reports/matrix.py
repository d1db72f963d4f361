"""The matrix page: the same run under several Pythons and event loops, side by side.

Built from files alone: ``matrix.json`` (written by ``asyncio-lab matrix``: which cells
were asked for and what became of them, missing interpreters included) and each cell's
results.json, read through ``reports.results_file``. Or, without a manifest, from any results
files given (each one a cell). Per scenario it shows every variant's median relative to the
anti-pattern's median *of the same run* (a ratio that travels between machines and
interpreters) and the median itself, one column per cell; one chart compares the cells with each
other, and one per scenario shows its ratios.

Usage: ``python -m asyncio_perf_lab.reports.matrix results/matrix-<id>/matrix.json`` or
``python -m asyncio_perf_lab.reports.matrix a/results.json b/results.json --out matrix.html``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from asyncio_perf_lab.reports import charts, headline
from asyncio_perf_lab.reports.html import environment, inline_segments
from asyncio_perf_lab.reports.results_file import ResultsFileError, load_results, write_atomic
from asyncio_perf_lab.reports.units import format_seconds

MANIFEST_KIND = "asyncio-perf-lab/matrix"
MANIFEST_SCHEMA = 1
PAGE_NAME = "matrix.html"
CELL_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
LOOP_MARKERS = {"asyncio": "o", "uvloop": "^"}
NOT_RUN = ("partial", "missing", "unavailable", "failed")  # listed at the top of the page


@dataclass(frozen=True)
class MatrixCell:
    """One (Python, loop) cell: its outcome and, when it ran, its results document."""

    python: str
    loop: str
    status: str  # ok | partial (some variants left out) | missing | unavailable | failed
    detail: str = ""
    results: Mapping[str, Any] | None = None
    report_href: str | None = None  # the run's own report.html, relative to the matrix page
    wall_s: float | None = None

    @property
    def name(self) -> str:
        return f"{self.python}-{self.loop}"

    @property
    def label(self) -> str:
        """``Python 3.12.1 · uvloop 0.21.0`` from the results file, else the requested names."""
        if self.results is None:
            return f"Python {self.python} · {self.loop}"
        env = self.results["run"]["env"]
        loop = self.results["run"]["loop"]
        version = f" {env['loop_version']}" if env.get("loop_version") else ""
        return f"{env['implementation']} {env['python']} · {loop}{version}"


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsFileError(f"{path}: no such matrix file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsFileError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(data, dict) or data.get("kind") != MANIFEST_KIND:
        raise ResultsFileError(f"{path}: not a matrix file (no kind {MANIFEST_KIND!r})")
    if not isinstance(data.get("schema"), int) or data["schema"] > MANIFEST_SCHEMA:
        raise ResultsFileError(f"{path}: matrix schema {data.get('schema')!r} is not readable")
    if not isinstance(data.get("cells"), list):
        raise ResultsFileError(f"{path}: no list of cells")
    return data


def load_matrix(manifest_path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[MatrixCell]]:
    """The manifest and its cells, each ok cell's results file loaded (a bad one: failed)."""
    manifest_path = Path(manifest_path)
    manifest = _read_manifest(manifest_path)
    base = manifest_path.parent
    cells = []
    for entry in manifest["cells"]:
        status, detail, results, href = entry["status"], entry.get("detail") or "", None, None
        if status in ("ok", "partial"):
            try:
                results = load_results(base / entry["results"])
            except (ResultsFileError, KeyError, TypeError) as exc:
                status, detail = "failed", f"results unreadable: {exc}"
            else:
                report = (base / entry["results"]).parent / "report.html"
                href = str(report.relative_to(base)) if report.exists() else None
        cells.append(
            MatrixCell(
                python=str(entry["python"]),
                loop=str(entry["loop"]),
                status=status,
                detail=detail,
                results=results,
                report_href=href,
                wall_s=entry.get("wall_s"),
            )
        )
    return manifest, cells


def cells_from_results(paths: Sequence[str | os.PathLike[str]]) -> list[MatrixCell]:
    """A cell per results file (Python and loop read from the file itself)."""
    cells = []
    for path in paths:
        results = load_results(path)
        run = results["run"]
        version = ".".join(run["env"]["python"].split(".")[:2])
        cells.append(MatrixCell(version, run["loop"], "ok", results=results, wall_s=run["wall_s"]))
    return cells


# --- the numbers --------------------------------------------------------------------------------


def relative_to_anti(scenario: Mapping[str, Any]) -> dict[str, tuple[float, float | None]]:
    """variant name -> (median, median / the run's anti-pattern median, None without one)."""
    variants = scenario["variants"]
    anti = headline.baseline(variants)
    anti_median = headline.median(anti) if anti is not None else 0.0
    return {
        v["name"]: (headline.median(v), headline.median(v) / anti_median if anti_median else None)
        for v in variants
    }


def format_relative(ratio: float | None) -> str:
    """A ratio to three significant digits and a times sign (0.125x); a dash for none."""
    if ratio is None or not math.isfinite(ratio):
        return "–"
    return f"{ratio:.3g}×"


@dataclass(frozen=True)
class Entry:
    """One variant in one cell: the relative figure and the median under it."""

    relative: str
    median: str
    anti_pattern: bool


@dataclass(frozen=True)
class Row:
    name: str
    label: str
    anti_pattern: bool
    entries: list[Entry | None]  # one per ran cell, None where the cell lacks the variant


@dataclass(frozen=True)
class ScenarioBlock:
    anchor: str
    name: str
    title: str
    lesson: list[tuple[str, str]]
    rows: list[Row]
    chart: str


@dataclass(frozen=True)
class CellView:
    name: str
    label: str
    status: str
    detail: str
    wall: str
    report_href: str | None
    color: str


@dataclass(frozen=True)
class MatrixView:
    title: str
    subtitle: str
    cells: list[CellView]
    ran: list[CellView]
    not_run: list[CellView]
    overview: str
    overview_caption: str
    scenarios: list[ScenarioBlock]
    generated: str


def _scenarios_in_order(cells: Sequence[MatrixCell]) -> list[Mapping[str, Any]]:
    """One scenario record per name (the first cell's copy for titles), in first-seen order."""
    seen: dict[str, Mapping[str, Any]] = {}
    for cell in cells:
        for scenario in cell.results["scenarios"] if cell.results else []:
            seen.setdefault(scenario["name"], scenario)
    return list(seen.values())


def _variants_in_order(cells: Sequence[MatrixCell], name: str) -> list[Mapping[str, Any]]:
    seen: dict[str, Mapping[str, Any]] = {}
    for cell in cells:
        for scenario in cell.results["scenarios"] if cell.results else []:
            if scenario["name"] == name:
                for variant in scenario["variants"]:
                    seen.setdefault(variant["name"], variant)
    return list(seen.values())


def _scenario_of(cell: MatrixCell, name: str) -> Mapping[str, Any] | None:
    assert cell.results is not None
    return next((s for s in cell.results["scenarios"] if s["name"] == name), None)


def against_baseline(
    cells: Sequence[MatrixCell],
) -> list[tuple[MatrixCell, list[float]]]:
    """For each ran cell, every shared variant's median / the first ran cell's median."""
    ran = [c for c in cells if c.results is not None]
    if not ran:
        return []
    medians = [
        {
            (s["name"], v["name"]): headline.median(v)
            for s in c.results["scenarios"]
            for v in s["variants"]
        }
        for c in ran
    ]
    base = medians[0]
    return [
        (cell, [m[k] / base[k] for k in m if k in base and base[k] > 0])
        for cell, m in zip(ran, medians, strict=True)
    ]


def geometric_mean(values: Sequence[float]) -> float | None:
    """The geometric mean (the fair average of ratios), None for no values."""
    positive = [v for v in values if v > 0]
    if not positive:
        return None
    return math.exp(sum(math.log(v) for v in positive) / len(positive))


# --- charts -------------------------------------------------------------------------------------


def _log_axis(ax: Any, values: Sequence[float]) -> None:
    low, high = min([*values, 1.0]), max([*values, 1.0])
    ax.set_xscale("log")
    ax.set_xlim(low / 1.6, high * 1.6)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}×"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.axvline(1.0, color="#888888", linewidth=1, linestyle=":", zorder=1)
    ax.grid(axis="x", color=charts.GRID_COLOR, which="both")


def overview_chart(cells: Sequence[MatrixCell], colors: Mapping[str, str], uid: str) -> str:
    """Each ran cell's medians relative to the first cell's, one dot per variant, geomean bar."""
    pairs = against_baseline(cells)
    with charts._style():
        n = max(len(pairs), 1)
        labels = [charts.plain_text(cell.label) for cell, _ in pairs]
        left = charts.text_width_in(labels, 9) + 0.25
        fig = Figure(figsize=(charts.WIDTH_IN, 0.55 * n + 1.3))
        ax = fig.add_axes(charts._frac(fig, left, 0.75, charts.WIDTH_IN - left - 0.3, 0.55 * n))
        everything = [r for _, ratios in pairs for r in ratios]
        for y, (cell, ratios) in enumerate(reversed(pairs)):
            color = colors[cell.name]
            offsets = [((i * 0.618034) % 1.0 - 0.5) * 0.36 for i in range(len(ratios))]
            ax.scatter(
                ratios, [y + o for o in offsets], s=22, color=color, alpha=0.6, linewidths=0,
                marker=LOOP_MARKERS.get(cell.loop, "o"), zorder=3,
            )  # fmt: skip
            mean = geometric_mean(ratios)
            if mean is not None:
                ax.vlines(mean, y - 0.38, y + 0.38, color="#111111", linewidth=2.2, zorder=4)
                ax.text(
                    mean, y + 0.42, f"{mean:.2f}×", ha="center", va="bottom", fontsize=8,
                    color="#111111", zorder=5,
                )  # fmt: skip
        ax.set_yticks(range(len(pairs)), list(reversed(labels)))
        ax.set_ylim(-0.6, n - 0.2)
        if everything:
            _log_axis(ax, everything)
        base = pairs[0][0].label if pairs else "the first cell"
        ax.set_xlabel(
            charts.plain_text(
                f"median relative to {base} (each dot a variant; bar: geometric mean; "
                "left is faster)"
            )
        )
        return charts.inline_svg(charts.render_svg(fig, uid), uid, "Cells compared")


def scenario_chart(
    name: str, variants: Sequence[Mapping[str, Any]], cells: Sequence[MatrixCell],
    colors: Mapping[str, str], uid: str,
) -> str:  # fmt: skip
    """Each variant's median relative to its run's anti-pattern, one marker per cell."""
    with charts._style():
        n = max(len(variants), 1)
        labels = [charts.plain_text(v["label"]) for v in variants]
        left = charts.text_width_in(labels, 9) + 0.25
        fig = Figure(figsize=(charts.WIDTH_IN, 0.42 * n + 1.25))
        ax = fig.add_axes(charts._frac(fig, left, 0.85, charts.WIDTH_IN - left - 0.3, 0.42 * n))
        everything, handles = [], []
        ran = [c for c in cells if c.results is not None]
        for k, cell in enumerate(ran):
            scenario = _scenario_of(cell, name)
            if scenario is None:
                continue
            figures = relative_to_anti(scenario)
            shift = (k - (len(ran) - 1) / 2) * min(0.5 / max(len(ran), 1), 0.12)
            xs, ys = [], []
            for y, variant in enumerate(reversed(variants)):
                ratio = figures.get(variant["name"], (0.0, None))[1]
                if ratio is not None and ratio > 0:
                    xs.append(ratio)
                    ys.append(y + shift)
            everything += xs
            marker = LOOP_MARKERS.get(cell.loop, "o")
            ax.scatter(xs, ys, s=26, color=colors[cell.name], marker=marker, zorder=3)
            handles.append(
                Line2D(
                    [], [], color=colors[cell.name], marker=marker, linestyle="none",
                    label=charts.plain_text(cell.name),
                )
            )  # fmt: skip
        ax.set_yticks(range(len(variants)), list(reversed(labels)))
        ax.set_ylim(-0.6, n - 0.4)
        if everything:
            _log_axis(ax, everything)
        ax.set_xlabel("median relative to the anti-pattern's median in the same run (log)")
        if handles:
            fig.legend(
                handles=handles, loc="lower right", ncols=min(len(handles), 6), frameon=False,
                fontsize=8, bbox_to_anchor=(1 - 0.15 / charts.WIDTH_IN, 0.02),
            )  # fmt: skip
        return charts.inline_svg(charts.render_svg(fig, uid), uid, f"{name}: ratios per cell")


# --- the page -----------------------------------------------------------------------------------


def matrix_view(manifest: Mapping[str, Any] | None, cells: Sequence[MatrixCell]) -> MatrixView:
    """Everything the page shows, formatted."""
    colors = {c.name: CELL_COLORS[i % len(CELL_COLORS)] for i, c in enumerate(cells)}
    views = [
        CellView(
            name=c.name,
            label=c.label,
            status=c.status,
            detail=c.detail,
            wall=f"{c.wall_s:.0f} s" if c.wall_s is not None else "–",
            report_href=c.report_href,
            color=colors[c.name],
        )
        for c in cells
    ]
    ran_cells = [c for c in cells if c.results is not None]
    ran = [v for v, c in zip(views, cells, strict=True) if c.results is not None]
    blocks = []
    for index, scenario in enumerate(_scenarios_in_order(ran_cells), start=1):
        variants = _variants_in_order(ran_cells, scenario["name"])
        per_cell = [
            relative_to_anti(s) if (s := _scenario_of(c, scenario["name"])) else {}
            for c in ran_cells
        ]
        rows = []
        for variant in variants:
            entries: list[Entry | None] = []
            for figures in per_cell:
                if variant["name"] not in figures:
                    entries.append(None)
                    continue
                median, ratio = figures[variant["name"]]
                entries.append(
                    Entry(format_relative(ratio), format_seconds(median), variant["anti_pattern"])
                )
            rows.append(Row(variant["name"], variant["label"], variant["anti_pattern"], entries))
        anchor = f"m{index}-{scenario['name']}"
        blocks.append(
            ScenarioBlock(
                anchor=anchor,
                name=scenario["name"],
                title=scenario["title"],
                lesson=inline_segments(scenario["question"]),
                rows=rows,
                chart=scenario_chart(scenario["name"], variants, ran_cells, colors, anchor),
            )
        )
    manifest = manifest or {}
    wall = manifest.get("wall_s")
    subtitle = (
        f"{len(ran)} of {len(cells)} cells ran"
        + (f", profile {manifest['profile']}" if manifest.get("profile") else "")
        + (f", {wall:.0f} s in all" if isinstance(wall, int | float) and wall else "")
        + "."
    )
    base = ran_cells[0].label if ran_cells else "the first cell"
    return MatrixView(
        title=str(manifest.get("id") or "matrix"),
        subtitle=subtitle,
        cells=views,
        ran=ran,
        not_run=[v for v in views if v.status in NOT_RUN],
        overview=overview_chart(ran_cells, colors, "matrix-overview") if ran_cells else "",
        overview_caption=(
            f"Every variant's median in each cell divided by its median in {base}: a dot per "
            "variant, the bar is their geometric mean. Below 1× that cell ran faster."
        ),
        scenarios=blocks,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def render_matrix(manifest: Mapping[str, Any] | None, cells: Sequence[MatrixCell]) -> str:
    """The self-contained HTML page (inline SVG, nothing fetched)."""
    template = environment().get_template("matrix.html.j2")
    return template.render(m=matrix_view(manifest, cells))


def build_matrix_page(
    manifest_path: str | os.PathLike[str], out_path: str | os.PathLike[str] | None = None
) -> Path:
    """Write matrix.html (beside matrix.json unless told) and return its path."""
    manifest_path = Path(manifest_path)
    manifest, cells = load_matrix(manifest_path)
    out = Path(out_path) if out_path is not None else manifest_path.with_name(PAGE_NAME)
    return _write(out, render_matrix(manifest, cells))


def _write(out: Path, page: str) -> Path:
    try:
        return write_atomic(out, page)
    except OSError as exc:
        raise ResultsFileError(f"{out}: cannot write ({exc.strerror or exc})") from None


def main(argv: Sequence[str] | None = None) -> int:
    """the merged matrix page from MATRIX.json or RESULTS.json files; bad input: 2."""
    parser = argparse.ArgumentParser(
        prog="python -m asyncio_perf_lab.reports.matrix",
        description="Build the matrix page from matrix.json, or from results files (a cell each).",
        epilog="Example: asyncio-lab matrix-page results/matrix-20260101-120000/matrix.json",
    )
    parser.add_argument("files", nargs="+", metavar="FILE.json")
    parser.add_argument("--out", metavar="PATH", help="default: matrix.html beside the first file")
    args = parser.parse_args(argv)
    try:
        first = Path(args.files[0])
        if len(args.files) == 1 and _is_manifest(first):
            page = build_matrix_page(first, args.out)
        else:
            out = Path(args.out) if args.out else first.with_name(PAGE_NAME)
            page = _write(out, render_matrix(None, cells_from_results(args.files)))
    except ResultsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(page)
    return 0


def _is_manifest(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("kind") == MANIFEST_KIND
    except (OSError, ValueError, AttributeError):
        return False


if __name__ == "__main__":
    sys.exit(main())
