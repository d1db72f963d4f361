"""The report page: a view-model built from a results document, rendered by ``report.html.j2``.

Everything the template shows is computed here (and in ``report_blocks``, ``report_charts``) as
plain, already formatted values, so the template stays a layout and stays escaped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from asyncio_perf_lab.reports import headline
from asyncio_perf_lab.reports.budgets import budget_check
from asyncio_perf_lab.reports.chart_style import role_colors
from asyncio_perf_lab.reports.pages import Segment, generated_now, inline_segments, render_page
from asyncio_perf_lab.reports.report_blocks import (
    MAX_BLOCKING_ROWS,
    BlockingGroup,
    ObservationTable,
    ResultView,
    blocking_groups,
    observation_table,
    overhead_text,
    result_views,
)
from asyncio_perf_lab.reports.report_charts import Chart, scenario_charts
from asyncio_perf_lab.reports.units import (
    format_ms,
    format_number,
    format_percent,
    format_range,
    format_ratio,
    format_seconds,
    format_utc,
)

__all__ = ["ReportView", "ScenarioView", "VariantView", "render_report", "report_view"]


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
    result: ResultView | None = None
    overhead: str = ""
    overhead_high: bool = False
    ideal_estimate: bool = False  # the scenario labels its ideal an estimate, not a floor
    ideal_above: bool = False  # the runner's guard: the ideal is above the fastest value


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
    observations: ObservationTable | None
    blocking: list[BlockingGroup]
    results_differ: bool
    results_status: tuple[str, str]  # ("ok" | "warn" | "info" | "", sentence)
    returned: list[tuple[VariantView, ResultView]]  # shown up front where results may differ
    notes: list[str] = field(default_factory=list)


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
    max_blocking: int = MAX_BLOCKING_ROWS
    incomplete: Mapping[str, Any] | None = None  # the run stopped early: reason, missing


def anchor_of(index: int, name: str) -> str:
    """A unique, attribute-safe id for a scenario section (names come from the results file)."""
    return f"s{index}-" + (re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "scenario")


def budget_status(variant: Mapping[str, Any]) -> tuple[str, str, bool | None]:
    """(status, detail, ok?) of a variant's budget (the rule in ``reports.budgets``)."""
    if variant.get("budget") is None:
        return "", "", None
    check = budget_check(variant)
    if check is None:
        return "not gated", "ideal is 0", None
    if check.over:
        return "over budget", f"{check.ratio:.2f}x > {check.budget:g}x", False
    return "ok", f"{check.ratio:.2f}x ≤ {check.budget:g}x", True


def variant_views(
    variants: Sequence[Mapping[str, Any]], colors: Sequence[str]
) -> list[VariantView]:
    """Formatted numbers of each variant, with its speed-up against the scenario's anti-pattern."""
    base = headline.baseline(variants)
    results = result_views(variants)
    views = []
    for variant, color, result in zip(variants, colors, results, strict=True):
        stats, probe = variant["stats"], variant["probe"]
        lag = probe["loop_lag"]
        ratio = headline.speedup(base, variant) if base is not None else None
        budget, budget_detail, budget_ok = budget_status(variant)
        overhead, overhead_high = overhead_text(probe.get("overhead"))
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
                result=result,
                overhead=overhead,
                overhead_high=overhead_high,
                ideal_estimate=variant.get("ideal_kind") == "estimate",
                ideal_above=bool(variant.get("ideal_above_measured")),
            )
        )
    return views


def results_status(scenario: Mapping[str, Any]) -> tuple[str, str]:
    """Whether the variants returned equal results (``results_equal``), as a class and sentence."""
    if "results_equal" not in scenario:
        return "", ""
    equal = scenario["results_equal"]
    if equal is True:
        return "ok", "All variants returned equal results."
    if equal is False:
        return "warn", (
            "RESULTS DIFFER: these variants should return equal results but did not; "
            "see what each returned below."
        )
    return "info", "Variants differ on purpose: what each returned is part of the lesson."


def scenario_view(index: int, scenario: Mapping[str, Any]) -> ScenarioView:
    """Everything one scenario section shows."""
    variants = scenario["variants"]
    colors = role_colors([v["anti_pattern"] for v in variants])
    anchor = anchor_of(index, scenario["name"])
    workload = ", ".join(f"{k}={format_number(v)}" for k, v in scenario["workload"].items())
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
    views = variant_views(variants, colors)
    notes: list[str] = []
    chart_list = scenario_charts(scenario, colors, anchor, notes)
    returned = []
    if scenario.get("results_equal") is not True:
        returned = [(view, view.result) for view in views if view.result is not None]
    return ScenarioView(
        anchor=anchor,
        name=scenario["name"],
        title=scenario["title"],
        question=inline_segments(scenario["question"]),
        lesson=inline_segments(scenario["lesson"]),
        headline=headline.headline(variants, scenario.get("teaches", headline.TEACHES_ALL)),
        setup=setup,
        variants=views,
        charts=chart_list,
        observations=observation_table(variants, colors),
        blocking=blocking_groups(variants, colors),
        results_differ=scenario.get("results_equal") is False,
        results_status=results_status(scenario),
        returned=returned,
        notes=notes,
    )


def run_meta(run: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The run's context, so a number is never read without the machine and settings behind it."""
    env = run["env"]
    loop = run["loop"] + (f" {env['loop_version']}" if env.get("loop_version") else "")
    load = env.get("load_avg") or []
    revision = env.get("git_revision")
    if revision:
        revision = revision[:12] + (" (uncommitted changes)" if env.get("git_dirty") else "")
    pyperf = ", ".join(f"{k}={format_number(v)}" for k, v in run.get("pyperf", {}).items())
    return [
        ("Python", f"{env['implementation']} {env['python']}"),
        ("Event loop", loop),
        ("aiohttp", env["aiohttp"]),
        ("pyperf", env["pyperf"]),
        ("CPUs", str(env["cpu_count"])),
        ("Load average", " / ".join(f"{x:.2f}" for x in load) + " (1, 5, 15 min)" if load else "–"),
        ("Profile", run["profile"] + (f" ({pyperf})" if pyperf else "")),
        ("Latency override", run.get("latency_override") or "none: each scenario's own"),
        ("Date", format_utc(run["created"], seconds=True)),
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
        title=f"asyncio-perf-lab report: run {run['id']}"
        + (" (incomplete)" if run.get("incomplete") else ""),
        run_id=run["id"],
        meta=run_meta(run),
        scenarios=scenarios,
        has_budgets=any(
            v.get("budget") is not None for s in results["scenarios"] for v in s["variants"]
        ),
        generated=generated_now(),
        source=source,
        incomplete=run.get("incomplete"),
    )


def render_report(results: Mapping[str, Any], source: str = "") -> str:
    """The complete, self-contained HTML page of a results document."""
    return render_page("report.html.j2", report=report_view(results, source))
