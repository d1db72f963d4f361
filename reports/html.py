"""The report page: a view-model built from a results document, rendered by a Jinja2 template.

Everything the template shows is computed here as plain, already formatted values, so the template
stays a layout and stays escaped: autoescape is on and the only markup passed through unescaped is
the SVG our own chart functions produce. Text with inline code (`like this`) is split into
segments instead of being turned into HTML, so it can never smuggle markup.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from reports import charts, headline
from reports.units import format_ms, format_percent, format_range, format_ratio, format_seconds

TEMPLATES = Path(__file__).with_name("templates")
MAX_BLOCKING_ROWS = 10  # per variant; a flood of slow callbacks is summarised, not listed

Segment = tuple[str, str]  # (kind, text): kind is "text", "code" or "em"


@dataclass(frozen=True)
class Chart:
    """One inline SVG chart and the sentence under it."""

    svg: str
    caption: str


@dataclass(frozen=True)
class VariantView:
    """One variant as the summary table and its scenario section show it."""

    name: str
    label: str
    anti_pattern: bool
    baseline: bool
    color: str
    median: str
    spread: str
    ideal: str
    efficiency: str
    speedup: str
    lag: str
    in_flight: str
    budget: str  # "ok", "over budget", "not gated" (ideal 0) or "" (no budget)
    budget_detail: str  # median/ideal against the budget, e.g. "1.03x ≤ 1.3x"
    budget_ok: bool | None
    why: str
    doc: str
    source: str


@dataclass(frozen=True)
class ScenarioView:
    """One scenario section: its text, its numbers, its charts and its code."""

    anchor: str
    name: str
    title: str
    question: list[Segment]
    lesson: list[Segment]
    headline: str
    setup: list[tuple[str, str]]
    variants: list[VariantView]
    charts: list[Chart]
    observations: tuple[list[str], list[tuple[str, list[str]]]]  # (variant labels, rows)
    blocking: list[tuple[str, str, str, str]]
    results_differ: bool


@dataclass(frozen=True)
class ReportView:
    """The whole page."""

    title: str
    run_id: str
    meta: list[tuple[str, str]]
    scenarios: list[ScenarioView]
    has_budgets: bool
    generated: str
    source: str = ""
    notes: list[str] = field(default_factory=list)


def inline_segments(text: str) -> list[Segment]:
    """Split text into plain, `code` and *emphasis* segments (the markdown a lesson may use)."""
    segments: list[Segment] = []
    for i, part in enumerate(re.split(r"`([^`]+)`", text)):
        if i % 2:
            segments.append(("code", part))
            continue
        for j, piece in enumerate(re.split(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", part)):
            if piece:
                segments.append(("em" if j % 2 else "text", piece))
    return segments


def anchor_of(index: int, name: str) -> str:
    """A unique, attribute-safe id for a scenario section (names come from the results file)."""
    return f"s{index}-" + (re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "scenario")


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return str(value) if isinstance(value, int) else f"{value:.4g}"


def budget_status(variant: Mapping[str, Any]) -> tuple[str, str, bool | None]:
    """(status, detail, ok?) of a variant's budget on median/ideal; ok is None when not gated."""
    budget, ideal = variant.get("budget"), variant["ideal_s"]
    if budget is None:
        return "", "", None
    if ideal <= 0:
        return "not gated", "ideal is 0", None
    ratio = headline.median(variant) / ideal
    if ratio <= budget:
        return "ok", f"{ratio:.2f}x ≤ {budget:g}x", True
    return "over budget", f"{ratio:.2f}x > {budget:g}x", False


def variant_views(
    variants: Sequence[Mapping[str, Any]], colors: Sequence[str]
) -> list[VariantView]:
    """Formatted numbers of each variant, with its speed-up against the scenario's anti-pattern."""
    base = headline.baseline(variants)
    views = []
    for variant, color in zip(variants, colors, strict=True):
        stats, probe = variant["stats"], variant["probe"]
        lag = probe["loop_lag"]
        ratio = headline.speedup(base, variant) if base is not None else None
        budget, budget_detail, budget_ok = budget_status(variant)
        views.append(
            VariantView(
                name=variant["name"],
                label=variant["label"],
                anti_pattern=variant["anti_pattern"],
                baseline=variant is base,
                color=color,
                median=format_seconds(stats["median"]),
                spread=format_range(stats["p5"], stats["p95"]),
                ideal=format_seconds(variant["ideal_s"]) if variant["ideal_s"] > 0 else "–",
                efficiency=format_percent(variant.get("efficiency")),
                speedup="baseline" if variant is base else format_ratio(ratio),
                lag=f"{format_ms(lag['p99_ms'], unit=False)} / {format_ms(lag['max_ms'])}",
                in_flight=str(probe["server"]["max_in_flight"]),
                budget=budget,
                budget_detail=budget_detail,
                budget_ok=budget_ok,
                why=variant["why"],
                doc=variant["doc"],
                source=variant["source"],
            )
        )
    return views


def timings_of(variants: Sequence[Mapping[str, Any]], colors: Sequence[str]) -> list[charts.Timing]:
    """The bar-chart data of each variant record."""
    return [
        charts.Timing(
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


def scenario_charts(scenario: Mapping[str, Any], colors: Sequence[str], uid: str) -> list[Chart]:
    """Bar chart, request timeline (if requests were made), lag chart (if lag matters)."""
    variants = scenario["variants"]
    timings = timings_of(variants, colors)
    result = [
        Chart(
            charts.timing_chart(timings, "Time per call", uid=f"{uid}-time"),
            "Bars are medians; whiskers p5–p95; dots every timed value; dashed the ideal time.",
        )
    ]
    if any(v["probe"]["requests"] for v in variants):
        lanes = [
            charts.Lane(
                label=v["label"],
                requests=v["probe"]["requests"],
                ideal=v["ideal_s"] or None,
                note=f"server saw max {v['probe']['server']['max_in_flight']} in flight",
                anti_pattern=v["anti_pattern"],
                color=color,
            )
            for v, color in zip(variants, colors, strict=True)
        ]
        result.append(
            Chart(
                charts.timeline_chart(lanes, "Requests over time", uid=f"{uid}-requests"),
                "One bar per HTTP request of one probe run, from start to last byte: awaited one "
                "by one they form a staircase, started together they stack.",
            )
        )
    if headline.lag_matters(variants):
        traces = [
            charts.LagTrace(
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
                charts.lag_chart(traces, "Event-loop lag", uid=f"{uid}-lag"),
                "How late a timer due at each moment would have fired (a 1 ms timer chain ran "
                "during the probe run): each ramp is a stretch in which the loop could run nothing "
                "else; its peak is the length of that stall.",
            )
        )
    return result


def observation_table(
    variants: Sequence[Mapping[str, Any]],
) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Scenario-specific figures (``probe.observations``): a row per name, a column per variant."""
    names: list[str] = []
    for v in variants:
        names += [k for k in v["probe"].get("observations", {}) if k not in names]
    if not names:
        return [], []
    rows = [
        (name, [_number(v["probe"]["observations"].get(name, "–")) for v in variants])
        for name in names
    ]
    return [v["label"] for v in variants], rows


def blocking_rows(variants: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str, str]]:
    """Callbacks that held the loop past the threshold: variant, duration, task, where."""
    rows = []
    for v in variants:
        entries = v["probe"].get("blocking") or []
        for entry in entries[:MAX_BLOCKING_ROWS]:
            duration = entry.get("duration_ms")
            rows.append(
                (
                    v["label"],
                    format_ms(duration) if isinstance(duration, int | float) else "–",
                    str(entry.get("task", "–")),
                    str(entry.get("where", "–")),
                )
            )
        if len(entries) > MAX_BLOCKING_ROWS:
            rows.append((v["label"], "", f"… {len(entries) - MAX_BLOCKING_ROWS} more", ""))
    return rows


def scenario_view(index: int, scenario: Mapping[str, Any]) -> ScenarioView:
    """Everything one scenario section shows."""
    variants = scenario["variants"]
    colors = charts.role_colors([v["anti_pattern"] for v in variants])
    anchor = anchor_of(index, scenario["name"])
    workload = ", ".join(f"{k}={_number(v)}" for k, v in scenario["workload"].items())
    machine = scenario.get("machine", {})
    cpu = ", ".join(f"{k}={format_seconds(v)}" for k, v in machine.get("cpu_s", {}).items())
    setup = [
        (
            "latency",
            f"{scenario['latency']} (ideal model uses {format_seconds(scenario['latency_s'])})",
        ),
        ("workload", workload or "–"),
        ("machine", f"{machine.get('cores', '?')} cores" + (f"; calibrated {cpu}" if cpu else "")),
    ]
    return ScenarioView(
        anchor=anchor,
        name=scenario["name"],
        title=scenario["title"],
        question=inline_segments(scenario["question"]),
        lesson=inline_segments(scenario["lesson"]),
        headline=headline.headline(variants),
        setup=setup,
        variants=variant_views(variants, colors),
        charts=scenario_charts(scenario, colors, anchor),
        observations=observation_table(variants),
        blocking=blocking_rows(variants),
        results_differ=scenario.get("results_equal") is False,
    )


def _created(text: str) -> str:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def run_meta(run: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The run's context, so a number is never read without the machine and settings behind it."""
    env = run["env"]
    loop = run["loop"] + (f" {env['loop_version']}" if env.get("loop_version") else "")
    load = env.get("load_avg") or []
    revision = env.get("git_revision")
    if revision:
        revision = revision[:12] + (" (uncommitted changes)" if env.get("git_dirty") else "")
    pyperf = ", ".join(f"{k}={_number(v)}" for k, v in run.get("pyperf", {}).items())
    return [
        ("Python", f"{env['implementation']} {env['python']}"),
        ("Event loop", loop),
        ("aiohttp", env["aiohttp"]),
        ("pyperf", env["pyperf"]),
        ("CPUs", str(env["cpu_count"])),
        ("Load average", " / ".join(f"{x:.2f}" for x in load) + " (1, 5, 15 min)" if load else "–"),
        ("Profile", run["profile"] + (f" ({pyperf})" if pyperf else "")),
        ("Latency override", run.get("latency_override") or "none: each scenario's own"),
        ("Date", _created(run["created"])),
        ("Git revision", revision or "unknown"),
        ("Platform", env["platform"]),
        ("Host", env.get("hostname") or "–"),
        ("Run", run["id"] + (f", {run['wall_s']:.0f} s" if "wall_s" in run else "")),
    ]


def report_view(results: Mapping[str, Any], source: str = "") -> ReportView:
    """The view-model of a whole results document."""
    run = results["run"]
    scenarios = [scenario_view(i, s) for i, s in enumerate(results["scenarios"], start=1)]
    return ReportView(
        title=f"asyncio-perf-lab report: run {run['id']}",
        run_id=run["id"],
        meta=run_meta(run),
        scenarios=scenarios,
        has_budgets=any(
            v.get("budget") is not None for s in results["scenarios"] for v in s["variants"]
        ),
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        source=source,
    )


@cache
def environment() -> jinja2.Environment:
    """The template environment: autoescape always on, undefined names are errors."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(results: Mapping[str, Any], source: str = "") -> str:
    """The complete, self-contained HTML page of a results document."""
    return environment().get_template("report.html.j2").render(report=report_view(results, source))
