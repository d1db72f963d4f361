"""The matrix page: the same run under several Pythons and event loops, side by side.

Built from files alone (``matrix_cells``): per scenario every variant's median relative to the
anti-pattern's median *of the same run* and the median itself, one column per cell; one chart
compares the cells with each other, and one per scenario shows its ratios.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from asyncio_perf_lab.reports.matrix_cells import (
    MatrixCell,
    cells_from_results,
    is_manifest,
    load_matrix,
    relative_to_anti,
    scenario_of,
    scenarios_in_order,
    variants_in_order,
)
from asyncio_perf_lab.reports.matrix_charts import overview_chart, scenario_chart
from asyncio_perf_lab.reports.pages import generated_now, inline_segments, render_page, write_page
from asyncio_perf_lab.reports.units import format_seconds

__all__ = ["PAGE_NAME", "build_matrix_page", "matrix_view", "render_matrix"]

PAGE_NAME = "matrix.html"
CELL_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
NOT_RUN = ("partial", "missing", "unavailable", "failed")  # listed at the top of the page


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
    """One variant across the cells that ran."""

    name: str
    label: str
    anti_pattern: bool
    entries: list[Entry | None]  # one per ran cell, None where the cell lacks the variant


@dataclass(frozen=True)
class ScenarioBlock:
    """One scenario section: its table of ratios and its chart."""

    anchor: str
    name: str
    title: str
    lesson: list[tuple[str, str]]
    rows: list[Row]
    chart: str


@dataclass(frozen=True)
class CellView:
    """One cell as the table of cells lists it."""

    name: str
    label: str
    status: str
    detail: str
    wall: str
    report_href: str | None
    color: str


@dataclass(frozen=True)
class Change:
    """One variant that a cell's A/B against the reference found slower or faster."""

    key: str
    label: str
    change: str
    p_value: str
    floor: str


@dataclass(frozen=True)
class VerdictView:
    """One cell's A/B against the reference cell: its summary and what moved."""

    name: str
    summary: str
    slower: list[Change]
    faster: list[Change]
    unchanged: int
    inconclusive: list[Change]


def verdict_views(cells: Sequence[MatrixCell]) -> list[VerdictView]:
    """Per cell with an A/B against the reference: what got slower, faster, or stayed put."""
    views = []
    for cell in cells:
        if cell.comparison is None:
            continue
        moved: dict[str, list[Change]] = {"regression": [], "improvement": [], "inconclusive": []}
        for item in cell.comparison["variants"]:
            if item["outcome"] not in moved:
                continue
            outcome = item["outcome"]
            p = item["p_slower"] if outcome != "improvement" else item["p_faster"]
            ratio, floor = item.get("ratio"), item.get("floor")
            moved[outcome].append(
                Change(
                    key=item["key"],
                    label=item["label"],
                    change=f"{ratio - 1:+.1%}" if ratio is not None else "–",
                    p_value=f"{p:.2g}" if p is not None else "–",
                    floor=f"{floor:.1%}" if floor is not None else "–",
                )
            )
        counts = cell.comparison.get("counts", {})
        views.append(
            VerdictView(
                name=cell.name,
                summary=str(cell.comparison.get("summary", "")),
                slower=moved["regression"],
                faster=moved["improvement"],
                unchanged=int(counts.get("pass", 0)),
                inconclusive=moved["inconclusive"],
            )
        )
    return views


@dataclass(frozen=True)
class MatrixView:
    """The whole page."""

    title: str
    subtitle: str
    cells: list[CellView]
    ran: list[CellView]
    not_run: list[CellView]
    overview: str
    overview_caption: str
    scenarios: list[ScenarioBlock]
    generated: str
    reference: str | None
    verdicts: list[VerdictView]


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
    for index, scenario in enumerate(scenarios_in_order(ran_cells), start=1):
        variants = variants_in_order(ran_cells, scenario["name"])
        per_cell = [
            relative_to_anti(s) if (s := scenario_of(c, scenario["name"])) else {}
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
        generated=generated_now(),
        reference=manifest.get("reference")
        or next((c.name for c in cells if c.verdict == "reference"), None),
        verdicts=verdict_views(cells),
    )


def render_matrix(manifest: Mapping[str, Any] | None, cells: Sequence[MatrixCell]) -> str:
    """The self-contained HTML page (inline SVG, nothing fetched)."""
    return render_page("matrix.html.j2", m=matrix_view(manifest, cells))


def merge_manifests(
    paths: Sequence[Path], out_dir: Path
) -> tuple[dict[str, Any], list[MatrixCell]]:
    """Several matrix runs (one CI job per cell) as one: their cells in order, each cell's
    report link made relative to ``out_dir``, the first reference named."""
    manifests, cells = [], []
    for path in paths:
        manifest, found = load_matrix(path)
        manifests.append(manifest)
        for cell in found:
            href = cell.report_href
            if href is not None:
                href = os.path.relpath(path.parent / href, out_dir)
            cells.append(replace(cell, report_href=href))
    merged = {
        "id": f"{len(paths)} matrix runs merged",
        "profile": manifests[0].get("profile"),
        "reference": next((m["reference"] for m in manifests if m.get("reference")), None),
    }
    return merged, cells


def build_matrix_page(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Write the matrix page and return its path: from matrix.json files, or from results files.

    One path that is a manifest (``asyncio-lab matrix`` wrote it) gives its cells, missing and
    failed ones included; several manifests (one CI job per cell) are merged into one page;
    otherwise each path is a results file and a cell. The page goes beside the first file
    unless ``out_path`` says otherwise.
    """
    files = [Path(paths)] if isinstance(paths, str | os.PathLike) else [Path(p) for p in paths]
    out = Path(out_path) if out_path is not None else files[0].with_name(PAGE_NAME)
    if len(files) == 1 and is_manifest(files[0]):
        manifest, cells = load_matrix(files[0])
    elif all(is_manifest(path) for path in files):
        manifest, cells = merge_manifests(files, out.resolve().parent)
    else:
        manifest, cells = None, cells_from_results(files)
    return write_page(out, render_matrix(manifest, cells), files)
