"""Statistical tests of the regression gate itself, on real timings against the mock server.

What a trial is (see ``selfbench.gate_power``): one gate decision made as ``ab`` makes it, on 4
runs a side of ``sequential_vs_gather:gather``, each run a fresh client session with the quick
profile's warm-up and timed calls (1 and 3: 12 values a side); a flagged verdict is decided again
on 8 fresh runs a side.

- *Resampled* trials draw their rounds (ABBA or BAAB, 4 runs back to back, never split) from a
  pool of real rounds timed first, so 1000 decisions cost one pool. 1000 trials: with k false
  alarms the one-sided 95% upper bound of the rate is ~0.3% for k=0 and stays under 1% up to
  k=4, so "<= 1%" is shown, not assumed. The pool (48 rounds, 192 runs, about 25 s) is one
  stretch of this machine's life: the figure is the decision rule's rate on real noise, not 1000
  independent moments.
- *Fresh* trials time their own runs, ABBA then BAAB; few of them (each costs seconds), so they
  check that nothing the resampling hides (drift between a trial's runs) breaks the gate.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from asyncio_perf_lab.benchmarks.selfbench.gate_power import (
    CASES,
    CaseResult,
    fresh_trials,
    lower_bound,
    resampled_trials,
    timed_rounds,
    upper_bound,
)
from asyncio_perf_lab.mockserver import MockServer

ROOT = Path(__file__).resolve().parent.parent
RESAMPLED_TRIALS = 1000
FRESH_TRIALS = 10


def figures(result: CaseResult) -> str:
    """One line for the failure message (and -s output): the tally and the bounds."""
    rate, bound = result.rate_and_bound()
    return (
        f"{result.case.name} ({result.kind}): {result.regressions}/{result.trials} regression "
        f"= {rate:.1%} (95% bound {bound:.1%}), final {dict(result.final)}, first "
        f"{dict(result.first)}, {result.runs} real runs, {result.seconds:.0f} s"
    )


def test_clopper_pearson_bounds() -> None:
    """0 in 300 bounds the rate below 1% (rule of three); 95 in 100 bounds power above 89.7%."""
    assert upper_bound(0, 300) == pytest.approx(1 - 0.05 ** (1 / 300), rel=1e-6)
    assert upper_bound(0, 300) < 0.01 < upper_bound(0, 250)
    assert upper_bound(4, 1000) < 0.01
    assert lower_bound(95, 100) == pytest.approx(0.8977, abs=1e-4)  # P(X >= 95 | p) = 0.05
    assert lower_bound(0, 10) == 0.0


@pytest.mark.slow
def test_aa_false_alarms_at_most_one_percent(server: MockServer) -> None:
    """Same code both sides (20 ms): 1000 resampled trials bound the false-alarm rate by 1%."""
    case = CASES["aa"]
    pool = asyncio.run(timed_rounds(server.url, case, case.pool_rounds))
    result = resampled_trials(pool, case, RESAMPLED_TRIALS)
    print(figures(result))
    assert upper_bound(result.regressions, result.trials) <= 0.01, figures(result)
    # Not vacuous: most trials reach a verdict instead of hiding behind "inconclusive".
    assert result.final["pass"] >= result.trials / 2, figures(result)


@pytest.mark.slow
def test_aa_fresh_trials_raise_no_alarm(server: MockServer) -> None:
    """Same code on both sides, 10 trials each timed afresh (ABBA, BAAB): no regression reported."""
    result = asyncio.run(fresh_trials(server.url, CASES["aa"], FRESH_TRIALS, max_seconds=60))
    print(figures(result))
    assert result.trials >= 5, figures(result)
    assert result.regressions == 0, figures(result)


@pytest.mark.slow
def test_injected_25_percent_slowdown_is_caught(server: MockServer) -> None:
    """Head's requests 25% slower (20 ms -> 25 ms): at least 95% of 1000 trials say regression."""
    case = CASES["slow25"]
    pool = asyncio.run(timed_rounds(server.url, case, case.pool_rounds))
    result = resampled_trials(pool, case, RESAMPLED_TRIALS)
    print(figures(result))
    assert result.regressions >= 0.95 * result.trials, figures(result)


@pytest.mark.slow
def test_injected_25_percent_slowdown_is_caught_in_fresh_trials(server: MockServer) -> None:
    """The same slowdown timed afresh per trial is caught in at least 9 of 10 trials."""
    result = asyncio.run(fresh_trials(server.url, CASES["slow25"], FRESH_TRIALS, max_seconds=45))
    print(figures(result))
    assert result.trials >= 5, figures(result)
    assert result.regressions >= 0.9 * result.trials, figures(result)
