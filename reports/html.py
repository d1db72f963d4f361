"""The report page: a view-model built from a results document, rendered by a Jinja2 template.

Everything the template shows is computed here as plain, already formatted values, so the template
stays a layout and stays escaped: autoescape is on and the only markup passed through unescaped is
the SVG our own chart functions produce. Text with inline code (`like this`) is split into
segments instead of being turned into HTML, so it can never smuggle markup.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from asyncio_perf_lab.reports import charts, headline
from asyncio_perf_lab.reports.units import (
    format_ms,
    format_percent,
    format_range,
    format_ratio,
    format_seconds,
)

TEMPLATES = Path(__file__).with_name("templates")
MAX_BLOCKING_ROWS = 5  # per variant; a flood of slow callbacks is summarised, not listed
# The probes' default threshold (benchmarks.probes.callbacks.DEFAULT_THRESHOLD_S, 20 ms), for
# results files written before probes recorded ``blocking_threshold_ms``.
BLOCKING_THRESHOLD_MS = 20.0
MIN_TIMELINE_S = 5e-6  # callback times are kept to the µs: a shorter run has nothing to draw
MAX_RESULT_ITEMS = 20  # a returned list of up to this many short scalars reads as a sequence
MAX_ITEM_CHARS = 60
MAX_OBSERVATION_COLUMNS = 5  # more observation names than this: a row per name instead
OVERHEAD_WARN_RATIO = 1.25  # full tracing slowing the probe run by this much deserves a word
LOCATED = {
    "sampled": ("sampled", "the watchdog thread saw this line running during the callback"),
    "next-await": (
        "next await",
        "no sample landed (the callback held the GIL in C code): this is the await its task "
        "reached next",
    ),
}

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
    result: ResultView | None = None
    overhead: str = ""
    overhead_high: bool = False


@dataclass(frozen=True)
class ResultView:
    """What a variant's probe run returned (``probe.result``, a JSON preview)."""

    text: str  # pretty-printed JSON, or the preview as stored when it does not parse
    compact: str  # the preview as stored: one line of JSON
    items: list[str] | None  # a short list of scalars, read as a sequence (an order, say)
    cut: bool  # the producer cut the preview short
    same_as: str  # the label of an earlier variant that returned the same, or ""


@dataclass(frozen=True)
class BlockingRow:
    """One callback that held the loop past the threshold."""

    duration: str
    task: str
    function: str
    where: str
    inner: str  # a deeper library frame it was in, or ""
    located: str
    located_hint: str


@dataclass(frozen=True)
class BlockingGroup:
    """A variant's longest blocking callbacks (``probe.blocking``)."""

    label: str
    anti_pattern: bool
    color: str
    rows: list[BlockingRow]
    more: int  # further blocking callbacks not listed


@dataclass(frozen=True)
class ObservationRow:
    """One variant's row of the observations table."""

    label: str
    anti_pattern: bool
    color: str
    values: list[str]


@dataclass(frozen=True)
class ObservationTable:
    """``probe.observations`` of a scenario: variants x observation names.

    A row per variant, a column per name; with more names than fit across the page the table
    is transposed (a row per name). Names come with break points after underscores.
    """

    names: list[list[str]]  # each name split after its underscores
    rows: list[ObservationRow]
    transposed: bool


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
            )
        )
    return views


def _added(ratio: Any) -> str:
    """A probed/unprobed time ratio as the share of time the probe added: 1.003 -> "+0.3%"."""
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or ratio <= 0:
        return "–"
    added = (ratio - 1) * 100
    return f"{added:+.1f}%" if abs(added) < 10 else f"{added:+.0f}%"


def overhead_text(overhead: Any) -> tuple[str, bool]:
    """The probe run's estimated overhead (``probe.overhead``) in one line, and whether it is high.

    The ratios are upper bounds on how much the instruments stretched the probe run (the timed
    runs carry none), so a reader knows how far to trust its timeline and lag figures.
    """
    if not isinstance(overhead, Mapping):
        return "", False
    lag, full = overhead.get("lag_sampler_ratio"), overhead.get("full_tracing_ratio")
    if lag is None and full is None:
        return "", False
    high = isinstance(full, int | float) and full >= OVERHEAD_WARN_RATIO
    return f"lag sampler {_added(lag)}, full tracing {_added(full)}", high


def _scalar_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def result_view(preview: Any, same_as: str = "") -> ResultView | None:
    """A variant's returned value (``probe.result``, JSON text) as the page shows it."""
    if not isinstance(preview, str):
        return None
    try:
        value = json.loads(preview)
    except ValueError:
        return ResultView(preview, preview, None, preview.endswith("…"), same_as)
    items = None
    if (
        isinstance(value, list)
        and 0 < len(value) <= MAX_RESULT_ITEMS
        and all(isinstance(x, str | int | float | bool) or x is None for x in value)
        and all(len(_scalar_text(x)) <= MAX_ITEM_CHARS for x in value)
    ):
        items = [_scalar_text(x) for x in value]
    text = json.dumps(value, indent=1, ensure_ascii=False)
    pretty = text if len(text) <= 4 * len(preview) else preview
    return ResultView(pretty, preview, items, False, same_as)


def result_views(variants: Sequence[Mapping[str, Any]]) -> list[ResultView | None]:
    """Each variant's returned value, naming the first earlier variant that returned the same."""
    seen: dict[str, str] = {}
    views = []
    for v in variants:
        preview = v["probe"].get("result")
        same_as = seen.get(preview, "") if isinstance(preview, str) else ""
        views.append(result_view(preview, same_as))
        if isinstance(preview, str):
            seen.setdefault(preview, v["label"])
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


def loop_timeline(
    variants: Sequence[Mapping[str, Any]], colors: Sequence[str], uid: str
) -> tuple[Chart | None, str]:
    """The loop-and-requests timeline of a scenario, or a note saying why there is none."""
    lanes = [
        charts.Lane(
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
    extent = charts.timeline_extent(lanes)
    if extent < MIN_TIMELINE_S:
        return None, (
            f"Loop timeline: too short to draw (everything happened within "
            f"{format_seconds(extent)})."
        )
    if not loop:
        return Chart(
            charts.timeline_chart(lanes, "Requests over time", uid=f"{uid}-requests"),
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
    svg = charts.timeline_chart(lanes, title, uid=f"{uid}-timeline", blocking_ms=threshold_ms)
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
            charts.timing_chart(timings, "Time per call", uid=f"{uid}-time"),
            "Bars are medians; whiskers p5–p95; dots every timed value; dashed the ideal time.",
        )
    ]
    timeline, note = loop_timeline(variants, colors, uid)
    if timeline is not None:
        result.append(timeline)
    notes.extend([note] if note else [])
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
    variants: Sequence[Mapping[str, Any]], colors: Sequence[str]
) -> ObservationTable | None:
    """Scenario-specific figures (``probe.observations``) of every variant, or None if none."""
    names: list[str] = []
    for v in variants:
        names += [k for k in v["probe"].get("observations") or {} if k not in names]
    if not names:
        return None
    rows = [
        ObservationRow(
            label=v["label"],
            anti_pattern=v["anti_pattern"],
            color=color,
            values=[_number((v["probe"].get("observations") or {}).get(n, "–")) for n in names],
        )
        for v, color in zip(variants, colors, strict=True)
    ]
    return ObservationTable(
        names=[re.split(r"(?<=_)", name) for name in names],
        rows=rows,
        transposed=len(names) > MAX_OBSERVATION_COLUMNS,
    )


def _text(value: Any) -> str:
    return "–" if value is None or value == "" else str(value)


def _duration_ms(entry: Mapping[str, Any]) -> float:
    value = entry.get("duration_ms")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def blocking_row(entry: Mapping[str, Any]) -> BlockingRow:
    """One ``probe.blocking`` entry, formatted; missing fields read as a dash."""
    duration = entry.get("duration_ms")
    watchdog = entry.get("source") == "watchdog"  # uvloop: a gap in the lag heartbeat
    how = entry.get("located")
    located, hint = LOCATED.get(how, (_text(how), "")) if isinstance(how, str) else ("", "")
    # No task: the callback probe knows a plain callback ran; the watchdog just saw no task.
    no_task = "–" if watchdog else "plain callback"
    approx = "≈ " if watchdog else ""
    return BlockingRow(
        duration=approx + format_ms(duration) if isinstance(duration, int | float) else "–",
        task=str(entry["task"]) if entry.get("task") else no_task,
        function=_text(entry.get("function")),
        where=_text(entry.get("where")),
        inner=str(entry.get("inner") or ""),
        located=located or "not located",
        located_hint=hint,
    )


def blocking_groups(
    variants: Sequence[Mapping[str, Any]], colors: Sequence[str]
) -> list[BlockingGroup]:
    """Each variant's longest callbacks that held the loop past the threshold (top 5)."""
    groups = []
    for v, color in zip(variants, colors, strict=True):
        entries = [e for e in v["probe"].get("blocking") or [] if isinstance(e, Mapping)]
        if not entries:
            continue
        entries.sort(key=lambda e: -_duration_ms(e))
        groups.append(
            BlockingGroup(
                label=v["label"],
                anti_pattern=v["anti_pattern"],
                color=color,
                rows=[blocking_row(e) for e in entries[:MAX_BLOCKING_ROWS]],
                more=max(len(entries) - MAX_BLOCKING_ROWS, 0),
            )
        )
    return groups


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
        headline=headline.headline(variants),
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
