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
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.textpath import TextPath

from reports.units import format_seconds, time_unit

# Colours by role: anti-patterns red-ish, fixes blue/green, the ideal black and dashed.
ANTI_COLORS = ("#d62728", "#e8743b", "#9e1b32", "#f28e8e")
FIX_COLORS = ("#1f77b4", "#2ca02c", "#17becf", "#3f51b5", "#6a994e", "#0b7285", "#74a9cf")
IDEAL_COLOR = "#111111"
IDEAL_STYLE = {"color": IDEAL_COLOR, "linestyle": (0, (4, 2)), "linewidth": 1.4}
GRID_COLOR = "#e3e3e3"
# Request phases worth seeing on a timeline; the rest of a request is drawn in its variant colour.
PHASE_COLORS = {"pool_wait": "#bdbdbd", "dns": "#9467bd", "connect": "#ffb000"}
PHASE_LABELS = {"pool_wait": "waiting for a pool slot", "dns": "DNS", "connect": "connecting"}

WIDTH_IN = 9.6  # at 96 px per inch a chart fills the page column at its natural text size
MAX_TIMELINE_ROWS = 200  # a panel is ~150 px tall: more rows than pixels only bloats the SVG
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
    """One variant's requests for the timeline: dicts with start_s, end_s and optional phases."""

    label: str
    requests: Sequence[Mapping[str, Any]]
    ideal: float | None = None
    note: str = ""
    anti_pattern: bool = False
    color: str = FIX_COLORS[0]


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
    prop = FontProperties(size=size, weight="bold" if bold else "normal")
    widths = [TextPath((0, 0), t, prop=prop).get_extents().width for t in texts if t.strip()]
    return max(widths, default=0.0) / 72 * 1.08  # a little room for the browser's font


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


def _bars_patch(rects: list[list[tuple[float, float]]], color: str) -> PathPatch:
    """All rectangles of one colour as a single compound path: one SVG element, not thousands."""
    vertices = [point for rect in rects for point in rect]
    codes = [MplPath.MOVETO, MplPath.LINETO, MplPath.LINETO, MplPath.LINETO, MplPath.CLOSEPOLY]
    return PathPatch(
        MplPath(vertices, codes * len(rects)), facecolor=color, edgecolor="none", zorder=2
    )


@_styled
def timeline_chart(lanes: Sequence[Lane], title: str = "", uid: str = "timeline") -> str:
    """A Gantt chart per variant (shared time axis): one bar per request, from start to end.

    Awaited one by one the bars form a staircase; started together they stack. Waiting for a
    pool slot and connecting are shaded, so queueing behind a connector limit shows too.
    """
    ends = [float(r["end_s"]) for lane in lanes for r in lane.requests]
    ideals = [lane.ideal for lane in lanes if lane.ideal]
    longest = max([*ends, *ideals, 1e-9])
    unit, f = time_unit(longest)
    rows_of = [
        _thin(sorted(lane.requests, key=lambda r: float(r["start_s"])), MAX_TIMELINE_ROWS)
        for lane in lanes
    ]
    tick_labels = [
        [plain_text(_short(str(r.get("path", "")))) for r in rows] if len(rows) <= 12 else []
        for rows in rows_of
    ]
    left = max(text_width_in([t for ts in tick_labels for t in ts], 7) + 0.15, 0.4)
    heights = [min(2.2, max(0.45, 0.2 + 0.09 * min(len(rows), 20))) for rows in rows_of]
    band = 0.3  # each panel's title line
    top = TITLE_IN if title else 0.05
    bottom = AXIS_IN + LEGEND_ROW_IN + 0.08
    fig = Figure(figsize=(WIDTH_IN, top + sum(heights) + band * len(lanes) + bottom))
    width = WIDTH_IN - left - 0.2
    y_top = top + sum(heights) + band * len(lanes) + bottom - top
    axes = []
    phases_seen: set[str] = set()
    for lane, rows, labels, height in zip(lanes, rows_of, tick_labels, heights, strict=True):
        y_top -= band + height
        ax = fig.add_axes(_frac(fig, left, y_top, width, height), sharex=axes[0] if axes else None)
        axes.append(ax)
        by_color: dict[str, list[list[tuple[float, float]]]] = {}
        for y, req in enumerate(rows):
            start, end = float(req["start_s"]) * f, float(req["end_s"]) * f
            by_color.setdefault(lane.color, []).append(_rect(start, end, y, 0.38))
            at = start
            for phase, seconds in (req.get("phases") or {}).items():
                span = float(seconds) * f
                if phase in PHASE_COLORS and span > 0:
                    by_color.setdefault(PHASE_COLORS[phase], []).append(
                        _rect(at, at + span, y, 0.38)
                    )
                    phases_seen.add(phase)
                at += span
        for color, rects in by_color.items():
            # add_artist, not add_patch: autoscaling would walk every vertex, and limits are set.
            ax.add_artist(_bars_patch(rects, color))
        if lane.ideal:
            ax.axvline(lane.ideal * f, zorder=3, **IDEAL_STYLE)
        ax.set_ylim(max(len(rows), 1) - 0.4, -0.6)  # first request on top: the stair goes down
        if labels:
            ax.set_yticks(range(len(rows)), labels)
            ax.tick_params(axis="y", labelsize=7, length=2)
        else:
            ax.set_yticks([])
            ax.set_ylabel("requests", fontsize=7.5)
        ax.tick_params(axis="x", labelbottom=False)
        count = len(lane.requests)
        shown = f"{len(rows)} evenly sampled of " if len(rows) < count else ""
        note = f"{shown}{count} request{'s' if count != 1 else ''}"
        if lane.note:
            note += f" · {lane.note}"
        if not count:
            note = "no HTTP requests"
        name = _short(lane.label, 60) + (" (anti-pattern)" if lane.anti_pattern else "")
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
            0.1 / WIDTH_IN, 1 - 0.08 / fig.get_size_inches()[1], plain_text(title), ha="left",
            va="top", fontsize=10, fontweight="bold",
        )  # fmt: skip
    handles: list[Any] = [
        Patch(color=color, label=PHASE_LABELS[phase])
        for phase, color in PHASE_COLORS.items()
        if phase in phases_seen
    ]
    if ideals:
        handles.append(Line2D([], [], label="ideal", **IDEAL_STYLE))
    _legend(fig, handles, ncols=len(handles))
    return inline_svg(render_svg(fig, uid), uid, title)


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
