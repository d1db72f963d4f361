"""A/B in one job: two revisions or two environments, interleaved, on one mock server.

Timings stored from another run drift 10-40% on a shared machine; timings taken side by side do
not. So ``asyncio-lab ab --base REV`` checks the base revision out in a temporary git worktree
(``benchmarks.sides``), starts one mock server, and times each selected variant in ABBA rounds
(``benchmarks.scheduling``). Every run is fresh pyperf worker processes of *that side's own tree*
in *that side's own environment* (``benchmarks.side_envs``: interpreter or cached venv of a
requirement set, event loop), so each side's code, Python and packages are what get timed; a
side without a revision is the working tree (both: an environment-only A/B of the same code).
Each side's values are pooled and judged by ``reports.gate`` (one median per worker process,
each variant's own A/A floor); variants flagged regression or inconclusive are re-run once with
twice the rounds and the re-run decides. A variant the base revision lacks is "new".
This module only orchestrates: the rules and the page are in ``reports/``.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.environment import REPO_ROOT
from asyncio_perf_lab.benchmarks.profiles import PROFILES, Profile
from asyncio_perf_lab.benchmarks.run_dirs import check_out_dir, create_run_dir
from asyncio_perf_lab.benchmarks.scheduling import SIDES, Job, RunFn, Steps, abba, run_schedule
from asyncio_perf_lab.benchmarks.side_envs import EnvRequest
from asyncio_perf_lab.benchmarks.sides import Side, open_sides, side_env
from asyncio_perf_lab.benchmarks.workers import WorkerTask, measure_call_s, time_in_workers
from asyncio_perf_lab.reports.errors import UsageError
from asyncio_perf_lab.reports.gate import (
    Comparison,
    GateSettings,
    Sample,
    VariantComparison,
    confirm,
    judge,
)
from asyncio_perf_lab.reports.sequential import settled_pass

__all__ = ["DEFAULT_ROUNDS", "ABConfig", "Timer", "ab_compare", "plan", "run_ab"]

# The gate ranks one median per worker process; 5 a side is the fewest that can reach p < 0.01.
# Quick profile: 3 rounds x 2 runs = 6 processes (6 x 3 values) a side.
DEFAULT_ROUNDS = 3


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


def plan(
    base: dict[str, Any], head: dict[str, Any], targets: Sequence[str]
) -> tuple[list[Job], list[VariantComparison]]:
    """The jobs (head's selected variants, in head's order) and base-only variants ("removed").

    Targets are ``SCENARIO[:VARIANT]`` of head's registry (none: everything); unknown names are
    a UsageError listing what is allowed.
    """
    wanted: dict[str, set[str] | None] = {} if targets else dict.fromkeys(head)
    for spec in targets:
        name, _, variant = spec.partition(":")
        if name not in head:
            raise UsageError(f"unknown scenario {name!r}; allowed: {', '.join(head)}")
        if variant and variant not in head[name]["variants"]:
            allowed = ", ".join(head[name]["variants"])
            raise UsageError(f"unknown variant {variant!r} of {name}; allowed: {allowed}")
        if not variant:
            wanted[name] = None  # the whole scenario
        elif name not in wanted:
            wanted[name] = {variant}
        elif (chosen := wanted[name]) is not None:
            chosen.add(variant)
    jobs, removed = [], []
    for name, variants in wanted.items():
        base_variants = base.get(name, {}).get("variants", {})
        for variant, label in head[name]["variants"].items():
            if variants is None or variant in variants:
                jobs.append(Job(name, variant, label, variant in base_variants))
        if variants is None:
            for variant, label in base_variants.items():
                if variant not in head[name]["variants"]:
                    key = f"{name}:{variant}"
                    removed.append(VariantComparison(key, label, "removed", "not in head"))
    return jobs, removed


class Timer:
    """Times one variant of one side in fresh pyperf worker processes of that side's tree.

    The time of one call is measured once per variant, on head, by pyperf's loop calibration;
    from it the profile sizes loops and values (``Profile.worker_args``, as ``run`` does), the
    same for every run of both sides.
    """

    def __init__(self, sides: dict[str, Side], base_url: str, profile: Profile):
        self.sides = sides
        self.base_url = base_url
        self.profile = profile
        self.call_s: dict[str, float] = {}
        self.seconds: dict[str, float] = {}  # wall time spent per scenario (where an A/B goes)

    def task(self, side_name: str, job: Job) -> WorkerTask:
        """The worker task of ``job`` on ``side_name``: that side's tree, module and catalog."""
        side = self.sides[side_name]
        entry = side.catalog[job.scenario]
        return WorkerTask(
            job.scenario,
            job.variant,
            self.base_url,
            entry["latency"] or "",  # None: send none, each route's own latency applies
            entry["tiny"] if self.profile.tiny_workload else entry["workload"],
            side.env.loop,
            module=side.worker_module(),
            cwd=side.tree,
            env=side_env(),
            who=f"{side_name} ",
            options=(f"--scenarios={side.scenarios}",) if side.scenarios else (),
            python=side.env.python,
        )

    def __call__(self, side_name: str, job: Job) -> Any:
        """One run: ``processes`` worker processes' values as one pyperf Benchmark."""
        started = time.perf_counter()
        try:
            if job.key not in self.call_s:
                self.call_s[job.key] = measure_call_s(self.task("head", job), self.profile)
            return time_in_workers(self.task(side_name, job), self.profile, self.call_s[job.key])
        finally:
            spent = time.perf_counter() - started
            self.seconds[job.scenario] = self.seconds.get(job.scenario, 0.0) + spent


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


def run_rounds(
    jobs: Sequence[Job], rounds: int, run_one: RunFn, config: ABConfig, steps: Steps | None
) -> tuple[dict[str, dict[str, Any]], dict[str, VariantComparison]]:
    """Up to ``rounds`` ABBA/BAAB rounds; a variant whose verdict is settled stops early.

    Returns each side's pooled runs and the variants that stopped, with their "pass"
    (``reports.sequential``: a stop only ever passes, never flags).
    """
    pooled: dict[str, dict[str, Any]] = {side: {} for side in SIDES}
    settled: dict[str, VariantComparison] = {}
    active = list(jobs)
    for r in range(rounds):
        fresh = run_schedule(abba(active, 1, first_round=r), run_one, steps)
        for side in SIDES:
            for key, bench in fresh[side].items():
                if key in pooled[side]:
                    pooled[side][key].add_runs(bench)
                else:
                    pooled[side][key] = bench
        runs_left = 2 * (rounds - r - 1) * config.profile.processes  # a side, per variant
        if config.early_stop and runs_left:
            base, head = samples(pooled["base"], active), samples(pooled["head"], active)
            for job in active:
                item = settled_pass(
                    job.key, base.get(job.key), head.get(job.key), runs_left, config.settings
                )
                if item is not None:
                    settled[job.key] = item
            active = [job for job in active if job.key not in settled]
        if not active:
            break
    return pooled, settled


def ab_compare(
    jobs: Sequence[Job],
    run_one: RunFn,
    config: ABConfig,
    steps: Steps | None = None,
) -> tuple[list[VariantComparison], dict[str, dict[str, Any]]]:
    """Time, judge, re-run the flagged with twice the rounds, and judge those again."""
    pooled, settled = run_rounds(jobs, config.rounds, run_one, config, steps)
    items = [settled.get(item.key, item) for item in judge_all(pooled, jobs, config.settings)]
    flagged = [job for job, item in zip(jobs, items, strict=True) if item.flagged]
    if config.rerun and flagged:
        fresh, settled = run_rounds(flagged, 2 * config.rounds, run_one, config, steps)
        again = {
            item.key: settled.get(item.key, item)
            for item in judge_all(fresh, flagged, config.settings)
        }
        items = [confirm(item, again[item.key]) if item.key in again else item for item in items]
        for side in SIDES:
            for key, bench in fresh[side].items():
                pooled[side][key].add_runs(bench)
    return items, pooled


def write_outputs(
    run_dir: Path, comparison: Comparison, pooled: dict[str, dict[str, Any]]
) -> dict[str, Path]:
    """comparison.json, compare.html and each side's pooled pyperf suite (for pyperf compare_to)."""
    import pyperf

    from asyncio_perf_lab.reports.compare_page import build_compare_page
    from asyncio_perf_lab.reports.results_file import write_json_atomic

    paths = {
        "json": write_json_atomic(run_dir / "comparison.json", comparison.to_dict()),
        "html": build_compare_page(comparison.to_dict(), run_dir / "compare.html"),
    }
    for side in SIDES:
        if pooled[side]:
            path = run_dir / f"{side}.pyperf.json"
            pyperf.BenchmarkSuite(list(pooled[side].values())).dump(str(path), replace=True)
            paths[side] = path
    return paths


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM (CI cancelling the job) into KeyboardInterrupt, so clean-ups run."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def side_name(side: Side, other: Side) -> str:
    """``base origin/main (1a2b3c4)``, plus its environment when the two sides' differ."""
    name = f"{side.name} {side.describe()}"
    if side.env.describe() != other.env.describe():
        name += f" [{side.env.describe()}]"
    return name


def run_ab(
    config: ABConfig,
    progress: Callable[[], Any] | None = None,
    say: Callable[[str], Any] | None = None,
) -> tuple[Comparison, dict[str, Path]]:
    """The whole A/B: worktree(s), environments, one mock server, ABBA rounds, re-runs, outputs.

    ``progress`` makes a Rich Progress (a context manager), shown only once the input is known
    to be good, so a bad revision, interpreter or target stays one line; ``say`` reports slow
    preparation (a virtualenv being built).
    """
    started = time.perf_counter()
    envs = {name: config.envs.get(name, EnvRequest(loop=config.loop)) for name in SIDES}
    with (
        sigterm_as_interrupt(),
        open_sides(config.base, config.head, config.repo, config.scenarios, envs, say) as sides,
    ):
        head = sides["head"].catalog
        targets = config.targets
        if not targets and config.scenarios is not None:  # no names: the folder's scenarios
            targets = [name for name, entry in head.items() if entry.get("user")]
        jobs, removed = plan(sides["base"].catalog, head, targets)
        if not jobs:
            raise UsageError("nothing to compare: no variant selected")
        check_out_dir(config.out_dir)  # before the work; the folder only once there are results
        from asyncio_perf_lab.mockserver import MockServer, raise_open_files_limit

        raise_open_files_limit()
        shown = progress() if progress is not None else contextlib.nullcontext()
        with MockServer(latency="0ms", routes=config.routes) as server, shown as bar:
            timer = Timer(sides, server.url, config.profile)
            items, pooled = ab_compare(jobs, timer, config, Steps(bar))
    wall = time.perf_counter() - started
    notes = [
        f"interleaved ABBA in one job: {config.rounds} rounds, profile {config.profile.name}, "
        "each run a fresh pyperf worker of its side's own tree and environment, one shared "
        "mock server; the test ranks one median per worker process",
    ]
    for scenario in dict.fromkeys(job.scenario for job in jobs):
        base_entry = sides["base"].catalog.get(scenario)
        head_entry = sides["head"].catalog[scenario]
        if base_entry is None:
            notes.append(f"scenario {scenario} is new in head")
        elif base_entry["latency"] != head_entry["latency"]:
            notes.append(
                f"{scenario}: latency changed {base_entry['latency']} -> {head_entry['latency']}"
            )
    reran = [item.key for item in items if item.first_outcome is not None]
    if stopped := [item.key for item in items if "settled after" in item.reason]:
        notes.append(
            f"{len(stopped)} of {len(jobs)} variants stopped early, their verdict settled "
            "(no result of the rounds left could have reached alpha; --all-rounds runs them)"
        )
    if reran:
        notes.append(f"re-run with {2 * config.rounds} rounds: {', '.join(reran)}")
    comparison = Comparison(
        items=items + removed,
        settings=config.settings,
        base_name=side_name(sides["base"], sides["head"]),
        head_name=side_name(sides["head"], sides["base"]),
        mode="ab",
        notes=notes,
        meta={
            "base_rev": config.base or "working tree",
            "base_sha": sides["base"].sha,
            "head_rev": config.head or "working tree",
            "head_sha": sides["head"].sha,
            "rounds": config.rounds,
            "profile": config.profile.name,
            "reran": reran,
            "wall_s": round(wall, 1),
            "seconds_by_scenario": {k: round(v, 1) for k, v in timer.seconds.items()},
            "environments": {name: sides[name].env.facts for name in SIDES},
        },
    )
    run_dir = create_run_dir(config.out_dir, "ab-", config.profile.name)
    return comparison, write_outputs(run_dir, comparison, pooled)
