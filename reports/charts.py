"""Charts of a run as SVG strings: small functions of plain data, so any page can reuse them.

matplotlib's object API (``Figure`` + the SVG canvas) is used instead of pyplot, so no GUI backend
or global figure registry is ever involved and nothing needs closing. Each chart is rendered under
an ``rc_context`` (text stays text, ids are deterministic) and post-processed by ``inline_svg`` so
several charts can live in one HTML page: no XML prolog, no namespaces, no global style, and ids
made unique per chart.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import matplotlib
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, get_font
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath

from asyncio_perf_lab.reports.units import format_seconds, time_unit

# Colours by role: anti-patterns red-ish, fixes blue/green, the ideal black and dashed.
ANTI_COLORS = ("#d62728", "#e8743b", "#9e1b32", "#f28e8e")
FIX_COLORS = ("#1f77b4", "#2ca02c", "#17becf", "#3f51b5", "#6a994e", "#0b7285", "#74a9cf")
IDEAL_COLOR = "#111111"
IDEAL_STYLE = {"color": IDEAL_COLOR, "linestyle": (0, (4, 2)), "linewidth": 1.4}
GRID_COLOR = "#e3e3e3"
# Request phases worth seeing on a timeline; the rest of a request is drawn in its variant colour.
PHASE_COLORS = {"pool_wait": "#bdbdbd", "dns": "#9467bd", "connect": "#ffb000"}
PHASE_LABELS = {"pool_wait": "waiting for a pool slot", "dns": "DNS", "connect": "connecting"}
# The loop timeline: callbacks neutral, blocking ones in the anti-pattern red, requests one blue
# (not the variant's colour, which is red for an anti-pattern and would read as blocking).
CALLBACK_COLOR = "#4d4d4d"
BLOCKING_COLOR = ANTI_COLORS[0]
REQUEST_COLOR = "#74a9cf"
LOOP_LABEL = "event loop"

WIDTH_IN = 9.6  # at 96 px per inch a chart fills the page column at its natural text size
MAX_TIMELINE_ROWS = 200  # a panel is ~150 px tall: more rows than pixels only bloats the SVG
MAX_CALLBACKS = 3000  # the probe keeps the longest 3000 callbacks of a run
LOOP_ROW_IN = 0.24  # the loop row of a timeline panel, and the gap under it
LOOP_GAP_IN = 0.08
SCREEN_DPI = 96  # a chart WIDTH_IN wide is shown at about 96 px per inch
MAX_DOTS = 300  # raw values drawn per variant
MAX_LAG_POINTS = 1000  # lag samples drawn per variant (the worst of each bucket is kept)
LAG_REFERENCE_MS = 10.0
MAX_LABEL_CHARS = 40
# Fixed margins (inches) instead of constrained layout, which cost a third of the build time.
TITLE_IN = 0.36
AXIS_IN = 0.5  # tick labels and the axis label under an x axis
LEGEND_ROW_IN = 0.24

_RC = {
    "svg.fonttype": "none",  # text stays text: small, selectable, and readable by tests
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica", "sans-serif"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.axisbelow": True,
}
_NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}

P = ParamSpec("P")
R = TypeVar("R")


@contextlib.contextmanager
def _style(**overrides: Any) -> Iterator[None]:
    """The lab's matplotlib style, leaving global rcParams untouched.

    Text is written as text and drawn by the browser's fonts, so a glyph missing from the font
    matplotlib measures with (an emoji in a label, say) costs nothing: its warning is dropped.
    """
    with matplotlib.rc_context({**_RC, **overrides}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        yield


def _styled(build: Callable[P, R]) -> Callable[P, R]:
    """Run a chart builder under ``_style``."""

    @functools.wraps(build)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with _style():
            return build(*args, **kwargs)

    return wrapper


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
    color: str = FIX_COLORS[0]


@dataclass(frozen=True)
class Lane:
    """One variant on the timeline: its requests (dicts with start_s, end_s, optional phases)
    and the callbacks its loop ran."""

    label: str
    requests: Sequence[Mapping[str, Any]]
    ideal: float | None = None
    note: str = ""
    anti_pattern: bool = False
    color: str = FIX_COLORS[0]
    # [start_s, dur_s, task or None, blocking] per stretch of loop time; None: not recorded
    callbacks: Sequence[Sequence[Any]] | None = None


@dataclass(frozen=True)
class LagTrace:
    """One variant's loop-lag series: (seconds since probe start, lag in ms) pairs."""

    label: str
    series: Sequence[Sequence[float]]
    anti_pattern: bool = False
    color: str = FIX_COLORS[0]
    max_ms: float = field(default=0.0)


def role_colors(anti_patterns: Sequence[bool]) -> list[str]:
    """One colour per variant in order: anti-patterns from the red family, fixes from blue/green."""
    colors, anti, fix = [], 0, 0
    for is_anti in anti_patterns:
        if is_anti:
            colors.append(ANTI_COLORS[anti % len(ANTI_COLORS)])
            anti += 1
        else:
            colors.append(FIX_COLORS[fix % len(FIX_COLORS)])
            fix += 1
    return colors


def plain_text(text: str) -> str:
    """Text for matplotlib that is never parsed as mathtext (a ``$`` in a label stays a ``$``)."""
    return text.replace("$", r"\$")


def text_width_in(texts: Sequence[str], size: float, bold: bool = False) -> float:
    """The widest of ``texts`` in inches at ``size`` points, measured with the chart font."""
    widths = [_text_width_pt(t, size, bold) for t in texts if t.strip()]
    return max(widths, default=0.0) / 72 * 1.08  # a little room for the browser's font


@functools.lru_cache(maxsize=4096)
def _text_width_pt(text: str, size: float, bold: bool) -> float:
    """One text's advance width in points, from FreeType's layout as matplotlib's renderers do.

    Cached, as legend entries and paths repeat across charts; a glyph path per text
    (``TextPath``) cost ten times as much, and panel notes are measured several times each.
    """
    font = get_font(findfont(FontProperties(size=size, weight="bold" if bold else "normal")))
    font.set_size(size, 72)
    font.set_text(text, 0.0)
    return font.get_width_height()[0] / 64  # 26.6 fixed point


def _frac(fig: Figure, left: float, bottom: float, width: float, height: float) -> list[float]:
    """An axes rectangle given in inches, as the figure fractions ``add_axes`` wants."""
    w, h = fig.get_size_inches()
    return [left / w, bottom / h, width / w, height / h]


def _legend(fig: Figure, handles: list[Any], ncols: int, right_in: float = 0.15) -> None:
    """The legend in the figure's bottom-right corner, under the x axis label."""
    if not handles:
        return
    w, h = fig.get_size_inches()
    fig.legend(
        handles=handles, loc="lower right", bbox_to_anchor=(1 - right_in / w, 0.04 / h),
        ncols=ncols, frameon=False, fontsize=8, handlelength=1.8, columnspacing=1.4,
        borderaxespad=0,
    )  # fmt: skip


def render_svg(fig: Figure, salt: str) -> str:
    """The figure as a standalone SVG document (no creator or date metadata, stable ids)."""
    buf = io.StringIO()
    with _style(**{"svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", metadata=_NO_METADATA)
    return buf.getvalue()


_ID_REF = re.compile(r'(?:url\(#|href="#)([^")]+)')
_ID_ATTR = re.compile(r'\sid="([^"]*)"')
_PATH_DATA = re.compile(r' d="([^"]*)"')
_LONG_DECIMAL = re.compile(r"(\d\.\d\d)\d+")


def inline_svg(svg: str, uid: str, title: str = "") -> str:
    """Make a standalone SVG embeddable in HTML beside others: ids prefixed with ``uid``.

    matplotlib names elements ``figure_1``, ``patch_3``... and clip paths/markers by hash, so two
    charts in one page collide. Only referenced ids are kept (prefixed); the rest are dropped.
    Path coordinates are rounded to 0.01 pt, which no screen can show but halves the size.
    """
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'\sxmlns(?::xlink)?="[^"]*"', "", svg, count=2)
    svg = re.sub(r"<style[^>]*>.*?</style>", "", svg, flags=re.S)
    svg = svg.replace("xlink:href=", "href=")
    referenced = set(_ID_REF.findall(svg))

    def rename_id(match: re.Match[str]) -> str:
        name = match.group(1)
        return f' id="{uid}-{name}"' if name in referenced else ""

    svg = _ID_ATTR.sub(rename_id, svg)
    svg = _ID_REF.sub(lambda m: m.group(0).replace(f"#{m.group(1)}", f"#{uid}-{m.group(1)}"), svg)
    svg = _PATH_DATA.sub(
        lambda m: ' d="' + _LONG_DECIMAL.sub(r"\1", " ".join(m.group(1).split())) + '"', svg
    )
    label = title.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return svg.replace(
        "<svg ", f'<svg id="{uid}" class="chart" role="img" aria-label="{label}" ', 1
    ).strip()


def _spread_offsets(count: int, width: float) -> list[float]:
    """Deterministic jitter in [-width/2, width/2] (golden-ratio sequence): no random module."""
    return [((i * 0.6180339887) % 1.0 - 0.5) * width for i in range(count)]


def _thin(values: Sequence[Any], limit: int) -> list[Any]:
    if len(values) <= limit:
        return list(values)
    step = len(values) / limit
    return [values[int(i * step)] for i in range(limit)]


def timing_chart(timings: Sequence[Timing], title: str = "", uid: str = "timing") -> str:
    """Horizontal bars of medians with p5-p95 whiskers, every raw value and each ideal marked."""
    return inline_svg(render_svg(timing_figure(timings, title), uid), uid, title)


@_styled
def timing_figure(timings: Sequence[Timing], title: str = "") -> Figure:
    """The figure behind ``timing_chart``, for callers that want a standalone file."""
    n = len(timings)
    longest = max([t.p95 for t in timings] + [t.ideal for t in timings] + [1e-9])
    longest = max([longest, *(max(t.values, default=0.0) for t in timings)])
    unit, f = time_unit(longest)
    labels = [plain_text(_short(t.label, MAX_LABEL_CHARS)) for t in timings]
    left = text_width_in(labels, 9, bold=True) + 0.2
    top = TITLE_IN * (title.count("\n") + 1) if title else 0.15
    bottom = AXIS_IN + LEGEND_ROW_IN + 0.08
    plot_h = 0.55 * n
    fig = Figure(figsize=(WIDTH_IN, top + plot_h + bottom))
    ax = fig.add_axes(_frac(fig, left, bottom, WIDTH_IN - left - 0.2, plot_h))
    ys = list(range(n))[::-1]  # first variant on top
    for y, t in zip(ys, timings, strict=True):
        ax.barh(y, t.median * f, height=0.62, color=t.color, alpha=0.88, zorder=2)
        low, high = max(t.median - t.p5, 0.0), max(t.p95 - t.median, 0.0)
        ax.errorbar(
            t.median * f, y, xerr=[[low * f], [high * f]], fmt="none", ecolor="#333333",
            elinewidth=1.2, capsize=4, zorder=4,
        )  # fmt: skip
        values = _thin(t.values, MAX_DOTS)
        offsets = _spread_offsets(len(values), 0.42)
        ax.scatter(
            [v * f for v in values], [y + o for o in offsets], s=9, color="#222222",
            alpha=0.35, linewidths=0, zorder=3,
        )  # fmt: skip
        if t.ideal > 0:
            ax.vlines(t.ideal * f, y - 0.42, y + 0.42, zorder=5, **IDEAL_STYLE)
        right = max([t.p95, t.ideal, *values]) * f
        ax.text(
            right + longest * f * 0.015, y, format_seconds(t.median), va="center", fontsize=8.5,
            color="#222222", zorder=6,
        )  # fmt: skip
    ax.set_yticks(ys, labels)
    for tick, t in zip(ax.get_yticklabels(), timings, strict=True):
        tick.set_color(ANTI_COLORS[0] if t.anti_pattern else "#222222")
        tick.set_fontweight("bold" if t.anti_pattern else "normal")
    ax.set_xlim(0, longest * f * 1.16)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlabel(f"time per call ({unit}): median, p5–p95, each run as a dot")
    ax.grid(axis="x", color=GRID_COLOR)
    if title:
        ax.set_title(plain_text(title), loc="left", x=-left / (WIDTH_IN - left - 0.2) + 0.01)
    handles = []
    if any(t.anti_pattern for t in timings):
        handles.append(Patch(color=ANTI_COLORS[0], label="anti-pattern"))
    if not all(t.anti_pattern for t in timings):
        handles.append(Patch(color=FIX_COLORS[0], label="fix"))
    if any(t.ideal > 0 for t in timings):
        handles.append(Line2D([], [], label="ideal", **IDEAL_STYLE))
    _legend(fig, handles, ncols=len(handles))
    return fig


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
    widths = [text_width_in([h.get_label()], 8) + 0.45 for h in handles]
    for ncols in range(len(widths), 1, -1):
        rows = [widths[i : i + ncols] for i in range(0, len(widths), ncols)]
        if all(sum(row) <= room_in for row in rows):
            return ncols
    return 1


@_styled
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
        _thin(sorted(lane.requests, key=lambda r: float(r["start_s"])), MAX_TIMELINE_ROWS)
        for lane in lanes
    ]
    tick_labels = [
        [plain_text(_short(str(r.get("path", "")))) for r in rows] if len(rows) <= 12 else []
        for rows in rows_of
    ]
    names = [t for ts in tick_labels for t in ts] + [LOOP_LABEL, "requests"]
    left = max(text_width_in(names, 7) + 0.15, 0.4)
    width = WIDTH_IN - left - 0.2
    pixel_s = longest * 1.03 / (width * SCREEN_DPI)
    request_h = [
        min(2.2, max(0.45, 0.2 + 0.09 * min(len(rows), 20))) if rows else 0.0 for rows in rows_of
    ]
    loop_h = LOOP_ROW_IN if loop_row else 0.0
    heights = [
        req + loop_h + (LOOP_GAP_IN if loop_row and req else 0.0) or 0.45 for req in request_h
    ]
    band = 0.3  # each panel's title line
    top = TITLE_IN if title else 0.05
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
        handles.append(Line2D([], [], label="ideal", **IDEAL_STYLE))
    ncols = _legend_columns(handles, WIDTH_IN - 0.5)
    legend_rows = -(-len(handles) // ncols) if handles else 0
    bottom = AXIS_IN + LEGEND_ROW_IN * legend_rows + 0.08
    fig_h = top + sum(heights) + band * len(lanes) + bottom
    fig = Figure(figsize=(WIDTH_IN, fig_h))
    y_top = fig_h - top
    axes = []
    for lane, rows, labels, height, req_h in zip(
        lanes, rows_of, tick_labels, heights, request_h, strict=True
    ):
        y_top -= band + height
        ax = fig.add_axes(_frac(fig, left, y_top, width, height), sharex=axes[0] if axes else None)
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
            ax.axvline(lane.ideal * f, zorder=3, **IDEAL_STYLE)
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
            plain_text(name), loc="left", fontsize=9, color=lane.color, fontweight="bold", pad=4
        )
        ax.set_title(plain_text(note), loc="right", fontsize=7.5, color="#555555", pad=4)
        ax.grid(axis="x", color=GRID_COLOR)
    axes[-1].tick_params(axis="x", labelbottom=True)
    axes[-1].set_xlim(0, longest * f * 1.03)
    axes[-1].set_xlabel(f"time since the probe run started ({unit})")
    if title:
        fig.text(
            0.1 / WIDTH_IN, 1 - 0.08 / fig_h, plain_text(title), ha="left", va="top", fontsize=10,
            fontweight="bold",
        )  # fmt: skip
    _legend(fig, handles, ncols=ncols)
    return inline_svg(render_svg(fig, uid), uid, title)


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
    name = _short(lane.label, 60) + (" (anti-pattern)" if lane.anti_pattern else "")
    notes = _lane_notes(lane, shown, blocking, blocking_ms)
    name_in = text_width_in([name], 9, bold=True)
    for note in notes:
        if name_in + text_width_in([note], 7.5) + 0.2 <= width_in:
            return name, note
    note = notes[-1]
    room = width_in - text_width_in([note], 7.5) - 0.2
    while len(name) > 12 and text_width_in([name], 9, bold=True) > room:
        name = _short(name, len(name) - 4)
    return name, note


def _short(path: str, width: int = 28) -> str:
    return path if len(path) <= width else path[: width - 1] + "…"


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


@_styled
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
        label = _short(trace.label, MAX_LABEL_CHARS)
        label = f"{label} (max {trace.max_ms:.1f} ms)" if trace.max_ms else label
        handles.append(Line2D([], [], color=trace.color, label=plain_text(label), linewidth=1.6))
    ncols = min(len(handles), 3) or 1
    rows = -(-len(handles) // ncols)
    top = TITLE_IN if title else 0.15
    bottom = AXIS_IN + LEGEND_ROW_IN * rows + 0.08
    plot_h = 2.2
    fig = Figure(figsize=(WIDTH_IN, top + plot_h + bottom))
    ax = fig.add_axes(_frac(fig, 0.7, bottom, WIDTH_IN - 0.9, plot_h))
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
    ax.grid(axis="y", color=GRID_COLOR)
    if title:
        ax.set_title(plain_text(title), loc="left", x=-0.6 / (WIDTH_IN - 0.9))
    _legend(fig, handles, ncols=ncols)
    return inline_svg(render_svg(fig, uid), uid, title)


def standalone_timing_svg(timings: Sequence[Timing], title: str = "") -> str:
    """The bar chart as a standalone SVG file (for the README), prolog and namespaces kept."""
    return render_svg(timing_figure(timings, title), "readme")
