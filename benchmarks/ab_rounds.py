"""The rounds of an A/B and their verdicts: ABBA rounds, early stops, judging, one re-run.

``ab`` (``benchmarks.ab``) prepares the sides and the server and writes the outputs; this module
only decides which runs happen and what they say, through a run function it is given, so a test
or ``selfbench gate`` can drive it with any timer. What was timed is pooled into ``Measured`` as
each run lands, so a stop half-way can still be judged and written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.environment import REPO_ROOT
from asyncio_perf_lab.benchmarks.profiles import PROFILES, Profile
from asyncio_perf_lab.benchmarks.scheduling import (
    DEFAULT_ROUNDS,
    SIDES,
    Job,
    RunFn,
    Steps,
    abba,
    run_schedule,
)
from asyncio_perf_lab.benchmarks.side_envs import EnvRequest
from asyncio_perf_lab.reports.gate import GateSettings, Sample, VariantComparison, confirm, judge
from asyncio_perf_lab.reports.sequential import settled

__all__ = ["DEFAULT_ROUNDS", "ABConfig", "Measured", "ab_compare", "judge_all", "run_rounds"]


@dataclass
class ABConfig:
    """Everything an A/B needs, already validated by the CLI."""

    base: str | None = None  # None: the working tree (an environment-only A/B)
    head: str | None = None  # None: the working tree, uncommitted changes included
    targets: Sequence[str] = ()
    profile: Profile = PROFILES["quick"]
    rounds: int = DEFAULT_ROUNDS
    rerun: bool = True
    early_stop: bool = True  # stop a variant's rounds once no result could turn its verdict
    settings: GateSettings = field(default_factory=GateSettings)
    loop: str = "asyncio"
    out_dir: Path = field(default_factory=lambda: Path("results"))
    repo: Path = REPO_ROOT  # the git checkout whose revisions are compared
    scenarios: Path | None = None  # a user's scenario folder (inside repo: each side's own)
    routes: Path | None = None  # a user's routes file for the one mock server
    envs: dict[str, EnvRequest] = field(default_factory=dict)  # per side; default: as `loop`


def samples(pooled: dict[str, Any], jobs: Sequence[Job]) -> dict[str, Sample]:
    """The pooled values of each job that ran on this side, grouped by worker process."""
    return {
        job.key: Sample.of_runs([run.values for run in pooled[job.key].get_runs()], job.label)
        for job in jobs
        if job.key in pooled
    }


def judge_all(
    pooled: dict[str, dict[str, Any]], jobs: Sequence[Job], settings: GateSettings
) -> list[VariantComparison]:
    """Judge every job from the pooled values of both sides."""
    base, head = samples(pooled["base"], jobs), samples(pooled["head"], jobs)
    return [judge(job.key, base.get(job.key), head.get(job.key), settings) for job in jobs]


@dataclass
class Measured:
    """What an A/B has timed and judged so far, kept outside the rounds so a stop can write it."""

    pooled: dict[str, dict[str, Any]] = field(default_factory=lambda: {s: {} for s in SIDES})
    settled: dict[str, VariantComparison] = field(default_factory=dict)
    first: list[VariantComparison] | None = None  # the first pass's verdicts, once judged
    current: str = ""  # "side scenario:variant" of the run under way (a stop names it)

    def verdicts(self, jobs: Sequence[Job], settings: GateSettings) -> list[VariantComparison]:
        """The verdicts so far: the first pass's once judged (a re-run cut short leaves them),
        else of each variant timed on both sides (those the base lacks: on head)."""
        if self.first is not None:
            return self.first
        timed = [
            job
            for job in jobs
            if job.key in self.pooled["head"]
            and (job.key in self.pooled["base"] or not job.in_base)
        ]
        judged = judge_all(self.pooled, timed, settings)
        return [self.settled.get(item.key, item) for item in judged]


def run_rounds(
    jobs: Sequence[Job],
    rounds: int,
    run_one: RunFn,
    config: ABConfig,
    steps: Steps | None,
    measured: Measured,
) -> dict[str, VariantComparison]:
    """Up to ``rounds`` ABBA/BAAB rounds pooled into ``measured``; a variant whose verdict is
    settled stops early. Returns the variants that stopped, with their verdict
    (``reports.sequential``: a stop never flags; a pass, or inconclusive for spread).
    """
    pooled = measured.pooled
    stopped: dict[str, VariantComparison] = {}
    active = list(jobs)
    for r in range(rounds):
        run_schedule(abba(active, 1, first_round=r), run_one, steps, into=pooled)
        runs_left = 2 * (rounds - r - 1) * config.profile.processes  # a side, per variant
        if config.early_stop and runs_left:
            base, head = samples(pooled["base"], active), samples(pooled["head"], active)
            for job in active:
                item = settled(
                    job.key, base.get(job.key), head.get(job.key), runs_left, config.settings
                )
                if item is not None:
                    stopped[job.key] = item
            active = [job for job in active if job.key not in stopped]
        if not active:
            break
    return stopped


def ab_compare(
    jobs: Sequence[Job],
    run_one: RunFn,
    config: ABConfig,
    steps: Steps | None = None,
    measured: Measured | None = None,
) -> tuple[list[VariantComparison], dict[str, dict[str, Any]]]:
    """Time, judge, re-run the flagged (a regression with twice the rounds), judge those again.

    Pass ``measured`` to keep what was timed and judged when this raises (a stop).
    """
    measured = measured if measured is not None else Measured()

    def tracked(side: str, job: Job) -> Any:
        measured.current = f"{side} {job.key}"
        return run_one(side, job)

    measured.settled = run_rounds(jobs, config.rounds, tracked, config, steps, measured)
    items = measured.first = measured.verdicts(jobs, config.settings)
    if not config.rerun:
        return items, measured.pooled
    # A regression is confirmed on twice the rounds; a disturbed or short side only needs
    # fresh runs of the same size.
    verdicts = dict(zip((job.key for job in jobs), items, strict=True))
    again: dict[str, VariantComparison] = {}
    for rounds, wanted in ((2 * config.rounds, True), (config.rounds, False)):
        group = [
            job
            for job in jobs
            if verdicts[job.key].flagged and (verdicts[job.key].outcome == "regression") == wanted
        ]
        if not group:
            continue
        fresh = Measured()
        stopped = run_rounds(group, rounds, tracked, config, steps, fresh)
        for item in judge_all(fresh.pooled, group, config.settings):
            again[item.key] = stopped.get(item.key, item)
        for side in SIDES:
            for key, bench in fresh.pooled[side].items():
                measured.pooled[side][key].add_runs(bench)
    items = [confirm(item, again[item.key]) if item.key in again else item for item in items]
    return items, measured.pooled
