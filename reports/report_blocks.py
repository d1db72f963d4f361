"""The tables and notes of one scenario section: returned values, observations, blocking callbacks,
and the probe's overhead. Each is a small view built from the probe records of the results file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from asyncio_perf_lab.reports.units import format_ms, format_number

__all__ = [
    "BlockingGroup",
    "BlockingRow",
    "ObservationRow",
    "ObservationTable",
    "ResultView",
    "blocking_groups",
    "blocking_row",
    "observation_table",
    "overhead_text",
    "result_view",
    "result_views",
]

MAX_BLOCKING_ROWS = 5  # per variant; a flood of slow callbacks is summarised, not listed
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


def observed(variant: Mapping[str, Any]) -> Mapping[str, Any]:
    """A variant's scenario-specific figures (``probe.observations``; older files have none)."""
    return variant["probe"].get("observations") or {}


def observation_table(
    variants: Sequence[Mapping[str, Any]], colors: Sequence[str]
) -> ObservationTable | None:
    """Scenario-specific figures (``probe.observations``) of every variant, or None if none."""
    names = list(dict.fromkeys(name for v in variants for name in observed(v)))
    if not names:
        return None
    rows = [
        ObservationRow(
            label=v["label"],
            anti_pattern=v["anti_pattern"],
            color=color,
            values=[format_number(observed(v).get(n, "–")) for n in names],
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
