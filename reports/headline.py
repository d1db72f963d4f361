"""The plain-language sentences of a scenario, computed from its numbers (never written by hand).

A reader who skips every chart should still learn the result: how much faster the best fix is than
the anti-pattern (and how much faster it could be, per the ideal model), and, where the loop was
blocked, how far the fix brings loop lag down. Functions take variant records as they appear in
the results file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from asyncio_perf_lab.reports.units import format_ms, format_percent, format_ratio, format_seconds

Variant = Mapping[str, Any]

SAME_SPEED = 0.05  # within 5% either way, two medians read "about as fast"
LAG_MATTERS_MS = 5.0  # a max loop lag from here on is worth a sentence (and a chart)


def median(variant: Variant) -> float:
    """The median seconds per call of a variant record."""
    return float(variant["stats"]["median"])


def max_lag_ms(variant: Variant) -> float:
    """The worst loop lag the probe run saw, in ms."""
    return float(variant["probe"]["loop_lag"]["max_ms"])


def baseline(variants: Sequence[Variant]) -> Variant | None:
    """The anti-pattern the fixes are measured against: the first one declared, if any."""
    return next((v for v in variants if v["anti_pattern"]), None)


def best_fix(variants: Sequence[Variant]) -> Variant | None:
    """The fastest variant that is not an anti-pattern (by median)."""
    fixes = [v for v in variants if not v["anti_pattern"]]
    return min(fixes, key=median) if fixes else None


def speedup(base: Variant, other: Variant) -> float | None:
    """How many times faster ``other`` is than ``base`` (base median / other median)."""
    return median(base) / median(other) if median(other) > 0 else None


def speed_sentence(variants: Sequence[Variant]) -> str:
    """The best fix against the anti-pattern, measured and ideal: "X is 2.9x faster than Y"."""
    anti, fix = baseline(variants), best_fix(variants)
    if anti is None or fix is None:
        fastest = min(variants, key=median)
        eff = fastest.get("efficiency")
        of_ideal = f" ({format_percent(eff)} of ideal speed)" if eff is not None else ""
        return f"Fastest: {fastest['label']} at {format_seconds(median(fastest))}{of_ideal}."
    ratio = speedup(anti, fix)
    if ratio is None:
        return f"{fix['label']} finished too fast to compare with {anti['label']}."
    if abs(ratio - 1) <= SAME_SPEED:
        sentence = (
            f"{fix['label']} takes about as long as {anti['label']} "
            f"({format_seconds(median(fix))} vs {format_seconds(median(anti))})"
        )
    elif ratio > 1:
        sentence = f"{fix['label']} is {format_ratio(ratio)} faster than {anti['label']}"
    else:
        sentence = f"{fix['label']} is {format_ratio(1 / ratio)} slower than {anti['label']}"
    if anti["ideal_s"] > 0 and fix["ideal_s"] > 0:
        sentence += f"; ideal {format_ratio(anti['ideal_s'] / fix['ideal_s'])}"
    return sentence + "."


def lag_sentence(variants: Sequence[Variant]) -> str:
    """Where the anti-pattern blocked the loop: how far the calmest fix brings worst lag down."""
    anti = baseline(variants)
    fixes = [v for v in variants if not v["anti_pattern"]]
    if anti is None or not fixes or max_lag_ms(anti) < LAG_MATTERS_MS:
        return ""
    calm = min(fixes, key=max_lag_ms)
    if max_lag_ms(calm) > max_lag_ms(anti) / 2:
        return f"Loop lag stays high: worst {format_ms(max_lag_ms(anti))} in {anti['label']}."
    return (
        f"The loop's worst stall drops from {format_ms(max_lag_ms(anti))} ({anti['label']}) "
        f"to {format_ms(max_lag_ms(calm))} ({calm['label']})."
    )


TEACHES_ALL = ("time", "loop_lag")  # a results file without ``teaches`` (older runs)


def headline(variants: Sequence[Variant], teaches: Sequence[str] = TEACHES_ALL) -> str:
    """The scenario's result in one or two sentences, claiming only what the scenario teaches:
    "time" (the speed sentence) and "loop_lag" (the stall sentence); none, no headline."""
    sentences = (
        speed_sentence(variants) if "time" in teaches else "",
        lag_sentence(variants) if "loop_lag" in teaches else "",
    )
    return " ".join(s for s in sentences if s)


def lag_matters(variants: Sequence[Variant]) -> bool:
    """Whether any variant stalled the loop long enough that a lag chart is worth its space."""
    return any(max_lag_ms(v) >= LAG_MATTERS_MS for v in variants)
