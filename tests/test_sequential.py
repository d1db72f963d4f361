"""Early stopping of ``ab`` rounds: only a settled verdict stops, and a stop only ever passes."""

from __future__ import annotations

import random

from test_ab import FakeBench

from asyncio_perf_lab.benchmarks.ab import ABConfig, ab_compare
from asyncio_perf_lab.benchmarks.scheduling import Job
from asyncio_perf_lab.reports.gate import GateSettings, Sample, judge
from asyncio_perf_lab.reports.mannwhitney import mann_whitney_u
from asyncio_perf_lab.reports.noise import outlier_problems
from asyncio_perf_lab.reports.sequential import best_case_p, settled

SETTINGS = GateSettings()


def sample(units: list[float]) -> Sample:
    """One run (worker process) per unit, each of three values around it."""
    return Sample.of_runs([[u * 0.999, u, u * 1.001] for u in units], "V")


def test_best_case_p_is_the_p_of_the_worst_completion() -> None:
    """The bound is the U test on the worst completion, and no random completion beats it."""
    head, base = [1.00, 1.02, 0.99, 1.01], [1.00, 0.98, 1.03, 1.01]
    bound = best_case_p(head, base, 4, slower=True)
    worst = mann_whitney_u([*head, 9, 9, 9, 9], [*base, -9, -9, -9, -9], "greater").p
    assert bound == worst
    rng = random.Random(7)
    for _ in range(200):  # random completions never reach a smaller p
        more_h = [rng.uniform(0.5, 1.5) for _ in range(4)]
        more_b = [rng.uniform(0.5, 1.5) for _ in range(4)]
        assert mann_whitney_u([*head, *more_h], [*base, *more_b], "greater").p >= bound


def test_interleaved_equal_sides_settle_after_two_rounds() -> None:
    """Four units a side that interleave cannot become a verdict with four more: a pass."""
    base, head = sample([1.00, 1.02, 0.99, 1.01]), sample([1.005, 0.995, 1.015, 1.00])
    item = settled("s:v", base, head, 2, SETTINGS)
    assert item is not None
    assert item.outcome == "pass"
    assert "settled after 4 runs a side" in item.reason
    assert item.units == (4, 4)
    assert item.grouped


def test_a_separated_slowdown_never_settles() -> None:
    """Head slower in every run so far: more runs could still reach alpha, so it goes on."""
    base, head = sample([1.00, 1.01, 0.99, 1.005]), sample([1.10, 1.11, 1.09, 1.12])
    assert settled("s:v", base, head, 4, SETTINGS) is None
    assert settled("s:v", head, base, 4, SETTINGS) is None  # the mirror: an improvement


def test_noisy_data_settles_inconclusive_never_pass() -> None:
    """A side too spread to rule out a slowdown, with no verdict reachable: it stops with its
    inconclusive (more runs of that spread could only have made it a pass), never a pass."""
    base = sample([1.00, 1.30, 0.80, 1.20])
    head = sample([1.05, 0.85, 1.25, 0.95])
    item = settled("s:v", base, head, 2, SETTINGS)
    assert item is not None
    assert (item.outcome, item.cause) == ("inconclusive", "too_noisy")
    assert item.reason.startswith("too noisy to rule out")
    assert "settled after 4 runs a side" in item.reason
    assert judge("s:v", base, head, SETTINGS).outcome == "inconclusive"


def test_a_disturbed_side_runs_every_round() -> None:
    """Too many far outliers block every verdict; more runs may outgrow them, so it goes on."""
    base = sample([1.00, 1.01, 0.99, 1.005])
    head = Sample.of_runs([[1.0, 2.5, 1.0], [1.01, 2.6, 1.0], [0.99, 1.0, 2.4], [1.0, 1.0, 1.0]])
    assert outlier_problems(head.values, SETTINGS)  # 3 of 12 values over 50% from the median
    assert settled("s:v", base, head, 2, SETTINGS) is None


def test_ab_stops_the_settled_variant_and_runs_the_changed_one() -> None:
    """An unchanged variant stops after round 2; a slowed one runs its 3 rounds and regresses."""
    calls: list[tuple[str, str]] = []
    jobs = [Job("s", "same", "S", True), Job("s", "slowed", "L", True)]
    rng = random.Random(1)

    def run_one(side: str, job: Job) -> FakeBench:
        calls.append((side, job.variant))
        scale = 1.3 if (side == "head" and job.variant == "slowed") else 1.0
        return FakeBench([0.1 * scale * rng.uniform(0.99, 1.01) for _ in range(3)])

    config = ABConfig(base="HEAD", rounds=3, settings=SETTINGS)
    items, pooled = ab_compare(jobs, run_one, config)
    outcome = {item.key: item.outcome for item in items}
    assert outcome == {"s:same": "pass", "s:slowed": "regression"}
    assert calls.count(("head", "same")) == 4  # two rounds, not three
    assert calls.count(("head", "slowed")) >= 6  # all rounds (and its confirming re-run)
    assert len(pooled["base"]["s:same"].get_runs()) == 4
    full = ABConfig(base="HEAD", rounds=3, settings=SETTINGS, early_stop=False)
    calls.clear()
    ab_compare(jobs[:1], run_one, full)
    assert calls.count(("head", "same")) == 6  # --all-rounds: every round


def test_ab_stops_a_noisy_unchanged_variant_after_two_rounds_as_inconclusive() -> None:
    """Spread on both sides and no reachable verdict: 2 rounds, then inconclusive, no re-run."""
    calls: list[tuple[str, str]] = []
    wobble = [0.8, 1.2, 1.0, 1.3, 0.9, 1.1, 0.85, 1.25]

    def run_one(side: str, job: Job) -> FakeBench:
        calls.append((side, job.variant))
        w = wobble[len(calls) % len(wobble)]
        return FakeBench([0.1 * w, 0.1 * w * 1.2, 0.1 * w * 0.8])

    jobs = [Job("s", "noisy", "N", True)]
    (item,), _ = ab_compare(jobs, run_one, ABConfig(base="HEAD", settings=SETTINGS))
    assert (item.outcome, item.cause) == ("inconclusive", "too_noisy")
    assert "settled after 4 runs a side" in item.reason
    assert len(calls) == 2 * 4
