"""The noise-aware gate: one median per worker process, and each variant's own A/A floor."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest

from asyncio_perf_lab.reports.gate import GateSettings, Sample, judge, samples_of
from asyncio_perf_lab.reports.noise import aa_spread, effect_floor, runs_needed, split_runs


def runs(levels: Sequence[float], seed: int, per_run: int = 3, noise: float = 0.001) -> Sample:
    """Worker processes at the given levels (seconds), each with ``per_run`` values around it."""
    rng = random.Random(seed)
    return Sample.of_runs(
        [[level * math.exp(rng.gauss(0, noise)) for _ in range(per_run)] for level in levels]
    )


def test_aa_spread_compares_each_sides_first_and_second_runs() -> None:
    """The A/A change is median(even runs) over median(odd runs) - 1, in run order."""
    assert aa_spread([1.0, 1.1, 1.0, 1.1, 1.0, 1.1]) == pytest.approx(1 - 1 / 1.1)
    assert aa_spread([1.0, 1.0, 1.0]) is None  # fewer than 4 runs: no estimate
    assert effect_floor([1.0] * 6, [1.0] * 6, 0.03) == (0.03, 0.0)
    floor, spread = effect_floor([1.0, 1.2] * 3, [1.0] * 6, 0.03)
    assert floor == spread == pytest.approx(1 - 1 / 1.2)


def test_a_quiet_variant_catches_a_small_regression() -> None:
    """Interleaved latency-bound runs that agree within 0.2% fail at +4% (floor 3%)."""
    base = runs([0.100, 0.1001, 0.0999, 0.1002, 0.1, 0.1001], seed=1)
    head = runs([0.104, 0.1041, 0.1039, 0.1042, 0.104, 0.1041], seed=2)
    item = judge("s:quiet", base, head, GateSettings())
    assert item.outcome == "regression", item.reason
    assert item.floor == pytest.approx(0.03)
    assert item.aa_spread is not None
    assert item.aa_spread < 0.005


def test_a_wobbly_variant_does_not_false_alarm_on_its_wobble() -> None:
    """Processes that wobble 6% raise the floor to their A/A spread: a +5% shift passes."""
    wobble = [1.0, 1.06, 0.99, 1.07, 1.0, 1.06]
    item = judge("s:wobbly", runs(wobble, 3), runs([w * 1.05 for w in wobble], 4), GateSettings())
    assert item.floor is not None
    assert item.floor > 0.05
    assert item.outcome == "pass", item.reason
    assert f"{item.floor:.1%} floor (A/A" in item.reason
    steady = [1.0, 1.001, 0.999, 1.0, 1.001, 0.999]
    caught = judge("s:steady", runs(steady, 3), runs([w * 1.05 for w in steady], 4), GateSettings())
    assert caught.outcome == "regression", caught.reason  # the same +5% on a quiet variant


def test_a_very_noisy_variant_is_inconclusive_not_a_false_alarm() -> None:
    """Processes that wobble 20%: a +10% shift is neither failed nor passed, but inconclusive."""
    wobble = [1.0, 1.2, 0.95, 1.18, 1.02, 1.22]
    item = judge("s:noisy", runs(wobble, 3), runs([w * 1.10 for w in wobble], 4), GateSettings())
    assert item.floor is not None
    assert item.floor > 0.15
    assert item.outcome == "inconclusive", item.reason
    assert item.reason.startswith(f"too noisy to rule out a {item.floor:.0%} slowdown")


def test_one_lucky_process_cannot_fake_a_regression() -> None:
    """Values of one process are not independent: ranked per process the shift is not
    significant, while the same values ranked one by one would (wrongly) be."""
    base = runs([0.100, 0.104, 0.097, 0.102, 0.099, 0.103], seed=5, per_run=10)
    head = runs([0.103, 0.105, 0.100, 0.106, 0.101, 0.104], seed=6, per_run=10)
    grouped = judge("s:v", base, head, GateSettings(floor=0.01))
    assert grouped.outcome == "pass", grouped.reason
    assert grouped.units == (6, 6)
    ungrouped = judge("s:v", Sample(base.values), Sample(head.values), GateSettings(floor=0.01))
    assert ungrouped.p_slower is not None
    assert ungrouped.p_slower < 0.01  # 60 vs 60 "independent" values: a false alarm's p


def test_too_few_processes_say_how_many_are_needed() -> None:
    """4 processes a side cannot reach p < 0.01: inconclusive, naming the 5 that could."""
    item = judge("s:v", runs([0.1] * 4, 1), runs([0.3] * 4, 2), GateSettings())
    assert item.outcome == "inconclusive"
    assert "too few independent runs (one median per worker process): n=4 vs 4" in item.reason
    assert "needs 5 a side" in item.reason
    assert runs_needed(0.01) == 5
    assert runs_needed(0.05) == 4


def test_results_files_are_grouped_by_their_profiles_processes() -> None:
    """A results file's values split into its profile's processes; unknown counts stay flat."""
    assert split_runs([1, 2, 3, 4, 5, 6], 2) == ((1, 2, 3), (4, 5, 6))
    assert split_runs([1, 2, 3], 2) == ()
    assert split_runs([1, 2, 3], None) == ()
    results = {
        "run": {"pyperf": {"processes": 2}},
        "scenarios": [{"name": "s", "variants": [{"name": "v", "label": "V", "values": [1, 2]}]}],
    }
    assert samples_of(results)["s:v"].units == (1, 2)
