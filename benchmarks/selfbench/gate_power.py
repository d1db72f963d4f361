"""How often the regression gate is right on this machine: A/A false alarms and injected slowdowns.

``make bench-gate`` starts one mock server and times a real variant
(``sequential_vs_gather:gather``: three concurrent requests) against it. Base and head differ only
in the latency the server injects into every request: the same on both sides for A/A (any
regression is a false alarm), 25% or 10% more for head (a regression is a catch). Timings are
taken in *runs*, as ``ab`` takes them with the quick profile: a fresh client session (new
connections, like a new pyperf worker), ``WARMUPS`` untimed calls, ``VALUES`` timed calls.

A *trial* is one gate decision made the way ``ab`` makes it: 2 rounds x 2 runs = 4 runs a side
(12 values with the quick profile's 3 a run), judged by ``reports.gate.judge`` (one-sided
U test at alpha 0.01, 10% floor); a flagged verdict is judged again on 8 fresh runs a side, and
that decides. Two kinds:

- **resampled** (the default; many trials in seconds): first a pool of real *rounds* is timed
  (a round: base, head, head, base runs back to back, the next BAAB); each trial then draws its
  2 rounds, and the re-run's 4, at random without replacement from the pool. A round is never
  split, so the two sides of a trial keep meeting the machine at the same moments, as in ``ab``;
  the values are real, spikes, per-run effects and drift between rounds included. What is
  simulated is which rounds meet in a trial: the trials are many draws over *one* stretch of the
  machine's life, not independent stretches;
- **fresh** (``--fresh N``): every trial times its own runs, ABBA then BAAB, as ``ab`` does.
  Slower, and each trial sees the drift of its own moment.

Neither includes what ``ab`` adds on top: separate worker processes and the base checkout. Bounds
are one-sided 95% Clopper-Pearson: with 0 false alarms in n trials the rate is below about 3/n.

Example: asyncio-lab selfbench gate --trials 1000 --fresh 20
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from asyncio_perf_lab.benchmarks.ab import DEFAULT_ROUNDS
from asyncio_perf_lab.benchmarks.profiles import PROFILES
from asyncio_perf_lab.reports.gate import (
    GateSettings,
    Sample,
    VariantComparison,
    confirm,
    judge,
)

SCENARIO, VARIANT = "sequential_vs_gather", "gather"
ROUNDS = DEFAULT_ROUNDS  # as `ab` with the quick profile and its default rounds
VALUES, WARMUPS = PROFILES["quick"].values, PROFILES["quick"].warmups
ABBA, BAAB = ("base", "head", "head", "base"), ("head", "base", "base", "head")
SIDES = ("base", "head")

Run = list[float]  # the timed values of one run
Round = dict[str, list[Run]]  # one ABBA (or BAAB) round: two runs a side, back to back


@dataclass(frozen=True)
class Case:
    """One experiment: the latency each side's requests get."""

    name: str
    base_latency: str
    head_latency: str
    slowdown: float  # the injected relative slowdown of the latency (0 for A/A)
    pool_rounds: int  # real rounds timed for the resampled trials (4 runs each)

    @property
    def is_aa(self) -> bool:
        return self.slowdown == 0


CASES = {
    "aa": Case("A/A (same code both sides)", "20ms", "20ms", 0.0, pool_rounds=48),
    "slow25": Case("+25% latency in head", "20ms", "25ms", 0.25, pool_rounds=32),
    "slow10": Case("+10% latency in head", "20ms", "22ms", 0.10, pool_rounds=32),
}


@dataclass
class CaseResult:
    """The tally of a case's trials of one kind."""

    case: Case
    kind: str  # resampled | fresh
    runs: int = 0  # real runs timed (both sides)
    first: Counter[str] = field(default_factory=Counter)  # outcome before any re-run
    final: Counter[str] = field(default_factory=Counter)  # outcome the gate reports
    ratios: list[float] = field(default_factory=list)  # head/base median of each first pass
    seconds: float = 0.0

    @property
    def trials(self) -> int:
        return sum(self.final.values())

    @property
    def regressions(self) -> int:
        return self.final["regression"]

    def add(self, first: str, final: str, ratio: float | None) -> None:
        """Count one trial."""
        self.first[first] += 1
        self.final[final] += 1
        if ratio is not None:
            self.ratios.append(ratio)

    def rate_and_bound(self) -> tuple[float, float]:
        """(observed regression rate, its one-sided 95% bound: upper for A/A, lower for power)."""
        n, k = self.trials, self.regressions
        if n == 0:
            return math.nan, math.nan
        bound = upper_bound(k, n) if self.case.is_aa else lower_bound(k, n)
        return k / n, bound


def _log_binom_pmf(i: int, n: int, p: float) -> float:
    if p <= 0:
        return 0.0 if i == 0 else -math.inf
    if p >= 1:
        return 0.0 if i == n else -math.inf
    log_comb = math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
    return log_comb + i * math.log(p) + (n - i) * math.log1p(-p)


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    return min(1.0, sum(math.exp(_log_binom_pmf(i, n, p)) for i in range(k + 1)))


def _bisect(predicate: Callable[[float], bool]) -> float:
    """The boundary in [0, 1] where ``predicate`` turns from True to False."""
    low, high = 0.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if predicate(mid) else (low, mid)
    return (low + high) / 2


def upper_bound(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate seen k times in n (0 in n: ~3/n)."""
    if k >= n:
        return 1.0
    return _bisect(lambda p: binom_cdf(k, n, p) > 1 - confidence)


def lower_bound(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson lower bound of a rate seen k times in n."""
    if k <= 0:
        return 0.0
    return _bisect(lambda p: 1 - binom_cdf(k - 1, n, p) <= 1 - confidence)


async def timed_run(base_url: str, latency: str, values: int = VALUES) -> Run:
    """One run: a fresh session, WARMUPS untimed calls, then ``values`` timed calls (seconds)."""
    from asyncio_perf_lab import scenarios
    from asyncio_perf_lab.benchmarks.context import open_context
    from asyncio_perf_lab.benchmarks.selfbench.hand_timing import time_awaits

    scenario = scenarios.load(SCENARIO)
    async with open_context(base_url, latency, scenario.workload) as ctx:
        return await time_awaits(scenario.variants[VARIANT].run, ctx, values, WARMUPS)


async def timed_rounds(base_url: str, case: Case, rounds: int) -> list[Round]:
    """``rounds`` real rounds, ABBA then BAAB alternately, as ``ab`` runs them."""
    latency = {"base": case.base_latency, "head": case.head_latency}
    timed = []
    for r in range(rounds):
        runs: Round = {"base": [], "head": []}
        for side in ABBA if r % 2 == 0 else BAAB:
            runs[side].append(await timed_run(base_url, latency[side]))
        timed.append(runs)
    return timed


def verdict(rounds: Sequence[Round], settings: GateSettings) -> VariantComparison:
    """The gate's verdict on the pooled values of each side's runs in ``rounds``."""
    base, head = (tuple(v for r in rounds for run in r[side] for v in run) for side in SIDES)
    return judge(f"{SCENARIO}:{VARIANT}", Sample(base), Sample(head), settings)


def resampled_trials(
    pool: Sequence[Round],
    case: Case,
    trials: int,
    settings: GateSettings | None = None,
    seed: int = 0,
) -> CaseResult:
    """``trials`` decisions on rounds drawn without replacement from the real ``pool``."""
    settings = settings or GateSettings()
    rng = random.Random(seed)
    result = CaseResult(case, "resampled", runs=4 * len(pool))
    started = time.perf_counter()
    for _ in range(trials):
        drawn = rng.sample(list(pool), 3 * ROUNDS)
        first = verdict(drawn[:ROUNDS], settings)
        final = confirm(first, verdict(drawn[ROUNDS:], settings)) if first.flagged else first
        result.add(first.outcome, final.outcome, first.ratio)
    result.seconds = time.perf_counter() - started
    return result


async def fresh_trials(
    base_url: str,
    case: Case,
    trials: int,
    settings: GateSettings | None = None,
    max_seconds: float = math.inf,
) -> CaseResult:
    """Up to ``trials`` decisions, each on freshly timed rounds; stops after ``max_seconds``."""
    settings = settings or GateSettings()
    result = CaseResult(case, "fresh")
    started = time.perf_counter()
    for _ in range(trials):
        first = final = verdict(await timed_rounds(base_url, case, ROUNDS), settings)
        result.runs += 4 * ROUNDS
        if first.flagged:
            final = confirm(
                first, verdict(await timed_rounds(base_url, case, 2 * ROUNDS), settings)
            )
            result.runs += 8 * ROUNDS
        result.add(first.outcome, final.outcome, first.ratio)
        result.seconds = time.perf_counter() - started
        if result.seconds > max_seconds:
            break
    return result


def print_results(results: Sequence[CaseResult]) -> None:
    """The power table: one row per case and kind of trial."""
    from rich.table import Table

    from asyncio_perf_lab.benchmarks.commands.common import console
    from asyncio_perf_lab.reports.stats import quantile

    table = Table(title="regression gate on this machine (alpha 0.01, floor 10%, re-run once)")
    for column in (
        "case",
        "latency base/head",
        "trials",
        "real runs",
        "flagged 1st",
        "regression",
        "inconclusive",
        "rate (95% bound)",
        "ratio p5/p50/p95",
        "time",
    ):
        table.add_column(column, justify="left" if column == "case" else "right", no_wrap=True)
    for r in results:
        rate, bound = r.rate_and_bound()
        side = "<=" if r.case.is_aa else ">="
        ratios = "/".join(f"{quantile(r.ratios, q):.3f}" for q in (0.05, 0.5, 0.95))
        table.add_row(
            f"{r.case.name}, {r.kind}",
            f"{r.case.base_latency}/{r.case.head_latency}",
            str(r.trials),
            str(r.runs),
            str(r.first["regression"] + r.first["inconclusive"]),
            str(r.regressions),
            str(r.final["inconclusive"]),
            f"{rate:.1%} ({side} {bound:.1%})",
            ratios,
            f"{r.seconds:.0f} s",
        )
    console(stderr=False).print(table)


async def main_async(args: argparse.Namespace) -> list[CaseResult]:
    from asyncio_perf_lab.mockserver import MockServer

    results = []
    with MockServer(latency="0ms") as server:
        for name in args.cases:
            case = CASES[name]
            started = time.perf_counter()
            pool = await timed_rounds(server.url, case, case.pool_rounds)
            resampled = resampled_trials(pool, case, args.trials)
            resampled.seconds += time.perf_counter() - started
            results.append(resampled)
            if args.fresh:
                results.append(
                    await fresh_trials(server.url, case, args.fresh, max_seconds=args.max_seconds)
                )
    return results


def main(argv: list[str] | None = None, prog: str = "asyncio-lab selfbench gate") -> int:
    """Time the cases, judge the trials, print the table; 0 when measured."""
    from asyncio_perf_lab.benchmarks.commands.common import Parser

    parser = Parser(
        prog=prog,
        description=__doc__.splitlines()[0] + " Example: " + __doc__.strip().splitlines()[-1],
    )
    parser.add_argument("cases", nargs="*", metavar="CASE", help=f"of {', '.join(CASES)} (all)")
    parser.add_argument(
        "--trials", type=int, default=1000, help="resampled trials per case (default 1000)"
    )
    parser.add_argument("--fresh", type=int, default=0, help="fresh trials per case (default 0)")
    parser.add_argument(
        "--max-seconds", type=float, default=120, help="cap on a case's fresh trials (120)"
    )
    args = parser.parse_args(argv)
    args.cases = args.cases or list(CASES)
    if unknown := [c for c in args.cases if c not in CASES]:
        parser.error(f"unknown case {unknown[0]!r}; allowed: {', '.join(CASES)}")
    if args.trials < 1 or args.fresh < 0:
        parser.error("--trials must be at least 1 and --fresh at least 0")
    try:
        results = asyncio.run(main_async(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print_results(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
