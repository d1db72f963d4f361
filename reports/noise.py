"""Noise, for the gate: what counts as independent, each variant's own floor, what blocks a verdict.

Pure functions (docs/gate.md tells the why at length):

- **Independent values.** Values timed in one worker process share that process's luck (memory
  layout, hash seed, which core, a neighbour's burst): they are not independent, and a rank test
  that treats 12 values of 4 processes as 12 observations can be fooled by one lucky process.
  So the gate ranks *per-process medians* (``units``): one observation per worker process. Each
  ``ab`` run and each process of a ``run`` is fresh, so those are independent draws.
- **Noise that blocks a verdict** (checked on the raw values): a disturbed side (too many values
  far from its median) or one too spread to rule a floor-sized slowdown out.
- **A/A floor.** The same job already holds an A/A comparison: a side's own runs, split into its
  first and second run of each ABBA round (even and odd positions). The change between the
  medians of those two halves is what identical code shows in this job, on this machine, for
  this variant (``aa_spread``). The effect floor is the larger side's A/A change, never below
  the minimum (``GateSettings.floor``, 3%): a quiet latency-bound variant can fail at +3%, a
  CPU-bound one that wobbles 20% between processes cannot false-alarm on its wobble.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from asyncio_perf_lab.reports.mannwhitney import min_p_value
from asyncio_perf_lab.reports.stats import median, robust_cv

Settings = Any  # reports.gate.GateSettings (max_cv, outlier_distance, max_outlier_share)

__all__ = [
    "MIN_AA_UNITS",
    "aa_spread",
    "both_sides",
    "effect_floor",
    "judgeable",
    "outlier_problems",
    "runs_needed",
    "split_runs",
    "spread_problems",
    "units",
]

MIN_AA_UNITS = 4  # two per half: fewer gives no A/A estimate, and the minimum floor applies


def units(values: Sequence[float], runs: Sequence[Sequence[float]]) -> tuple[float, ...]:
    """The independent observations: each run's (process's) median; the values when ungrouped."""
    return tuple(median(run) for run in runs if run) if runs else tuple(values)


def split_runs(values: Sequence[float], processes: int | None) -> tuple[tuple[float, ...], ...]:
    """``values`` cut into ``processes`` equal runs in order (how pyperf concatenates them);
    empty when the grouping cannot be known (no count, or values that do not divide evenly)."""
    if not processes or processes < 1 or len(values) % processes:
        return ()
    size = len(values) // processes
    return tuple(tuple(values[i * size : (i + 1) * size]) for i in range(processes))


def aa_spread(side_units: Sequence[float]) -> float | None:
    """|median(even-position units) / median(odd-position units) - 1|: one side against itself.

    Units are in run order, so the halves are each ABBA round's first and second run of that
    side: the same code, interleaved with the other side like the A/B itself. None with fewer
    than ``MIN_AA_UNITS`` units.
    """
    if len(side_units) < MIN_AA_UNITS:
        return None
    first, second = median(side_units[0::2]), median(side_units[1::2])
    return abs(first / second - 1) if second > 0 else None


def effect_floor(
    base_units: Sequence[float], head_units: Sequence[float], minimum: float
) -> tuple[float, float | None]:
    """(the variant's effect floor, its measured A/A spread or None): max(minimum, A/A)."""
    spreads = [s for s in (aa_spread(base_units), aa_spread(head_units)) if s is not None]
    spread = max(spreads) if spreads else None
    return max(minimum, spread or 0.0), spread


def runs_needed(alpha: float, limit: int = 64) -> int:
    """Fewest independent runs a side for which a one-sided U test can reach ``alpha`` at all."""
    return next(n for n in range(1, limit + 1) if min_p_value(n, n) < alpha or n == limit)


def spread_problems(values: Sequence[float], settings: Settings) -> list[str]:
    """Why the spread of ``values`` could hide a floor-sized change (empty when it could not)."""
    cv = robust_cv(values)
    return [f"CV {cv:.0%} > {settings.max_cv:.0%}"] if cv > settings.max_cv else []


def outlier_problems(values: Sequence[float], settings: Settings) -> list[str]:
    """Why ``values`` look disturbed: too many far from the median (empty when they do not)."""
    middle = median(values)
    far = [v for v in values if abs(v - middle) > settings.outlier_distance * middle]
    if len(far) <= settings.max_outlier_share * len(values):
        return []
    worst = max(far, key=lambda v: abs(v - middle)) / middle - 1
    return [
        f"{len(far)} of {len(values)} values over {settings.outlier_distance:.0%} "
        f"from the median (worst {worst:+.0%})"
    ]


Check = Callable[[Sequence[float], Settings], list[str]]


def both_sides(
    check: Check, base: Sequence[float], head: Sequence[float], settings: Settings
) -> list[str]:
    """A check's problems with either side, each named by its side."""
    return [f"base {p}" for p in check(base, settings)] + [
        f"head {p}" for p in check(head, settings)
    ]


def judgeable(results: Mapping[str, Any], settings: Settings) -> str | None:
    """Why a run's files cannot give any verdict at ``settings.alpha``, naming the profile
    that would (None when they can): said before judging, not after."""
    processes = (results["run"].get("pyperf") or {}).get("processes")
    if not processes:
        return None
    needed = runs_needed(settings.alpha)
    if min_p_value(processes, processes) < settings.alpha:
        return None
    return (
        f"{results['run']['id']} ran {processes} worker process(es) a variant (profile "
        f"{results['run']['profile']}); the gate ranks one median per process, so a verdict at "
        f"alpha {settings.alpha:g} needs >= {needed} a side: run both with --profile rigorous "
        "(6 processes), or use `asyncio-lab ab`, which interleaves both sides in one job"
    )
