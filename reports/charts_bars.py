"""The bar chart of a scenario: each variant's median, its spread, every value, and its ideal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from asyncio_perf_lab.reports import chart_style
from asyncio_perf_lab.reports.units import format_seconds, time_unit

__all__ = ["Timing", "standalone_timing_svg", "timing_chart", "timing_figure"]

MAX_DOTS = 300  # raw values drawn per variant
MAX_LABEL_CHARS = 40


@dataclass(frozen=True)
class Timing:
    """The timing of one variant as the bar chart needs it (seconds)."""

    label: str
    median: float
    p5: float
    p95: float
    ideal: float
    values: Sequence[float] = ()
    anti_pattern: bool = False
    color: str = chart_style.FIX_COLORS[0]


def timing_chart(timings: Sequence[Timing], title: str = "", uid: str = "timing") -> str:
    """Horizontal bars of medians with p5-p95 whiskers, every raw value and each ideal marked."""
    return chart_style.chart_svg(timing_figure(timings, title), uid, title)


@chart_style.styled
def timing_figure(timings: Sequence[Timing], title: str = "") -> Figure:
    """The figure behind ``timing_chart``, for callers that want a standalone file."""
    n = len(timings)
    longest = max([t.p95 for t in timings] + [t.ideal for t in timings] + [1e-9])
    longest = max([longest, *(max(t.values, default=0.0) for t in timings)])
    unit, f = time_unit(longest)
    labels = [
        chart_style.plain_text(chart_style.shorten(t.label, MAX_LABEL_CHARS)) for t in timings
    ]
    left = chart_style.text_width_in(labels, 9, bold=True) + 0.2
    top = chart_style.TITLE_IN * (title.count("\n") + 1) if title else 0.15
    bottom = chart_style.AXIS_IN + chart_style.LEGEND_ROW_IN + 0.08
    plot_h = 0.55 * n
    fig = Figure(figsize=(chart_style.WIDTH_IN, top + plot_h + bottom))
    ax = fig.add_axes(
        chart_style.axes_rect(fig, left, bottom, chart_style.WIDTH_IN - left - 0.2, plot_h)
    )
    ys = list(range(n))[::-1]  # first variant on top
    for y, t in zip(ys, timings, strict=True):
        ax.barh(y, t.median * f, height=0.62, color=t.color, alpha=0.88, zorder=2)
        low, high = max(t.median - t.p5, 0.0), max(t.p95 - t.median, 0.0)
        ax.errorbar(
            t.median * f, y, xerr=[[low * f], [high * f]], fmt="none", ecolor="#333333",
            elinewidth=1.2, capsize=4, zorder=4,
        )  # fmt: skip
        values = chart_style.thin_evenly(t.values, MAX_DOTS)
        offsets = chart_style.spread_offsets(len(values), 0.42)
        ax.scatter(
            [v * f for v in values], [y + o for o in offsets], s=9, color="#222222",
            alpha=0.35, linewidths=0, zorder=3,
        )  # fmt: skip
        if t.ideal > 0:
            ax.vlines(t.ideal * f, y - 0.42, y + 0.42, zorder=5, **chart_style.IDEAL_STYLE)
        right = max([t.p95, t.ideal, *values]) * f
        ax.text(
            right + longest * f * 0.015, y, format_seconds(t.median), va="center", fontsize=8.5,
            color="#222222", zorder=6,
        )  # fmt: skip
    ax.set_yticks(ys, labels)
    for tick, t in zip(ax.get_yticklabels(), timings, strict=True):
        tick.set_color(chart_style.ANTI_COLORS[0] if t.anti_pattern else "#222222")
        tick.set_fontweight("bold" if t.anti_pattern else "normal")
    ax.set_xlim(0, longest * f * 1.16)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlabel(f"time per call ({unit}): median, p5–p95, each run as a dot")
    ax.grid(axis="x", color=chart_style.GRID_COLOR)
    if title:
        ax.set_title(
            chart_style.plain_text(title),
            loc="left",
            x=-left / (chart_style.WIDTH_IN - left - 0.2) + 0.01,
        )
    handles = []
    if any(t.anti_pattern for t in timings):
        handles.append(Patch(color=chart_style.ANTI_COLORS[0], label="anti-pattern"))
    if not all(t.anti_pattern for t in timings):
        handles.append(Patch(color=chart_style.FIX_COLORS[0], label="fix"))
    if any(t.ideal > 0 for t in timings):
        handles.append(Line2D([], [], label="ideal", **chart_style.IDEAL_STYLE))
    chart_style.corner_legend(fig, handles, ncols=len(handles))
    return fig


def standalone_timing_svg(timings: Sequence[Timing], title: str = "") -> str:
    """The bar chart as a standalone SVG file (for the README), prolog and namespaces kept."""
    return chart_style.render_svg(timing_figure(timings, title), "readme")
