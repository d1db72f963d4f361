"""The regression gate's rules: base vs head timing values of each variant, one outcome each.

Pure: no I/O beyond loading the two results files in ``compare_files``, no printing. The
``compare`` and ``ab`` commands (benchmarks/) time, print and write; this module judges.

Per variant (matched by ``scenario:variant``) the gate runs a one-sided Mann-Whitney U test on
independent values, one per worker process (its median: ``reports.noise_floor.units``), and holds
the change of their median against the variant's own effect floor: its A/A spread measured in the
same job, never below ``GateSettings.floor`` (3%) (``reports.noise_floor``; docs/gate.md):

- **regression**: head is slower with p < alpha *and* its median is at least ``floor`` slower;
- **improvement**: the same, faster;
- **pass**: neither, on clean data (a significant change smaller than the floor passes: it is not
  worth a red CI);
- **inconclusive**: the data cannot answer, for one of three documented reasons:

  - *too few independent values* for the test to ever reach alpha: 4 vs 4 processes cannot go
    below p = 1/70 = 0.014, so at alpha 0.01 they could only ever "pass"; the gate says so;
  - *a disturbed run*: more than ``max_outlier_share`` (1 in 8) of a side's values lie over
    ``outlier_distance`` (50%, pyperf's "the minimum/maximum is 50% smaller/greater than the
    mean" warning) from its median. One or two spikes are normal on a shared runner and the
    rank test shrugs them off; when every 4th value is one, something hit that side and a
    difference may be that, not the code. This blocks every verdict;
  - *too noisy to rule out a slowdown*: a side's coefficient of variation is above ``max_cv``
    (10%, pyperf's "the standard deviation is over 10% of the mean" warning), taken robustly as
    IQR / 1.349 over the median (stdev / mean for normal data, but one spike does not double
    it). Spread can hide a regression, it cannot fake one (the U test allows for it and both
    sides are interleaved), so it blocks only a "pass": a slowdown that clears both the test
    and the floor is still reported, and an ``ab`` re-run confirms it on fresh runs;
- **new** / **removed**: the variant exists on one side only (reported, never a failure).

Exit codes: 0 pass, 1 any regression, 2 bad input, 3 inconclusive (and no regression).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from asyncio_perf_lab.reports.errors import UsageError
from asyncio_perf_lab.reports.mannwhitney import mann_whitney_u, min_p_value
from asyncio_perf_lab.reports.noise import (
    both_sides,
    effect_floor,
    judgeable,
    outlier_problems,
    runs_needed,
    split_runs,
    spread_problems,
    units,
)
from asyncio_perf_lab.reports.results_file import load_results
from asyncio_perf_lab.reports.stats import median, summarize

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INCONCLUSIVE",
    "EXIT_PASS",
    "EXIT_REGRESSION",
    "OUTCOMES",
    "Comparison",
    "GateSettings",
    "Outcome",
    "Sample",
    "VariantComparison",
    "compare_files",
    "compare_results",
    "compare_samples",
    "confirm",
    "judge",
    "outlier_problems",
    "samples_of",
    "spread_problems",
    "too_noisy",
]

Outcome = Literal["pass", "regression", "improvement", "inconclusive", "new", "removed"]
# Why a verdict is inconclusive: too few runs, a disturbed side, or the variant's own spread.
Cause = Literal["few_runs", "disturbed", "too_noisy"]
OUTCOMES: tuple[Outcome, ...] = (
    "regression",
    "inconclusive",
    "improvement",
    "pass",
    "new",
    "removed",
)
EXIT_PASS, EXIT_REGRESSION, EXIT_BAD_INPUT, EXIT_INCONCLUSIVE = 0, 1, 2, 3
COMPARISON_KIND = "asyncio-perf-lab/comparison"


@dataclass(frozen=True)
class GateSettings:
    """How sure (alpha), how large (floor) and how clean (noise bounds) a change must be."""

    alpha: float = 0.01
    floor: float = 0.03  # the minimum effect floor; a variant's A/A spread can raise its own
    max_cv: float = 0.10  # robust CV (IQR/1.349 over the median) above this: too noisy
    outlier_distance: float = 0.50  # a value this far from the median is an outlier (pyperf: 50%)
    max_outlier_share: float = 0.125  # more outliers than this share of values: too noisy

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise UsageError(f"--alpha must be between 0 and 1 (exclusive), not {self.alpha}")
        if not 0 <= self.floor < 1:
            raise UsageError(f"--floor must be between 0% and 100%, not {self.floor:.0%}")


@dataclass(frozen=True)
class Sample:
    """One side's raw timing values (seconds per call) of one variant, and its display label.

    ``runs`` groups the values by worker process, in the order the processes ran; the gate
    ranks one median per run. Without it each value counts as independent.
    """

    values: tuple[float, ...]
    label: str = ""
    runs: tuple[tuple[float, ...], ...] = ()

    @classmethod
    def of_runs(cls, runs: Sequence[Sequence[float]], label: str = "") -> Sample:
        """A sample from its runs' values (each run one worker process)."""
        grouped = tuple(tuple(run) for run in runs if run)
        return cls(tuple(v for run in grouped for v in run), label, grouped)

    @property
    def units(self) -> tuple[float, ...]:
        """The independent values the test ranks: per-run medians (or the values, ungrouped)."""
        return units(self.values, self.runs)


@dataclass(frozen=True)
class VariantComparison:
    """The gate's verdict on one variant, with the figures it was reached from."""

    key: str  # scenario:variant
    label: str
    outcome: Outcome
    reason: str
    base: Sequence[float] = ()
    head: Sequence[float] = ()
    ratio: float | None = None  # head median / base median
    p_slower: float | None = None
    p_faster: float | None = None
    method: str | None = None
    first_outcome: Outcome | None = None  # set when a re-run decided
    floor: float | None = None  # this variant's effect floor: max(minimum, A/A spread)
    aa_spread: float | None = None  # the larger side's A/A change in this job (None: unknown)
    units: tuple[int, int] | None = None  # independent values ranked: (base, head)
    grouped: bool = False  # units are per-process medians (else each value counts)
    cause: Cause | None = None  # set on an inconclusive verdict: what blocked it

    @property
    def sides(self) -> tuple[Sequence[float], Sequence[float]]:
        """(base values, head values)."""
        return self.base, self.head

    @property
    def flagged(self) -> bool:
        """Worth a re-run with more rounds before it counts: a regression, or an inconclusive
        that fresh runs can change (too few runs, a disturbed side). Spread that is the
        variant's own (CPU-bound on a shared box) is the same in a re-run: the robust CV of more
        values from the same kind of processes does not shrink, so "too noisy" stands."""
        return self.outcome == "regression" or self.cause in ("few_runs", "disturbed")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (the comparison file and the HTML page read this)."""
        scenario, _, variant = self.key.partition(":")
        return {
            "key": self.key,
            "scenario": scenario,
            "variant": variant,
            "label": self.label,
            "outcome": self.outcome,
            "reason": self.reason,
            "ratio": self.ratio,
            "p_slower": self.p_slower,
            "p_faster": self.p_faster,
            "method": self.method,
            "first_outcome": self.first_outcome,
            "cause": self.cause,
            "floor": self.floor,
            "aa_spread": self.aa_spread,
            "units": list(self.units) if self.units else None,
            "unit": "process median" if self.grouped else "value",
            "base": _side(self.base),
            "head": _side(self.head),
        }


def _side(values: Sequence[float]) -> dict[str, Any] | None:
    return {"stats": summarize(values), "values": list(values)} if values else None


@dataclass
class Comparison:
    """Every variant's verdict plus what the reader must know about the two sides."""

    items: list[VariantComparison]
    settings: GateSettings
    base_name: str
    head_name: str
    mode: Literal["files", "ab"] = "files"
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def count(self, outcome: Outcome) -> int:
        """How many variants got ``outcome``."""
        return sum(item.outcome == outcome for item in self.items)

    @property
    def exit_code(self) -> int:
        """0 pass, 1 any regression, 3 inconclusive without regression."""
        if self.count("regression"):
            return EXIT_REGRESSION
        if self.count("inconclusive"):
            return EXIT_INCONCLUSIVE
        return EXIT_PASS

    def summary(self) -> str:
        """One line: the counts per outcome and the exit code."""
        counts = ", ".join(f"{self.count(o)} {o}" for o in OUTCOMES if self.count(o))
        return f"{counts or 'nothing compared'} -> exit {self.exit_code}"

    def to_dict(self) -> dict[str, Any]:
        """The comparison as JSON: comparison.json, and what the HTML page is rendered from."""
        return {
            "schema": 1,
            "kind": COMPARISON_KIND,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "mode": self.mode,
            "base": self.base_name,
            "head": self.head_name,
            "settings": {
                "alpha": self.settings.alpha,
                "floor": self.settings.floor,
                "max_cv": self.settings.max_cv,
                "outlier_distance": self.settings.outlier_distance,
                "max_outlier_share": self.settings.max_outlier_share,
            },
            "notes": list(self.notes),
            "meta": dict(self.meta),
            "counts": {o: self.count(o) for o in OUTCOMES},
            "summary": self.summary(),
            "exit_code": self.exit_code,
            "variants": [item.to_dict() for item in self.items],
        }


def too_noisy(floor: float, issues: Sequence[str], ratio: float) -> str:
    """Why spread blocks a pass: ``too noisy to rule out a 9% slowdown (base CV 32% > 10%)``."""
    spread = "; ".join(issues)
    return f"too noisy to rule out a {floor:.0%} slowdown ({spread}); change {ratio - 1:+.1%}"


def judge(
    key: str, base: Sample | None, head: Sample | None, settings: GateSettings
) -> VariantComparison:
    """The verdict on one variant from both sides' values (ranked as independent units)."""
    label = (head or base).label if (head or base) else ""
    if base is None or not base.values:
        return VariantComparison(key, label, "new", "not in base", head=head.values if head else ())
    if head is None or not head.values:
        return VariantComparison(key, label, "removed", "not in head", base=base.values)
    b, h = base.values, head.values
    bu, hu = base.units, head.units
    grouped = bool(base.runs and head.runs)
    ratio = median(hu) / median(bu)
    floor, spread = effect_floor(bu, hu, settings.floor)
    shape = dict(floor=floor, aa_spread=spread, units=(len(bu), len(hu)), grouped=grouped)
    floor_p = min_p_value(len(bu), len(hu))
    if floor_p >= settings.alpha:
        what = "runs (one median per worker process)" if grouped else "values"
        reason = (
            f"too few independent {what}: n={len(bu)} vs {len(hu)} can never reach "
            f"p<{settings.alpha:g} one-sided (smallest possible p={floor_p:.3g}); "
            f"needs {runs_needed(settings.alpha)} a side"
        )
        return VariantComparison(
            key, label, "inconclusive", reason, b, h, ratio, cause="few_runs", **shape
        )
    disturbed = both_sides(outlier_problems, b, h, settings)
    spread_issues = both_sides(spread_problems, b, h, settings)
    slower = mann_whitney_u(hu, bu, "greater")
    faster = mann_whitney_u(hu, bu, "less")
    figures = dict(ratio=ratio, p_slower=slower.p, p_faster=faster.p, method=slower.method)
    change = f"{ratio - 1:+.1%}"
    own = f"{floor:.1%} floor" + (f" (A/A {spread:.1%})" if spread is not None else "")
    if disturbed:
        reason = f"disturbed run ({'; '.join(disturbed)}); change {change}"
        return VariantComparison(
            key, label, "inconclusive", reason, b, h, **figures, **shape, cause="disturbed"
        )
    if slower.p < settings.alpha and ratio >= 1 + floor:
        reason = f"slower by {change} (p={slower.p:.2g} < {settings.alpha:g}; {own})"
        return VariantComparison(key, label, "regression", reason, b, h, **figures, **shape)
    if faster.p < settings.alpha and ratio <= 1 - floor:
        reason = f"faster by {1 - ratio:.1%} (p={faster.p:.2g} < {settings.alpha:g}; {own})"
        return VariantComparison(key, label, "improvement", reason, b, h, **figures, **shape)
    if spread_issues:
        reason = too_noisy(floor, spread_issues, ratio)
        return VariantComparison(
            key, label, "inconclusive", reason, b, h, **figures, **shape, cause="too_noisy"
        )
    p = min(slower.p, faster.p)
    if p < settings.alpha:
        reason = f"change {change} is significant but within the {own}"
    else:
        reason = f"change {change}, not significant (p={p:.2g}; {own})"
    return VariantComparison(key, label, "pass", reason, b, h, **figures, **shape)


def confirm(first: VariantComparison, rerun: VariantComparison) -> VariantComparison:
    """A flagged verdict judged again on fresh values: the re-run decides, the first is shown."""
    reason = f"{rerun.reason}; re-run (first pass: {first.outcome})"
    return replace(rerun, reason=reason, first_outcome=first.outcome)


def compare_samples(
    base: Mapping[str, Sample],
    head: Mapping[str, Sample],
    settings: GateSettings,
) -> list[VariantComparison]:
    """Judge every key of either side, in head's order then base-only keys."""
    keys = list(head) + [k for k in base if k not in head]
    return [judge(key, base.get(key), head.get(key), settings) for key in keys]


def samples_of(results: Mapping[str, Any]) -> dict[str, Sample]:
    """Each variant's values in a results dict, keyed ``scenario:variant``, grouped into its
    worker processes (the run's profile says how many; unknown in older files: ungrouped)."""
    processes = (results["run"].get("pyperf") or {}).get("processes")
    return {
        f"{scenario['name']}:{variant['name']}": Sample(
            tuple(variant["values"]),
            variant["label"],
            split_runs(variant["values"], processes),
        )
        for scenario in results["scenarios"]
        for variant in scenario["variants"]
    }


def compare_results(
    base: Mapping[str, Any],
    head: Mapping[str, Any],
    settings: GateSettings,
    base_name: str = "base",
    head_name: str = "head",
) -> Comparison:
    """Compare two validated results dicts; bad pairs raise UsageError (exit 2)."""
    if base.get("schema") != head.get("schema"):
        raise UsageError(
            f"different schema: {base_name} is schema {base.get('schema')}, "
            f"{head_name} is schema {head.get('schema')}"
        )
    base_samples, head_samples = samples_of(base), samples_of(head)
    if not set(base_samples) & set(head_samples):
        raise UsageError(
            f"no common variants between {base_name} ({len(base_samples)} variants) and "
            f"{head_name} ({len(head_samples)} variants); nothing to compare"
        )
    notes = [why for why in (judgeable(base, settings), judgeable(head, settings)) if why]
    notes.append(
        "stored results from two separate runs: drift between runs (10-40% on shared machines) "
        "is not controlled here; `make ab` interleaves both sides in one job"
    )
    base_scenarios = {s["name"]: s for s in base["scenarios"]}
    head_scenarios = {s["name"]: s for s in head["scenarios"]}
    if only := sorted(set(base_scenarios) - set(head_scenarios)):
        notes.append(f"scenarios only in base: {', '.join(only)}")
    if only := sorted(set(head_scenarios) - set(base_scenarios)):
        notes.append(f"scenarios only in head: {', '.join(only)}")
    for name in sorted(set(base_scenarios) & set(head_scenarios)):
        for what in ("latency", "workload"):
            if base_scenarios[name][what] != head_scenarios[name][what]:
                notes.append(f"{name}: {what} differs between the two runs")
    if base["run"]["profile"] != head["run"]["profile"]:
        notes.append(f"profiles differ: {base['run']['profile']} vs {head['run']['profile']}")
    return Comparison(
        items=compare_samples(base_samples, head_samples, settings),
        settings=settings,
        base_name=base_name,
        head_name=head_name,
        mode="files",
        notes=notes,
        meta={
            "base_run": base["run"]["id"],
            "head_run": head["run"]["id"],
            "environments": {"base": base["run"]["env"], "head": head["run"]["env"]},
        },
    )


def compare_files(base_path: Path, head_path: Path, settings: GateSettings) -> Comparison:
    """Load both results files with the one loader and compare them.

    A bad file raises ``ResultsFileError`` and a bad pair ``UsageError`` (its parent): exit 2.
    """
    base = load_results(base_path)
    head = load_results(head_path)
    return compare_results(base, head, settings, str(base_path), str(head_path))
