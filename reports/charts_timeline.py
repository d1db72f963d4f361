"""The loop timeline: what the event loop ran and which requests were open, per variant.

One panel per variant on a shared time axis: the loop row (every callback, blocking ones in red)
above one bar per HTTP request, so the staircase of awaited-one-by-one requests and the stack of
started-together ones read at a glance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath

from asyncio_perf_lab.reports import chart_style
from asyncio_perf_lab.reports.units import time_unit

__all__ = ["Lane", "callback_spans", "timeline_chart", "timeline_extent"]

# Request phases worth seeing on a timeline; the rest of a request is drawn in its variant colour.
PHASE_COLORS = {"pool_wait": "#bdbdbd", "dns": "#9467bd", "connect": "#ffb000"}
PHASE_LABELS = {"pool_wait": "waiting for a pool slot", "dns": "DNS", "connect": "connecting"}
# The loop timeline: callbacks neutral, blocking ones in the anti-pattern red, requests one blue
# (not the variant's colour, which is red for an anti-pattern and would read as blocking).
CALLBACK_COLOR = "#4d4d4d"
BLOCKING_COLOR = chart_style.ANTI_COLORS[0]
REQUEST_COLOR = "#74a9cf"
LOOP_LABEL = "event loop"

MAX_TIMELINE_ROWS = 200  # a panel is ~150 px tall: more rows than pixels only bloats the SVG
MAX_CALLBACKS = 3000  # the probe keeps the longest 3000 callbacks of a run
LOOP_ROW_IN = 0.24  # the loop row of a timeline panel, and the gap under it
LOOP_GAP_IN = 0.08
SCREEN_DPI = 96  # a chart chart_style.WIDTH_IN wide is shown at about 96 px per inch


@dataclass(frozen=True)
class Lane:
    """One variant on the timeline: its requests (dicts with start_s, end_s, optional phases)
    and the callbacks its loop ran."""

    label: str
    requests: Sequence[Mapping[str, Any]]
    ideal: float | None = None
    note: str = ""
    anti_pattern: bool = False
    color: str = chart_style.FIX_COLORS[0]
    # [start_s, dur_s, task or None, blocking] per stretch of loop time; None: not recorded
    callbacks: Sequence[Sequence[Any]] | None = None


def _rect(x0: float, x1: float, y: float, half: float) -> list[tuple[float, float]]:
    return [(x0, y - half), (x1, y - half), (x1, y + half), (x0, y + half), (x0, y - half)]


def _bars_patch(
    rects: list[list[tuple[float, float]]], color: str, alpha: float = 1.0, zorder: float = 2
) -> PathPatch:
    """All rectangles of one colour as a single compound path: one SVG element, not thousands."""
    vertices = [point for rect in rects for point in rect]
    codes = [MplPath.MOVETO, MplPath.LINETO, MplPath.LINETO, MplPath.LINETO, MplPath.CLOSEPOLY]
    return PathPatch(
        MplPath(vertices, codes * len(rects)),
        facecolor=color,
        edgecolor="none",
        alpha=alpha,
        zorder=zorder,
    )


def callback_spans(
    callbacks: Sequence[Sequence[Any]], pixel_s: float
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(ordinary, blocking) callback spans in seconds, as the loop row draws them.

    Every span is at least ``pixel_s`` wide, so a lone 3 µs callback still shows as a tick, and
    ordinary spans closer than half a pixel merge: a busy stretch reads as one solid bar and
    3000 callbacks cost a few dozen rectangles, not 3000 SVG elements.
    """
    ordinary: list[tuple[float, float]] = []
    blocking: list[tuple[float, float]] = []
    entries = sorted(
        (float(c[0]), max(float(c[1]), 0.0), len(c) > 3 and bool(c[3]))
        for c in callbacks
        if len(c) >= 2
    )
    for start, duration, is_blocking in entries:
        end = start + max(duration, pixel_s)
        if is_blocking:
            blocking.append((start, end))
        elif ordinary and start <= ordinary[-1][1] + pixel_s / 2:
            ordinary[-1] = (ordinary[-1][0], max(ordinary[-1][1], end))
        else:
            ordinary.append((start, end))
    return ordinary, blocking


def timeline_extent(lanes: Sequence[Lane]) -> float:
    """Seconds from the probe run's start to the last request or callback of any lane."""
    ends = [float(r["end_s"]) for lane in lanes for r in lane.requests]
    ends += [float(c[0]) + float(c[1]) for lane in lanes for c in lane.callbacks or () if c[1:]]
    return max(ends, default=0.0)


def _legend_columns(handles: Sequence[Any], room_in: float) -> int:
    """As many legend entries per row as fit in ``room_in`` inches (at least one)."""
    widths = [chart_style.text_width_in([h.get_label()], 8) + 0.45 for h in handles]
    for ncols in range(len(widths), 1, -1):
        rows = [widths[i : i + ncols] for i in range(0, len(widths), ncols)]
        if all(sum(row) <= room_in for row in rows):
            return ncols
    return 1


@chart_style.styled
def timeline_chart(
    lanes: Sequence[Lane], title: str = "", uid: str = "timeline", blocking_ms: float = 20.0
) -> str:
    """What the loop did and which requests were open, per variant, on one shared time axis.

    Each panel's top row is the event loop: every callback it ran (``Lane.callbacks``) as a dark
    tick or bar, callbacks that held it for ``blocking_ms`` or more in red, with a red shade
    across the requests they stalled. Below, one bar per request from start to end: awaited one
    by one they form a staircase, started together they stack. Waiting for a pool slot and
    connecting are shaded, so queueing behind a connector limit shows too. Lanes without
    callbacks (older results files) get no loop row.
    """
    loop_row = any(lane.callbacks is not None for lane in lanes)
    ideals = [lane.ideal for lane in lanes if lane.ideal]
    longest = max([timeline_extent(lanes), *ideals, 1e-9])
    unit, f = time_unit(longest)
    rows_of = [
        chart_style.thin_evenly(
            sorted(lane.requests, key=lambda r: float(r["start_s"])), MAX_TIMELINE_ROWS
        )
        for lane in lanes
    ]
    tick_labels = [
        [chart_style.plain_text(chart_style.shorten(str(r.get("path", "")))) for r in rows]
        if len(rows) <= 12
        else []
        for rows in rows_of
    ]
    names = [t for ts in tick_labels for t in ts] + [LOOP_LABEL, "requests"]
    left = max(chart_style.text_width_in(names, 7) + 0.15, 0.4)
    width = chart_style.WIDTH_IN - left - 0.2
    pixel_s = longest * 1.03 / (width * SCREEN_DPI)
    request_h = [
        min(2.2, max(0.45, 0.2 + 0.09 * min(len(rows), 20))) if rows else 0.0 for rows in rows_of
    ]
    loop_h = LOOP_ROW_IN if loop_row else 0.0
    heights = [
        req + loop_h + (LOOP_GAP_IN if loop_row and req else 0.0) or 0.45 for req in request_h
    ]
    band = 0.3  # each panel's title line
    top = chart_style.TITLE_IN if title else 0.05
    handles: list[Any] = []
    if loop_row:
        handles += [
            Patch(color=CALLBACK_COLOR, label="callback"),
            Patch(color=BLOCKING_COLOR, label=f"blocking callback (≥ {blocking_ms:g} ms)"),
        ]
    if any(rows_of):
        handles.append(Patch(color=REQUEST_COLOR, label="request"))
    phases_seen = {
        phase
        for rows in rows_of
        for req in rows
        for phase, seconds in (req.get("phases") or {}).items()
        if phase in PHASE_COLORS and float(seconds) > 0
    }
    handles += [
        Patch(color=color, label=PHASE_LABELS[phase])
        for phase, color in PHASE_COLORS.items()
        if phase in phases_seen
    ]
    if ideals:
        handles.append(Line2D([], [], label="ideal", **chart_style.IDEAL_STYLE))
    ncols = _legend_columns(handles, chart_style.WIDTH_IN - 0.5)
    legend_rows = -(-len(handles) // ncols) if handles else 0
    bottom = chart_style.AXIS_IN + chart_style.LEGEND_ROW_IN * legend_rows + 0.08
    fig_h = top + sum(heights) + band * len(lanes) + bottom
    fig = Figure(figsize=(chart_style.WIDTH_IN, fig_h))
    y_top = fig_h - top
    axes = []
    for lane, rows, labels, height, req_h in zip(
        lanes, rows_of, tick_labels, heights, request_h, strict=True
    ):
        y_top -= band + height
        rect = chart_style.axes_rect(fig, left, y_top, width, height)
        ax = fig.add_axes(rect, sharex=axes[0] if axes else None)
        axes.append(ax)
        n = len(rows)
        # Requests sit on rows 0..n-1; the loop row sits above them at a fixed height in inches.
        per_in = n / req_h if n else 1 / height  # data units per inch
        y_loop = -0.6 - (LOOP_GAP_IN + loop_h / 2) * per_in if n else 0.0
        half_loop = loop_h / 2 * 0.8 * per_in
        by_color: dict[str, list[list[tuple[float, float]]]] = {}
        for y, req in enumerate(rows):
            start, end = float(req["start_s"]) * f, float(req["end_s"]) * f
            by_color.setdefault(REQUEST_COLOR, []).append(_rect(start, end, y, 0.38))
            at = start
            for phase, seconds in (req.get("phases") or {}).items():
                span = float(seconds) * f
                if phase in PHASE_COLORS and span > 0:
                    by_color.setdefault(PHASE_COLORS[phase], []).append(
                        _rect(at, at + span, y, 0.38)
                    )
                at += span
        ordinary, blocking = callback_spans(lane.callbacks or (), pixel_s)
        if loop_row:
            by_color[CALLBACK_COLOR] = [_rect(a * f, b * f, y_loop, half_loop) for a, b in ordinary]
            by_color[BLOCKING_COLOR] = [_rect(a * f, b * f, y_loop, half_loop) for a, b in blocking]
            if n:
                ax.axhline(-0.6 - LOOP_GAP_IN / 2 * per_in, color="#c8c8c8", linewidth=0.6)
        if blocking and n:  # the stall, tinting every request open meanwhile
            half = n / 2
            stalls = [_rect(a * f, b * f, (n - 1) / 2, half) for a, b in blocking]
            ax.add_artist(_bars_patch(stalls, BLOCKING_COLOR, alpha=0.13, zorder=2.5))
        for color, rects in by_color.items():
            if rects:
                # add_artist, not add_patch: autoscaling would walk every vertex; limits are set.
                ax.add_artist(_bars_patch(rects, color))
        if lane.ideal:
            ax.axvline(lane.ideal * f, zorder=3, **chart_style.IDEAL_STYLE)
        if n:
            ax.set_ylim(n - 0.4, -0.6 - ((LOOP_GAP_IN + loop_h) * per_in if loop_row else 0.0))
        elif loop_row:
            ax.set_ylim(0.5, -0.5)
        else:
            ax.set_ylim(0.6, -0.6)
        ticks: list[tuple[float, str]] = [(y_loop, LOOP_LABEL)] if loop_row else []
        if labels:
            ticks += list(enumerate(labels))
        elif n:
            ticks.append(((n - 1) / 2, "requests"))
        ax.set_yticks([y for y, _ in ticks], [label for _, label in ticks])
        ax.tick_params(axis="y", labelsize=7, length=2)
        ax.tick_params(axis="x", labelbottom=False)
        name, note = _panel_titles(lane, len(rows), len(blocking), blocking_ms, width)
        ax.set_title(
            chart_style.plain_text(name),
            loc="left",
            fontsize=9,
            color=lane.color,
            fontweight="bold",
            pad=4,
        )
        ax.set_title(
            chart_style.plain_text(note), loc="right", fontsize=7.5, color="#555555", pad=4
        )
        ax.grid(axis="x", color=chart_style.GRID_COLOR)
    axes[-1].tick_params(axis="x", labelbottom=True)
    axes[-1].set_xlim(0, longest * f * 1.03)
    axes[-1].set_xlabel(f"time since the probe run started ({unit})")
    if title:
        fig.text(
            0.1 / chart_style.WIDTH_IN, 1 - 0.08 / fig_h, chart_style.plain_text(title),
            ha="left", va="top", fontsize=10, fontweight="bold",
        )  # fmt: skip
    chart_style.corner_legend(fig, handles, ncols=ncols)
    return chart_style.chart_svg(fig, uid, title)


def _lane_notes(lane: Lane, shown: int, blocking: int, blocking_ms: float) -> list[str]:
    """The right-hand note of a timeline panel, longest first: what it counts, what it left out."""
    calls = short_calls = ""
    if lane.callbacks is not None:
        count = len(lane.callbacks)
        calls = short_calls = f"{count} callback{'s' if count != 1 else ''}"
        if count >= MAX_CALLBACKS:
            calls = f"the {count} longest callbacks"
        if blocking:
            calls += f" ({blocking} ≥ {blocking_ms:g} ms)"
            short_calls += f", {blocking} blocking"
    count = len(lane.requests)
    reqs = f"{count} request{'s' if count != 1 else ''}" if count else "no HTTP requests"
    short_reqs = reqs
    if shown < count:
        reqs = f"{shown} evenly sampled of {reqs}"
        short_reqs += f" ({shown} drawn)"
    extra = [lane.note] if lane.note and count else []
    return [
        " · ".join(p for p in (calls, reqs, *extra) if p),
        " · ".join(p for p in (short_calls, short_reqs, *extra) if p),
        " · ".join(p for p in (short_calls, short_reqs) if p),
    ]


def _panel_titles(
    lane: Lane, shown: int, blocking: int, blocking_ms: float, width_in: float
) -> tuple[str, str]:
    """A panel's name (left) and note (right), shortened until both fit on one line."""
    name = chart_style.shorten(lane.label, 60) + (" (anti-pattern)" if lane.anti_pattern else "")
    notes = _lane_notes(lane, shown, blocking, blocking_ms)
    name_in = chart_style.text_width_in([name], 9, bold=True)
    for note in notes:
        if name_in + chart_style.text_width_in([note], 7.5) + 0.2 <= width_in:
            return name, note
    note = notes[-1]
    room = width_in - chart_style.text_width_in([note], 7.5) - 0.2
    while len(name) > 12 and chart_style.text_width_in([name], 9, bold=True) > room:
        name = chart_style.shorten(name, len(name) - 4)
    return name, note
