"""The look every chart shares, and how a matplotlib figure becomes SVG inside a page.

matplotlib's object API (``Figure`` + the SVG canvas) is used instead of pyplot, so no GUI backend
or global figure registry is ever involved and nothing needs closing. Each chart is rendered under
``style`` (text stays text, ids are deterministic) and post-processed by ``inline_svg`` so several
charts can live in one HTML page: no XML prolog, no namespaces, no global style, and ids made
unique per chart. Colours say a variant's role: anti-patterns red-ish, fixes blue/green, the ideal
black and dashed.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ParamSpec, TypeVar

import matplotlib
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, get_font

__all__ = [
    "ANTI_COLORS",
    "AXIS_IN",
    "FIX_COLORS",
    "GRID_COLOR",
    "IDEAL_STYLE",
    "LEGEND_ROW_IN",
    "TITLE_IN",
    "WIDTH_IN",
    "axes_rect",
    "chart_svg",
    "corner_legend",
    "inline_svg",
    "plain_text",
    "render_svg",
    "role_colors",
    "shorten",
    "spread_offsets",
    "style",
    "styled",
    "text_width_in",
    "thin_evenly",
]

ANTI_COLORS = ("#d62728", "#e8743b", "#9e1b32", "#f28e8e")
FIX_COLORS = ("#1f77b4", "#2ca02c", "#17becf", "#3f51b5", "#6a994e", "#0b7285", "#74a9cf")
IDEAL_COLOR = "#111111"
IDEAL_STYLE = {"color": IDEAL_COLOR, "linestyle": (0, (4, 2)), "linewidth": 1.4}
GRID_COLOR = "#e3e3e3"

WIDTH_IN = 9.6  # at 96 px per inch a chart fills the page column at its natural text size
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
def style(**overrides: Any) -> Iterator[None]:
    """The lab's matplotlib style, leaving global rcParams untouched.

    Text is written as text and drawn by the browser's fonts, so a glyph missing from the font
    matplotlib measures with (an emoji in a label, say) costs nothing: its warning is dropped.
    """
    with matplotlib.rc_context({**_RC, **overrides}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        yield


def styled(build: Callable[P, R]) -> Callable[P, R]:
    """Run a chart builder under ``style``."""

    @functools.wraps(build)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with style():
            return build(*args, **kwargs)

    return wrapper


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


def axes_rect(fig: Figure, left: float, bottom: float, width: float, height: float) -> list[float]:
    """An axes rectangle given in inches, as the figure fractions ``add_axes`` wants."""
    w, h = fig.get_size_inches()
    return [left / w, bottom / h, width / w, height / h]


def corner_legend(fig: Figure, handles: list[Any], ncols: int, right_in: float = 0.15) -> None:
    """The legend in the figure's bottom-right corner, under the x axis label."""
    if not handles:
        return
    w, h = fig.get_size_inches()
    fig.legend(
        handles=handles, loc="lower right", bbox_to_anchor=(1 - right_in / w, 0.04 / h),
        ncols=ncols, frameon=False, fontsize=8, handlelength=1.8, columnspacing=1.4,
        borderaxespad=0,
    )  # fmt: skip


def chart_svg(fig: Figure, uid: str, title: str = "") -> str:
    """A figure as SVG ready for a page: rendered with ``uid`` as its salt, then inlined."""
    return inline_svg(render_svg(fig, uid), uid, title)


def render_svg(fig: Figure, salt: str) -> str:
    """The figure as a standalone SVG document (no creator or date metadata, stable ids)."""
    buf = io.StringIO()
    with style(**{"svg.hashsalt": salt}):
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


def spread_offsets(count: int, width: float) -> list[float]:
    """Deterministic jitter in [-width/2, width/2] (golden-ratio sequence): no random module."""
    return [((i * 0.6180339887) % 1.0 - 0.5) * width for i in range(count)]


def thin_evenly(values: Sequence[Any], limit: int) -> list[Any]:
    """At most ``limit`` of ``values``, evenly spaced: more points than pixels only bloat an SVG."""
    if len(values) <= limit:
        return list(values)
    step = len(values) / limit
    return [values[int(i * step)] for i in range(limit)]


def shorten(path: str, width: int = 28) -> str:
    """``path`` cut to ``width`` characters with an ellipsis, so a label never crowds its chart."""
    return path if len(path) <= width else path[: width - 1] + "…"
