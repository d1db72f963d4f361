"""The comparison page: one self-contained HTML file rendered from a comparison dict alone.

The dict is what ``benchmarks.compare.Comparison.to_dict()`` writes as comparison.json; this module
never imports the code that made it. Each variant gets a strip chart (inline SVG, no network):
every raw value of base and head on one shared time axis, the medians marked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from asyncio_perf_lab.reports.units import format_seconds

TEMPLATES = Path(__file__).with_name("templates")
STRIP_WIDTH, STRIP_ROW, STRIP_PAD = 360, 18, 6


def strip_chart(base: Sequence[float], head: Sequence[float]) -> dict[str, Any]:
    """Dot positions (x in px) of both sides' values on a shared axis, plus both medians."""
    everything = [*base, *head]
    if not everything:
        return {"width": STRIP_WIDTH, "height": 0, "rows": []}
    low, high = min(everything), max(everything)
    span = (high - low) or high or 1.0

    def x(value: float) -> float:
        return round(STRIP_PAD + (value - low) / span * (STRIP_WIDTH - 2 * STRIP_PAD), 1)

    rows = []
    for i, (name, values) in enumerate((("base", base), ("head", head))):
        if not values:
            continue
        ordered = sorted(values)
        mid = len(ordered) // 2
        median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
        rows.append(
            {
                "name": name,
                "y": STRIP_PAD + i * STRIP_ROW + STRIP_ROW / 2,
                "dots": [x(v) for v in values],
                "median_x": x(median),
            }
        )
    return {
        "width": STRIP_WIDTH,
        "height": 2 * STRIP_ROW + 2 * STRIP_PAD,
        "rows": rows,
        "low": format_seconds(low),
        "high": format_seconds(high),
    }


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # labels, notes and paths are data: never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["seconds"] = format_seconds
    return env


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
    template = _environment().get_template("compare.html.j2")
    return template.render(c=comparison, variants=variants)
