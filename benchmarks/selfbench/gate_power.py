"""How often the regression gate is right on this machine: fresh, independent A/B trials.

``make bench-gate`` times one small variant (three concurrent requests at 20 ms, then some
hashing) in real pyperf worker processes against one mock server. Base and head run the same
code; head is handed more hashing, a *code-level* slowdown sized to 0%, +5%, +10% or +20% of the
call time measured in a worker at the start (``CASES``; the ratio each trial measured is
shown). The work is real (SHA-256 over 64 KiB blocks, on the event loop), never a sleep.

A *trial* is one gate decision made exactly as ``asyncio-lab ab`` makes it
(``benchmarks.ab.ab_compare``): the default rounds of ABBA/BAAB, each run a fresh worker
process, one median per process ranked by a one-sided U test at alpha 0.01, each variant's own
A/A floor (>= 3%), a flagged verdict re-run with twice the rounds and decided by the re-run.
Every trial times its own processes: trials are fresh and independent, so their tally is
binomial and the bounds are honest. Bounds are one-sided 95% Clopper-Pearson: an upper bound on
the A/A false-alarm rate, a lower bound on power (with 0 false alarms in 30 trials the rate is
below 9.5%; to show <= 1 in 30 needs the count itself, printed beside it).

Example: asyncio-lab selfbench gate --trials 30
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.ab import DEFAULT_ROUNDS, ABConfig, ab_compare
from asyncio_perf_lab.benchmarks.profiles import PROFILES
from asyncio_perf_lab.benchmarks.scheduling import Job
from asyncio_perf_lab.reports.gate import GateSettings

__all__ = ["CASES", "Case", "CaseResult", "lower_bound", "main", "run_case", "upper_bound"]

SCENARIO, VARIANT = "gate_power", "gather_then_hash"
BLOCK = 64 * 1024  # bytes hashed per unit of extra work
PROFILE = PROFILES["quick"]  # as `ab` runs by default

# The scenario the trials time, written to a temporary folder and loaded as a user scenario.
SCENARIO_MODULE = '''\
"""Gate power: three concurrent requests, then a given amount of hashing (the slowdown)."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

from asyncio_perf_lab import Context, Machine, Variant

QUESTION = "Does the gate catch a slowdown of this size?"
LESSON = "Head does the same requests and more real work; the gate should say regression."
LATENCY = "20ms"
BLOCK = bytes(range(256)) * 256  # 64 KiB


@dataclass(frozen=True)
class Workload:
    ids: tuple[int, ...] = (1, 2, 3)
    extra_blocks: int = 0  # 64 KiB blocks hashed after the requests: head's slowdown


TINY = Workload()


async def gather_then_hash(ctx: Context) -> int:
    """Three requests at once, then ``extra_blocks`` SHA-256 blocks on the loop."""
    await asyncio.gather(*(ctx.get_json(f"/users/{i}") for i in ctx.workload.ids))
    for _ in range(ctx.workload.extra_blocks):
        hashlib.sha256(BLOCK).digest()
    return len(ctx.workload.ids)


def _one_latency(w: Workload, latency_s: float, machine: Machine) -> float:
    return latency_s


VARIANTS = {
    "gather_then_hash": Variant(
        gather_then_hash, label="gather, then hashing", why="the gate's test load",
        ideal=_one_latency,
    ),
}
'''


@dataclass(frozen=True)
class Case:
    """One experiment: head's code-level slowdown, as a share of the measured call time."""

    name: str
    slowdown: float

    @property
    def is_aa(self) -> bool:
        return self.slowdown == 0


CASES = {
    "aa": Case("A/A (same code both sides)", 0.0),
    "slow5": Case("+5% code-level slowdown", 0.05),
    "slow10": Case("+10% code-level slowdown", 0.10),
    "slow20": Case("+20% code-level slowdown", 0.20),
}


@dataclass
class CaseResult:
    """The tally of a case's fresh trials."""

    case: Case
    extra_blocks: int = 0
    first: Counter[str] = field(default_factory=Counter)  # outcome before any re-run
    final: Counter[str] = field(default_factory=Counter)  # outcome the gate reports
    ratios: list[float] = field(default_factory=list)  # head/base median of each final verdict
    floors: list[float] = field(default_factory=list)  # each trial's effect floor
    processes: int = 0  # worker processes started (both sides, re-runs included)
    seconds: list[float] = field(default_factory=list)  # wall time of each trial

    @property
    def trials(self) -> int:
        return sum(self.final.values())

    @property
    def regressions(self) -> int:
        return self.final["regression"]

    def rate_and_bound(self) -> tuple[float, float]:
        """(observed regression rate, its one-sided 95% bound: upper for A/A, lower for power)."""
        n, k = self.trials, self.regressions
        if n == 0:
            return math.nan, math.nan
        bound = upper_bound(k, n) if self.case.is_aa else lower_bound(k, n)
        return k / n, bound

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON (``--json``)."""
        rate, bound = self.rate_and_bound()
        return {
            "case": self.case.name,
            "slowdown": self.case.slowdown,
            "extra_blocks": self.extra_blocks,
            "trials": self.trials,
            "regressions": self.regressions,
            "rate": rate,
            "bound_95": bound,
            "bound_kind": "upper" if self.case.is_aa else "lower",
            "first": dict(self.first),
            "final": dict(self.final),
            "ratios": self.ratios,
            "floors": self.floors,
            "processes": self.processes,
            "seconds_per_trial": self.seconds,
        }


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


class TrialTimer:
    """Times a side in fresh worker processes of the gate scenario (``ab``'s run function)."""

    def __init__(self, folder: Path, base_url: str) -> None:
        self.folder = folder
        self.base_url = base_url
        self.blocks = {"base": 0, "head": 0}
        self.call_s = 0.0
        self.processes = 0

    def task(self, side: str) -> Any:
        from asyncio_perf_lab.benchmarks.workers import WorkerTask

        return WorkerTask(
            SCENARIO,
            VARIANT,
            self.base_url,
            "20ms",
            {"ids": [1, 2, 3], "extra_blocks": self.blocks[side]},
            options=(f"--scenarios={self.folder}",),
            who=f"{side} ",
        )

    def calibrate(self, slowdown: float) -> int:
        """Size head's extra blocks to ``slowdown`` of the base call, both measured in workers.

        A first guess from this process's hashing speed, corrected once by head's call as a
        worker measures it (hashing beside the loop's work is not quite hashing alone).
        """
        from asyncio_perf_lab.benchmarks.workers import measure_call_s

        self.blocks = {"base": 0, "head": 0}
        self.call_s = measure_call_s(self.task("base"), PROFILE)
        self.processes += 1
        if not slowdown:
            return 0
        self.blocks["head"] = max(1, round(slowdown * self.call_s / block_seconds()))
        achieved = measure_call_s(self.task("head"), PROFILE) / self.call_s - 1
        self.processes += 1
        if achieved > 0:
            self.blocks["head"] = max(1, round(self.blocks["head"] * slowdown / achieved))
        return self.blocks["head"]

    def __call__(self, side: str, job: Job) -> Any:
        from asyncio_perf_lab.benchmarks.workers import time_in_workers

        self.processes += PROFILE.processes
        return time_in_workers(self.task(side), PROFILE, self.call_s)


def block_seconds(tries: int = 5, blocks: int = 200) -> float:
    """Seconds to hash one 64 KiB block here: the minimum of a few tries (the work's floor)."""
    import hashlib

    payload = bytes(range(256)) * 256
    best = math.inf
    for _ in range(tries):
        start = time.perf_counter()
        for _ in range(blocks):
            hashlib.sha256(payload).digest()
        best = min(best, (time.perf_counter() - start) / blocks)
    return best


def run_case(timer: TrialTimer, case: Case, trials: int, say: Callable[[str], Any]) -> CaseResult:
    """``trials`` fresh A/B decisions of ``case``, each made by ``ab``'s own machinery."""
    result = CaseResult(case, extra_blocks=timer.calibrate(case.slowdown))
    job = Job(SCENARIO, VARIANT, "gather, then hashing", in_base=True)
    config = ABConfig(rounds=DEFAULT_ROUNDS, profile=PROFILE, settings=GateSettings())
    for index in range(trials):
        started, before = time.perf_counter(), timer.processes
        (item,), _ = ab_compare([job], timer, config)
        result.seconds.append(time.perf_counter() - started)
        result.processes += timer.processes - before
        result.first[item.first_outcome or item.outcome] += 1
        result.final[item.outcome] += 1
        if item.ratio is not None:
            result.ratios.append(item.ratio)
        if item.floor is not None:
            result.floors.append(item.floor)
        say(f"{case.name}: trial {index + 1}/{trials} {item.outcome} ({item.reason})")
    return result


def print_results(results: Sequence[CaseResult]) -> None:
    """The power table: one row per case."""
    from rich.table import Table

    from asyncio_perf_lab.benchmarks.commands.common import console
    from asyncio_perf_lab.reports.stats import median, quantile

    table = Table(
        title="regression gate on this machine: fresh, independent trials as `ab` decides "
        f"(quick profile, {DEFAULT_ROUNDS} rounds, alpha 0.01, own A/A floor >= 3%, re-run once)"
    )
    for column in (
        "case",
        "trials",
        "regression",
        "inconclusive",
        "rate (95% bound)",
        "ratio p5/p50/p95",
        "floor p50",
        "processes",
        "s/trial",
    ):
        table.add_column(column, justify="left" if column == "case" else "right", no_wrap=True)
    for r in results:
        rate, bound = r.rate_and_bound()
        side = "<=" if r.case.is_aa else ">="
        ratios = "/".join(f"{quantile(r.ratios, q):.3f}" for q in (0.05, 0.5, 0.95))
        table.add_row(
            f"{r.case.name} ({r.extra_blocks} blocks)",
            str(r.trials),
            f"{r.regressions}/{r.trials}",
            str(r.final["inconclusive"]),
            f"{rate:.1%} ({side} {bound:.1%})",
            ratios if r.ratios else "-",
            f"{median(r.floors):.1%}" if r.floors else "-",
            str(r.processes),
            f"{sum(r.seconds) / len(r.seconds):.1f}" if r.seconds else "-",
        )
    console(stderr=False).print(table)


def main(argv: list[str] | None = None, prog: str = "asyncio-lab selfbench gate") -> int:
    """Run the cases' fresh trials, print the table (and write --json); 0 when measured."""
    from asyncio_perf_lab.benchmarks.commands.common import Parser, bounded, console
    from asyncio_perf_lab.mockserver import MockServer

    parser = Parser(
        prog=prog,
        description=__doc__.splitlines()[0] + " " + __doc__.strip().splitlines()[-1],
    )
    parser.add_argument("cases", nargs="*", metavar="CASE", help=f"of {', '.join(CASES)} (all)")
    parser.add_argument(
        "--trials",
        type=bounded(int, 1, 10_000, "--trials"),
        default=30,
        help="fresh trials per case (default 30)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    args = parser.parse_args(argv)
    args.cases = args.cases or list(CASES)
    if unknown := [c for c in args.cases if c not in CASES]:
        parser.error(f"unknown case {unknown[0]!r}; allowed: {', '.join(CASES)}")
    err = console()

    def say(line: str) -> None:
        err.print(line, highlight=False)

    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="lab-gate-") as tmp, MockServer() as server:
            (Path(tmp) / f"{SCENARIO}.py").write_text(SCENARIO_MODULE)
            timer = TrialTimer(Path(tmp), server.url)
            for name in args.cases:
                results.append(run_case(timer, CASES[name], args.trials, say))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print_results(results)
    if args.json:
        from asyncio_perf_lab.reports.results_file import write_json_atomic

        write_json_atomic(Path(args.json), {"cases": [r.as_dict() for r in results]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
