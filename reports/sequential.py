"""Stopping an A/B's rounds early once its verdict is certain (sequential testing, one-way).

An unchanged variant is most of any A/B, and its last rounds buy nothing when no result they
could bring can turn the verdict. After each round, for each variant still running, the gate
asks: if every run still to come went the worst way (all of head's slower than anything seen and
all of base's faster, or the mirror), could the one-sided U test on the per-process medians
reach ``alpha``? If neither direction can, no regression and no improvement is possible, and the
variant stops with a "pass" on what it has.

The rule only ever stops to *pass*. It never declares a regression early, so it cannot add a
false alarm; a true slowdown of the floor's size that looked settled after two rounds would be a
miss, which ``asyncio-lab selfbench gate`` measures (power). It stops only clean data: a side
that is disturbed or too spread to rule out a slowdown runs all its rounds, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

from asyncio_perf_lab.reports.gate import GateSettings, Sample, VariantComparison
from asyncio_perf_lab.reports.mannwhitney import mann_whitney_u
from asyncio_perf_lab.reports.noise import (
    both_sides,
    effect_floor,
    outlier_problems,
    spread_problems,
)
from asyncio_perf_lab.reports.stats import median

__all__ = ["best_case_p", "settled_pass"]


def best_case_p(
    head_units: Sequence[float], base_units: Sequence[float], runs_left: int, slower: bool
) -> float:
    """The smallest one-sided p any ``runs_left`` more units a side could still give.

    For "slower" the worst case is every new head unit above all seen and every new base unit
    below all seen (the mirror for "faster"): pairs already ranked stay ranked, the new ones all
    count for the change.
    """
    seen = [*head_units, *base_units]
    high, low = 2 * max(seen) + 1.0, -abs(2 * max(seen)) - 1.0
    up, down = (high, low) if slower else (low, high)
    head = [*head_units, *[up] * runs_left]
    base = [*base_units, *[down] * runs_left]
    return mann_whitney_u(head, base, "greater" if slower else "less").p


def settled_pass(
    key: str,
    base: Sample | None,
    head: Sample | None,
    runs_left: int,
    settings: GateSettings,
) -> VariantComparison | None:
    """A "pass" if no ``runs_left`` more runs a side could reach a verdict; else None (go on)."""
    if base is None or head is None or not base.values or not head.values or runs_left < 1:
        return None
    b, h = base.values, head.values
    if both_sides(outlier_problems, b, h, settings) or both_sides(spread_problems, b, h, settings):
        return None  # unclean data runs all its rounds, as without this rule
    bu, hu = base.units, head.units
    best = min(best_case_p(hu, bu, runs_left, True), best_case_p(hu, bu, runs_left, False))
    if best < settings.alpha:
        return None
    slower, faster = mann_whitney_u(hu, bu, "greater"), mann_whitney_u(hu, bu, "less")
    ratio = median(hu) / median(bu)
    floor, spread = effect_floor(bu, hu, settings.floor)
    reason = (
        f"change {ratio - 1:+.1%}, settled after {len(hu)} runs a side: even if all {runs_left} "
        f"runs left a side went one way, p could not go below {settings.alpha:g} "
        f"(best case p={best:.2g})"
    )
    return VariantComparison(
        key,
        head.label or base.label,
        "pass",
        reason,
        b,
        h,
        ratio=ratio,
        p_slower=slower.p,
        p_faster=faster.p,
        method=slower.method,
        floor=floor,
        aa_spread=spread,
        units=(len(bu), len(hu)),
        grouped=bool(base.runs and head.runs),
    )
