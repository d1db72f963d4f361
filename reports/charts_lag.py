"""The loop-lag chart: how late a timer due at each moment would have fired, per variant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from asyncio_perf_lab.reports import chart_style
from asyncio_perf_lab.reports.units import time_unit

__all__ = ["LagTrace", "lag_chart", "sawtooth"]

MAX_LAG_POINTS = 1000  # lag samples drawn per variant (the worst of each bucket is kept)
LAG_REFERENCE_MS = 10.0
MAX_LABEL_CHARS = 40


@dataclass(frozen=True)
class LagTrace:
    """One variant's loop-lag series: (seconds since probe start, lag in ms) pairs."""

    label: str
    series: Sequence[Sequence[float]]
    anti_pattern: bool = False
    color: str = chart_style.FIX_COLORS[0]
    max_ms: float = field(default=0.0)


def _thin_peaks(series: Sequence[Sequence[float]], limit: int) -> list[Sequence[float]]:
    """At most ``limit`` points, keeping the worst lag of each bucket so spikes survive."""
    if len(series) <= limit:
        return list(series)
    step = len(series) / limit
    return [
        max(series[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)], key=lambda p: p[1])
        for i in range(limit)
    ]


def sawtooth(series: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
    """The lateness a timer due at each moment would have suffered: a ramp per stall.

    A tick that ran ``lag`` ms late at ``t`` means the loop was busy from ``t - lag`` to ``t``;
    a timer due anywhere in that stretch waited until ``t``. So each long lag is drawn as a ramp
    from zero at the stall's start up to the lag at its end, not as a line from the previous tick.
    """
    points: list[tuple[float, float]] = []
    previous = 0.0
    for t, lag in ((float(p[0]), float(p[1])) for p in series):
        start = t - lag / 1000
        if lag >= 1.0 and start > previous:
            points.append((start, 0.0))
        points.append((t, lag))
        previous = t
    return points


@chart_style.styled
def lag_chart(traces: Sequence[LagTrace], title: str = "", uid: str = "lag") -> str:
    """Event-loop lag over time, one line per variant: a blocked loop shows as a tall spike."""
    points = [_thin_peaks(t.series, MAX_LAG_POINTS) for t in traces]
    longest = max([float(p[0]) for pts in points for p in pts] + [1e-9])
    unit, f = time_unit(longest)
    segments, colors, anti, handles = [], [], [], []
    for trace, pts in zip(traces, points, strict=True):
        if not pts:
            continue
        segments.append([(t * f, lag) for t, lag in sawtooth(pts)])
        colors.append(trace.color)
        anti.append(trace.anti_pattern)
        label = chart_style.shorten(trace.label, MAX_LABEL_CHARS)
        label = f"{label} (max {trace.max_ms:.1f} ms)" if trace.max_ms else label
        handles.append(
            Line2D([], [], color=trace.color, label=chart_style.plain_text(label), linewidth=1.6)
        )
    ncols = min(len(handles), 3) or 1
    rows = -(-len(handles) // ncols)
    top = chart_style.TITLE_IN if title else 0.15
    bottom = chart_style.AXIS_IN + chart_style.LEGEND_ROW_IN * rows + 0.08
    plot_h = 2.2
    fig = Figure(figsize=(chart_style.WIDTH_IN, top + plot_h + bottom))
    ax = fig.add_axes(chart_style.axes_rect(fig, 0.7, bottom, chart_style.WIDTH_IN - 0.9, plot_h))
    # One collection for every line: fast to draw, and anti-patterns end up painted last (on top).
    order = sorted(range(len(segments)), key=lambda i: anti[i])
    ax.add_collection(
        LineCollection(
            [segments[i] for i in order], colors=[colors[i] for i in order], linewidths=1.1
        ),
        autolim=False,
    )
    top_ms = max([float(p[1]) for pts in points for p in pts] + [1.0])
    ax.axhline(LAG_REFERENCE_MS, color="#888888", linestyle=":", linewidth=1, zorder=1)
    ax.text(
        longest * f, LAG_REFERENCE_MS, f"{LAG_REFERENCE_MS:.0f} ms", ha="right", va="bottom",
        fontsize=7.5, color="#666666",
    )  # fmt: skip
    ax.set_xlim(0, longest * f * 1.02)
    ax.set_ylim(0, max(top_ms, LAG_REFERENCE_MS) * 1.12)
    ax.set_xlabel(f"time since the probe run started ({unit})")
    ax.set_ylabel("loop lag (ms)")
    ax.grid(axis="y", color=chart_style.GRID_COLOR)
    if title:
        ax.set_title(
            chart_style.plain_text(title), loc="left", x=-0.6 / (chart_style.WIDTH_IN - 0.9)
        )
    chart_style.corner_legend(fig, handles, ncols=ncols)
    return chart_style.chart_svg(fig, uid, title)
