"""The charts of one scenario section: time per call, the loop timeline, and loop lag.

Each takes variant records as the results file holds them and returns ``Chart``s (inline SVG
and the sentence under it); a chart that has nothing to show is left out, with a note why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from asyncio_perf_lab.reports import headline
from asyncio_perf_lab.reports.charts_bars import Timing, timing_chart
from asyncio_perf_lab.reports.charts_lag import LagTrace, lag_chart
from asyncio_perf_lab.reports.charts_timeline import Lane, timeline_chart, timeline_extent
from asyncio_perf_lab.reports.units import format_seconds

__all__ = ["Chart", "loop_timeline", "scenario_charts", "timings_of"]

# The probes' default threshold (benchmarks.probes.callbacks.DEFAULT_THRESHOLD_S, 20 ms), for
# results files written before probes recorded ``blocking_threshold_ms``.
BLOCKING_THRESHOLD_MS = 20.0
MIN_TIMELINE_S = 5e-6  # callback times are kept to the µs: a shorter run has nothing to draw


@dataclass(frozen=True)
class Chart:
    """One inline SVG chart and the sentence under it."""

    svg: str
    caption: str


def timings_of(variants: Sequence[Mapping[str, Any]], colors: Sequence[str]) -> list[Timing]:
    """The bar-chart data of each variant record."""
    return [
        Timing(
            label=v["label"],
            median=v["stats"]["median"],
            p5=v["stats"]["p5"],
            p95=v["stats"]["p95"],
            ideal=v["ideal_s"],
            values=v["values"],
            anti_pattern=v["anti_pattern"],
            color=color,
        )
        for v, color in zip(variants, colors, strict=True)
    ]


def loop_timeline(
    variants: Sequence[Mapping[str, Any]], colors: Sequence[str], uid: str
) -> tuple[Chart | None, str]:
    """The loop-and-requests timeline of a scenario, or a note saying why there is none."""
    lanes = [
        Lane(
            label=v["label"],
            requests=v["probe"]["requests"],
            ideal=v["ideal_s"] or None,
            note=f"server saw max {v['probe']['server']['max_in_flight']} in flight",
            anti_pattern=v["anti_pattern"],
            color=color,
            callbacks=v["probe"].get("callbacks"),
        )
        for v, color in zip(variants, colors, strict=True)
    ]
    loop = any(lane.callbacks for lane in lanes)
    requests = any(lane.requests for lane in lanes)
    threshold_ms = max(
        v["probe"].get("blocking_threshold_ms", BLOCKING_THRESHOLD_MS) for v in variants
    )
    if not loop and not requests:
        return None, ""
    extent = timeline_extent(lanes)
    if extent < MIN_TIMELINE_S:
        return None, (
            f"Loop timeline: too short to draw (everything happened within "
            f"{format_seconds(extent)})."
        )
    if not loop:
        return Chart(
            timeline_chart(lanes, "Requests over time", uid=f"{uid}-requests"),
            "One bar per HTTP request of one probe run, from start to last byte: awaited one "
            "by one they form a staircase, started together they stack.",
        ), ""
    title = "The event loop and the requests over time" if requests else "The event loop over time"
    caption = (
        "What actually happens behind the scenes: one probe run per variant, all on one time "
        "axis. The top row of each panel is the event loop: every callback it ran (dark; "
        "callbacks closer than a pixel merge), and in red those that held it for "
        f"{threshold_ms:g} ms or more."
    )
    if requests:
        caption += (
            " Below it, one bar per HTTP request from start to last byte: awaited one by one "
            "they form a staircase, started together they stack. A light red shade marks each "
            "blocking stretch: meanwhile the loop could not start, read or finish any request."
        )
    svg = timeline_chart(lanes, title, uid=f"{uid}-timeline", blocking_ms=threshold_ms)
    return Chart(svg, caption), ""


def scenario_charts(
    scenario: Mapping[str, Any], colors: Sequence[str], uid: str, notes: list[str] | None = None
) -> list[Chart]:
    """Bar chart, loop and request timeline (if anything was recorded), lag chart (if it matters).

    Why a chart is missing (a run too short to draw) is appended to ``notes``.
    """
    notes = notes if notes is not None else []
    variants = scenario["variants"]
    timings = timings_of(variants, colors)
    result = [
        Chart(
            timing_chart(timings, "Time per call", uid=f"{uid}-time"),
            "Bars are medians; whiskers p5–p95; dots every timed value; dashed the ideal time.",
        )
    ]
    timeline, note = loop_timeline(variants, colors, uid)
    if timeline is not None:
        result.append(timeline)
    notes.extend([note] if note else [])
    if headline.lag_matters(variants):
        traces = [
            LagTrace(
                label=v["label"],
                series=v["probe"]["loop_lag"]["series"],
                anti_pattern=v["anti_pattern"],
                color=color,
                max_ms=headline.max_lag_ms(v),
            )
            for v, color in zip(variants, colors, strict=True)
        ]
        result.append(
            Chart(
                lag_chart(traces, "Event-loop lag", uid=f"{uid}-lag"),
                "How late a timer due at each moment would have fired (a 1 ms timer chain ran "
                "during the probe run): each ramp is a stretch in which the loop could run nothing "
                "else; its peak is the length of that stall.",
            )
        )
    return result
