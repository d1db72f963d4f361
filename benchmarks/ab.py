"""A/B in one job: two revisions or two environments, interleaved, on one mock server.

Timings stored from another run drift 10-40% on a shared machine; timings taken side by side do
not. So ``asyncio-lab ab --base REV`` checks the base revision out in a temporary git worktree
(``benchmarks.sides``), starts one mock server, and times each selected variant in ABBA rounds
(``benchmarks.scheduling``). Every run is fresh pyperf worker processes of *that side's own tree*
in *that side's own environment* (``benchmarks.side_envs``: interpreter or cached venv of a
requirement set, event loop), so each side's code, Python and packages are what get timed; a
side without a revision is the working tree (both: an environment-only A/B of the same code).
Each side's values are pooled and judged by ``reports.gate`` (one median per worker process,
each variant's own A/A floor); a regression, or an inconclusive that fresh runs can change (too
few runs, a disturbed side), is re-run once with twice the rounds and the re-run decides. A
variant the base revision lacks is "new". Ctrl-C, SIGTERM or a failed worker stop the A/B with
what was measured judged and written, marked incomplete (``ABStopped``).
This module only orchestrates: the rules and the page are in ``reports/``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.ab_rounds import (
    DEFAULT_ROUNDS,
    ABConfig,
    Measured,
    ab_compare,
)
from asyncio_perf_lab.benchmarks.environment import REPO_ROOT
from asyncio_perf_lab.benchmarks.profiles import Profile
from asyncio_perf_lab.benchmarks.run_dirs import check_out_dir, create_run_dir
from asyncio_perf_lab.benchmarks.scheduling import SIDES, Job, Steps
from asyncio_perf_lab.benchmarks.side_envs import EnvRequest
from asyncio_perf_lab.benchmarks.sides import Side, open_sides, side_env
from asyncio_perf_lab.benchmarks.sizing import LONG_CALL_S, call_s_here
from asyncio_perf_lab.benchmarks.stopping import exit_code, how_stopped, sigterm_stops_the_run
from asyncio_perf_lab.benchmarks.workers import (
    RunError,
    WorkerTask,
    measure_call_s,
    time_in_workers,
)
from asyncio_perf_lab.reports.errors import UsageError
from asyncio_perf_lab.reports.gate import Comparison, VariantComparison

__all__ = [
    "DEFAULT_ROUNDS",
    "ABConfig",
    "ABStopped",
    "Measured",
    "Timer",
    "ab_compare",
    "plan",
    "run_ab",
]


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

    The time of one call is measured once per variant, on head: in this process when head is
    the code it imports (``benchmarks.sizing``), else by pyperf's loop calibration in a worker.
    From it the profile sizes loops and values (``Profile.worker_args``, as ``run`` does), the
    same for every run of both sides.
    """

    def __init__(self, sides: dict[str, Side], base_url: str, profile: Profile, here: bool = False):
        self.sides = sides
        self.base_url = base_url
        self.profile = profile
        self.here = here  # head's tree is the code this process imports: size in-process
        self.call_s: dict[str, float] = {}
        self.seconds: dict[str, float] = {}  # wall time spent per scenario (where an A/B goes)

    def size(self, job: Job) -> float:
        """Seconds one call of ``job`` takes on head: here if this code runs it, else a worker."""
        task = self.task("head", job)
        if self.here:
            try:
                return call_s_here(
                    job.scenario,
                    job.variant,
                    self.base_url,
                    task.latency,
                    dict(task.workload),
                    self.sides["head"].env.loop,
                    self.sides["head"].scenarios,
                )
            except Exception:
                pass
        return measure_call_s(task, self.profile)

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

    def profile_for(self, call_s: float) -> Profile:
        """The profile, without its warm-up call for a call of ``LONG_CALL_S`` or more.

        Both sides skip it alike, so the comparison is unchanged, and the warm-up's share of such
        a call (connects, a pool's start) is small; it would be a third of the time of a 3 s
        server_load variant's run.
        """
        return self.profile if call_s < LONG_CALL_S else replace(self.profile, warmups=0)

    def __call__(self, side_name: str, job: Job) -> Any:
        """One run: ``processes`` worker processes' values as one pyperf Benchmark."""
        started = time.perf_counter()
        try:
            if job.key not in self.call_s:
                self.call_s[job.key] = self.size(job)
            call_s = self.call_s[job.key]
            return time_in_workers(self.task(side_name, job), self.profile_for(call_s), call_s)
        finally:
            spent = time.perf_counter() - started
            self.seconds[job.scenario] = self.seconds.get(job.scenario, 0.0) + spent


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


class ABStopped(Exception):
    """The A/B stopped before its end; the message is one line.

    ``paths``: what was written of the variants measured before (None: nothing was, and no
    folder is left). ``exit_code``: 1 when a worker or the server failed, 130 Ctrl-C, 143 SIGTERM.
    """

    def __init__(self, reason: str, paths: dict[str, Path] | None, exit_code: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.paths = paths
        self.exit_code = exit_code


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
    preparation (a virtualenv being built). ABStopped when a stop or failure cut it short, after
    writing what was judged so far, marked incomplete.
    """
    started = time.perf_counter()
    envs = {name: config.envs.get(name, EnvRequest(loop=config.loop)) for name in SIDES}
    measured = Measured()
    stopped: tuple[str, int] | None = None
    with (
        sigterm_stops_the_run(),
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
        here = sides["head"].tree.resolve() == REPO_ROOT.resolve()
        with MockServer(latency="0ms", routes=config.routes) as server, shown as bar:
            timer = Timer(sides, server.url, config.profile, here=here)
            try:
                items, pooled = ab_compare(jobs, timer, config, Steps(bar), measured)
            except RunError as exc:  # a dead or silent server is the cause, whatever it says
                stopped = (server.failure() or str(exc), 1)
            except KeyboardInterrupt as exc:
                why = f"interrupted by {how_stopped(exc)}" + (
                    f" while {measured.current} ran" if measured.current else ""
                )
                stopped = (why, exit_code(exc))
    if stopped is not None:
        items, pooled = measured.verdicts(jobs, config.settings), measured.pooled
    comparison = Comparison(
        items=items + removed,
        settings=config.settings,
        base_name=side_name(sides["base"], sides["head"]),
        head_name=side_name(sides["head"], sides["base"]),
        mode="ab",
        notes=ab_notes(config, sides, jobs, items, stopped),
        meta={
            "base_rev": config.base or "working tree",
            "base_sha": sides["base"].sha,
            "head_rev": config.head or "working tree",
            "head_sha": sides["head"].sha,
            "rounds": config.rounds,
            "profile": config.profile.name,
            "reran": [item.key for item in items if item.first_outcome is not None],
            "wall_s": round(time.perf_counter() - started, 1),
            "seconds_by_scenario": {k: round(v, 1) for k, v in timer.seconds.items()},
            "environments": {name: sides[name].env.facts for name in SIDES},
            "incomplete": (
                {
                    "reason": stopped[0],
                    "missing": [job.key for job in jobs if job.key not in {i.key for i in items}],
                }
                if stopped is not None
                else None
            ),
        },
    )
    if stopped is not None and not items:
        raise ABStopped(stopped[0], None, stopped[1])
    run_dir = create_run_dir(config.out_dir, "ab-", config.profile.name)
    paths = write_outputs(run_dir, comparison, pooled)
    if stopped is not None:
        raise ABStopped(stopped[0], paths, stopped[1])
    return comparison, paths


def ab_notes(
    config: ABConfig,
    sides: dict[str, Side],
    jobs: Sequence[Job],
    items: Sequence[VariantComparison],
    stopped: tuple[str, int] | None,
) -> list[str]:
    """What the page says about how the A/B ran: its method, early stops, re-runs, a stop."""
    notes = [
        f"interleaved ABBA in one job: {config.rounds} rounds, profile {config.profile.name}, "
        "each run a fresh pyperf worker of its side's own tree and environment, one shared "
        "mock server; the test ranks one median per worker process",
    ]
    if stopped is not None:
        notes.append(
            f"INCOMPLETE: {stopped[0]}; {len(items)} of {len(jobs)} variants judged on what was "
            "timed before the stop"
        )
    for scenario in dict.fromkeys(job.scenario for job in jobs):
        base_entry = sides["base"].catalog.get(scenario)
        head_entry = sides["head"].catalog[scenario]
        if base_entry is None:
            notes.append(f"scenario {scenario} is new in head")
        elif base_entry["latency"] != head_entry["latency"]:
            notes.append(
                f"{scenario}: latency changed {base_entry['latency']} -> {head_entry['latency']}"
            )
    if stopped_early := [item.key for item in items if "settled after" in item.reason]:
        notes.append(
            f"{len(stopped_early)} of {len(jobs)} variants stopped early, their verdict settled "
            "(no result of the rounds left could have reached alpha; --all-rounds runs them)"
        )
    for first, rounds in (("regression", 2 * config.rounds), ("inconclusive", config.rounds)):
        if reran := [item.key for item in items if item.first_outcome == first]:
            notes.append(f"{first} re-run with {rounds} rounds: {', '.join(reran)}")
    return notes
