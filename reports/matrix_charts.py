"""The matrix page's charts: cells against each other, and each scenario's ratios per cell."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from asyncio_perf_lab.reports import chart_style
from asyncio_perf_lab.reports.matrix_cells import (
    MatrixCell,
    against_baseline,
    relative_to_anti,
    scenario_of,
)
from asyncio_perf_lab.reports.stats import geometric_mean

__all__ = ["overview_chart", "scenario_chart"]

LOOP_MARKERS = {"asyncio": "o", "uvloop": "^"}


def ratio_axis(ax: Any, values: Sequence[float]) -> None:
    """A log x axis of ratios (labelled ``2x``) spanning ``values`` and 1, with 1 marked dotted."""
    low, high = min([*values, 1.0]), max([*values, 1.0])
    ax.set_xscale("log")
    ax.set_xlim(low / 1.6, high * 1.6)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}×"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.axvline(1.0, color="#888888", linewidth=1, linestyle=":", zorder=1)
    ax.grid(axis="x", color=chart_style.GRID_COLOR, which="both")


def overview_chart(cells: Sequence[MatrixCell], colors: Mapping[str, str], uid: str) -> str:
    """Each ran cell's medians relative to the first cell's, one dot per variant, geomean bar."""
    pairs = against_baseline(cells)
    with chart_style.style():
        n = max(len(pairs), 1)
        labels = [chart_style.plain_text(cell.label) for cell, _ in pairs]
        left = chart_style.text_width_in(labels, 9) + 0.25
        fig = Figure(figsize=(chart_style.WIDTH_IN, 0.55 * n + 1.3))
        ax = fig.add_axes(
            chart_style.axes_rect(fig, left, 0.75, chart_style.WIDTH_IN - left - 0.3, 0.55 * n)
        )
        everything = [r for _, ratios in pairs for r in ratios]
        for y, (cell, ratios) in enumerate(reversed(pairs)):
            color = colors[cell.name]
            offsets = chart_style.spread_offsets(len(ratios), 0.36)
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
            ratio_axis(ax, everything)
        base = pairs[0][0].label if pairs else "the first cell"
        ax.set_xlabel(
            chart_style.plain_text(
                f"median relative to {base} (each dot a variant; bar: geometric mean; "
                "left is faster)"
            )
        )
        return chart_style.chart_svg(fig, uid, "Cells compared")


def scenario_chart(
    name: str, variants: Sequence[Mapping[str, Any]], cells: Sequence[MatrixCell],
    colors: Mapping[str, str], uid: str,
) -> str:  # fmt: skip
    """Each variant's median relative to its run's anti-pattern, one marker per cell."""
    with chart_style.style():
        n = max(len(variants), 1)
        labels = [chart_style.plain_text(v["label"]) for v in variants]
        left = chart_style.text_width_in(labels, 9) + 0.25
        fig = Figure(figsize=(chart_style.WIDTH_IN, 0.42 * n + 1.25))
        ax = fig.add_axes(
            chart_style.axes_rect(fig, left, 0.85, chart_style.WIDTH_IN - left - 0.3, 0.42 * n)
        )
        everything, handles = [], []
        ran = [c for c in cells if c.results is not None]
        for k, cell in enumerate(ran):
            scenario = scenario_of(cell, name)
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
                    label=chart_style.plain_text(cell.name),
                )
            )  # fmt: skip
        ax.set_yticks(range(len(variants)), list(reversed(labels)))
        ax.set_ylim(-0.6, n - 0.4)
        if everything:
            ratio_axis(ax, everything)
        ax.set_xlabel("median relative to the anti-pattern's median in the same run (log)")
        if handles:
            fig.legend(
                handles=handles, loc="lower right", ncols=min(len(handles), 6), frameon=False,
                fontsize=8, bbox_to_anchor=(1 - 0.15 / chart_style.WIDTH_IN, 0.02),
            )  # fmt: skip
        return chart_style.chart_svg(fig, uid, f"{name}: ratios per cell")
