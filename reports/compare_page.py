"""The comparison page: one self-contained HTML file rendered from a comparison dict alone.

The dict is what ``reports.gate.Comparison.to_dict()`` gives and ``compare``/``ab`` write as
comparison.json, so the page can be rebuilt from that file. Each variant gets a strip chart (inline
SVG, no network): every raw value of base and head on one shared time axis, the medians marked;
with each variant its own effect floor and A/A spread, and a table of both sides' environments
(Python, loop, aiohttp, uvloop, pyperf versions), what differs highlighted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from asyncio_perf_lab.reports.pages import render_page, write_page
from asyncio_perf_lab.reports.stats import median
from asyncio_perf_lab.reports.units import format_seconds

__all__ = ["build_compare_page", "environment_rows", "render_compare_page", "strip_chart"]

STRIP_WIDTH, STRIP_ROW, STRIP_PAD = 360, 18, 6
ENV_FIELDS = (
    ("python", "Python"),
    ("implementation", "implementation"),
    ("executable", "interpreter"),
    ("loop", "event loop"),
    ("loop_version", "loop version"),
    ("aiohttp", "aiohttp"),
    ("uvloop", "uvloop"),
    ("pyperf", "pyperf"),
    ("orjson", "orjson"),
    ("requirements", "requirement set"),
    ("venv", "virtualenv"),
)


def environment_rows(environments: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One row per environment fact either side recorded; ``differs`` marks what changed."""
    if not environments:
        return []
    base, head = environments.get("base") or {}, environments.get("head") or {}
    rows = []
    for key, name in ENV_FIELDS:
        if key in base or key in head:
            b, h = base.get(key), head.get(key)
            rows.append({"name": name, "base": b or "-", "head": h or "-", "differs": b != h})
    return rows


def strip_chart(base: Sequence[float], head: Sequence[float]) -> dict[str, Any]:
    """Dot positions (x in px) of both sides' values on a shared axis, plus both medians."""
    everything = [*base, *head]
    if not everything:
        return {"width": STRIP_WIDTH, "height": 0, "rows": []}
    low, high = min(everything), max(everything)
    span = (high - low) or high or 1.0

    def x(value: float) -> float:
        return round(STRIP_PAD + (value - low) / span * (STRIP_WIDTH - 2 * STRIP_PAD), 1)

    rows = [
        {
            "name": name,
            "y": STRIP_PAD + i * STRIP_ROW + STRIP_ROW / 2,
            "dots": [x(v) for v in values],
            "median_x": x(median(values)),
        }
        for i, (name, values) in enumerate((("base", base), ("head", head)))
        if values
    ]
    return {
        "width": STRIP_WIDTH,
        "height": 2 * STRIP_ROW + 2 * STRIP_PAD,
        "rows": rows,
        "low": format_seconds(low),
        "high": format_seconds(high),
    }


def render_compare_page(comparison: Mapping[str, Any]) -> str:
    """The HTML comparison page of a comparison dict (kind asyncio-perf-lab/comparison)."""
    variants = [
        {
            **item,
            "chart": strip_chart(
                (item["base"] or {}).get("values", []), (item["head"] or {}).get("values", [])
            ),
        }
        for item in comparison["variants"]
    ]
    rows = environment_rows((comparison.get("meta") or {}).get("environments"))
    return render_page("compare.html.j2", c=comparison, variants=variants, env_rows=rows)


def build_compare_page(comparison: Mapping[str, Any], out_path: str | os.PathLike[str]) -> Path:
    """Write the comparison page of a comparison dict atomically; return its path."""
    return write_page(out_path, render_compare_page(comparison))
