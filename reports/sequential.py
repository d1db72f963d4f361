"""Stopping an A/B's rounds early once its verdict is certain (sequential testing, one-way).

An unchanged variant is most of any A/B, and its last rounds buy nothing when no result they
could bring can turn the verdict. After each round, for each variant still running, the gate
asks: if every run still to come went the worst way (all of head's slower than anything seen and
all of base's faster, or the mirror), could the one-sided U test on the per-process medians
reach ``alpha``? If neither direction can, no regression and no improvement is possible, and the
variant stops with the verdict its data already gives: a "pass" on clean data, or
"inconclusive" where a side is too spread to rule a floor-sized slowdown out (more runs of the
same spread would leave it so; they could only have turned it into a pass).

The rule never stops to flag, so it cannot add a false alarm; a true slowdown of the floor's
size that looked settled after two rounds would be a miss, which ``asyncio-lab selfbench gate``
measures (power). A disturbed side (too many outliers) runs all its rounds: its verdict is
blocked by a disturbance that more runs may outgrow.
"""

from __future__ import annotations

from collections.abc import Sequence

from asyncio_perf_lab.reports.gate import GateSettings, Sample, VariantComparison, too_noisy
from asyncio_perf_lab.reports.mannwhitney import mann_whitney_u
from asyncio_perf_lab.reports.noise import (
    both_sides,
    effect_floor,
    outlier_problems,
    spread_problems,
)
from asyncio_perf_lab.reports.stats import median

__all__ = ["best_case_p", "settled"]


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


def settled(
    key: str,
    base: Sample | None,
    head: Sample | None,
    runs_left: int,
    settings: GateSettings,
) -> VariantComparison | None:
    """The verdict now if no ``runs_left`` more runs a side could turn it; else None (go on).

    Only a pass, or an inconclusive for spread, is ever settled: never a regression, an
    improvement or a disturbed side.
    """
    if base is None or head is None or not base.values or not head.values or runs_left < 1:
        return None
    if both_sides(outlier_problems, base.values, head.values, settings):
        return None  # disturbed: more runs may outgrow it
    bu, hu = base.units, head.units
    best = min(best_case_p(hu, bu, runs_left, True), best_case_p(hu, bu, runs_left, False))
    if best < settings.alpha:
        return None
    slower, faster = mann_whitney_u(hu, bu, "greater"), mann_whitney_u(hu, bu, "less")
    ratio = median(hu) / median(bu)
    floor, spread = effect_floor(bu, hu, settings.floor)
    how = (
        f"settled after {len(hu)} runs a side: even if all {runs_left} runs left a side went "
        f"one way, p could not go below {settings.alpha:g} (best case p={best:.2g})"
    )
    if noise := both_sides(spread_problems, base.values, head.values, settings):
        outcome, cause = "inconclusive", "too_noisy"
        reason = f"{too_noisy(floor, noise, ratio)}; {how}"
    else:
        outcome, cause, reason = "pass", None, f"change {ratio - 1:+.1%}, {how}"
    return VariantComparison(
        key,
        head.label or base.label,
        outcome,
        reason,
        base.values,
        head.values,
        ratio=ratio,
        p_slower=slower.p,
        p_faster=faster.p,
        method=slower.method,
        floor=floor,
        aa_spread=spread,
        units=(len(bu), len(hu)),
        grouped=bool(base.runs and head.runs),
        cause=cause,
    )
