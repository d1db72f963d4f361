"""The A/B run order: interleaved ABBA rounds, so a slow drift of the machine lands on both sides.

Per round and variant the sides run base, head, head, base; the next round mirrors it (BAAB). A
variant the base lacks runs on head only, twice a round, to show its figure. ``run_schedule``
pools each side's pyperf runs per variant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# The gate ranks one median per worker process; 5 a side is the fewest that can reach p < 0.01.
# Quick profile: 3 rounds x 2 runs = 6 processes (6 x 3 values) a side.
DEFAULT_ROUNDS = 3

__all__ = ["DEFAULT_ROUNDS", "SIDES", "Job", "RunFn", "Steps", "abba", "run_schedule"]

SIDES = ("base", "head")


@dataclass(frozen=True)
class Job:
    """One variant to time: which scenario, and whether the base side has it at all."""

    scenario: str
    variant: str
    label: str
    in_base: bool

    @property
    def key(self) -> str:
        return f"{self.scenario}:{self.variant}"


RunFn = Callable[[str, Job], Any]  # (side, job) -> a pyperf Benchmark (anything with add_runs)


def abba(jobs: Sequence[Job], rounds: int, first_round: int = 0) -> list[tuple[str, Job]]:
    """The run order: per round and variant ABBA (even rounds) or BAAB (odd rounds)."""
    schedule = []
    for r in range(first_round, first_round + rounds):
        order = ("base", "head", "head", "base") if r % 2 == 0 else ("head", "base", "base", "head")
        for job in jobs:
            schedule.extend((side, job) for side in order if side == "head" or job.in_base)
    return schedule


class Steps:
    """Progress of the schedules as a Rich task (or nothing), grown when re-runs are added."""

    def __init__(self, progress: Any = None) -> None:
        self.progress = progress
        self.task = progress.add_task("starting", total=0) if progress is not None else None
        self.total = 0

    def more(self, n: int) -> None:
        """Announce ``n`` more runs."""
        self.total += n
        if self.progress is not None:
            self.progress.update(self.task, total=self.total)

    def __call__(self, side: str, job: Job) -> None:
        if self.progress is not None:
            self.progress.update(self.task, description=f"{side} {job.key}", advance=1)


def run_schedule(
    schedule: Sequence[tuple[str, Job]],
    run_one: RunFn,
    steps: Steps | None = None,
    into: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run the schedule; return each side's pooled pyperf Benchmark per variant key.

    ``into``: pool into these (the caller keeps each run as it lands, even if a later one stops
    the schedule).
    """
    pooled: dict[str, dict[str, Any]] = into if into is not None else {side: {} for side in SIDES}
    if steps is not None:
        steps.more(len(schedule))
    for side, job in schedule:
        if steps is not None:
            steps(side, job)
        bench = run_one(side, job)
        if job.key in pooled[side]:
            pooled[side][job.key].add_runs(bench)
        else:
            pooled[side][job.key] = bench
    return pooled
