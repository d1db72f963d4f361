"""A/B in one job: a base revision against the working tree, interleaved, on one mock server.

Timings stored from another run drift 10-40% on a shared machine; timings taken side by side do
not. So ``asyncio-lab ab --base REV`` checks the base revision out in a temporary git
worktree (always removed, also on Ctrl-C, SIGTERM or failure), starts one mock server, and times
each selected variant in rounds ordered ABBA (base, head, head, base; the next round BAAB) so a
slow drift of the machine lands on both sides alike. Every run is a fresh pyperf worker process
of *that side's own tree* (the worker module with its cwd in the tree), so each
side's scenario code is what gets timed. Each side's values are pooled and judged by
``benchmarks.compare``; variants flagged regression or inconclusive are re-run once with twice the
rounds and the re-run decides. A variant the base revision lacks is reported "new".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.compare import write_html
from asyncio_perf_lab.benchmarks.environment import REPO_ROOT
from asyncio_perf_lab.benchmarks.profiles import PROFILES, Profile
from asyncio_perf_lab.benchmarks.worker import WORKER_MODULE
from asyncio_perf_lab.reports.errors import UsageError
from asyncio_perf_lab.reports.gate import (
    Comparison,
    GateSettings,
    Sample,
    VariantComparison,
    confirm,
    judge,
)

DEFAULT_ROUNDS = 2  # quick profile: 2 rounds x 2 runs x 3 values = 12 values a side
SIDES = ("base", "head")

# Run inside a side's tree (cwd), so it lists *that* revision's scenarios; only the registry
# calls every revision of the lab has had (NAMES, load, variants, latency, workload, tiny).
CATALOG_SCRIPT = """
import dataclasses, json, sys
from asyncio_perf_lab import scenarios
out = {}
for name in scenarios.NAMES:
    s = scenarios.load(name)
    out[name] = {
        "latency": s.latency,
        "workload": dataclasses.asdict(s.workload),
        "tiny": dataclasses.asdict(s.tiny),
        "variants": {key: v.label for key, v in s.variants.items()},
    }
json.dump(out, sys.stdout)
"""


@dataclass
class Side:
    """One side of the A/B: a source tree and what its scenario registry holds."""

    name: str  # base | head
    rev: str  # as the user named it
    sha: str | None
    tree: Path
    catalog: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """``origin/main (1a2b3c4)`` or ``working tree (1a2b3c4 + changes)``."""
        short = (self.sha or "?")[:10]
        return f"{self.rev} ({short})"

    def worker_module(self) -> str:
        """The side's own worker module: revisions from before the one-package layout had none."""
        packaged = (self.tree / "asyncio_perf_lab").is_dir()
        return WORKER_MODULE if packaged else "benchmarks.worker"


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


@dataclass
class ABConfig:
    """Everything an A/B needs, already validated by the CLI."""

    base: str
    head: str | None = None  # None: the working tree, uncommitted changes included
    targets: Sequence[str] = ()
    profile: Profile = PROFILES["quick"]
    rounds: int = DEFAULT_ROUNDS
    rerun: bool = True
    settings: GateSettings = field(default_factory=GateSettings)
    loop: str = "asyncio"
    out_dir: Path = field(default_factory=lambda: REPO_ROOT / "results")


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"git {args[0]} failed: {exc}") from None


def resolve_revision(rev: str) -> str:
    """The full commit hash ``rev`` names in this repository; anything else is a UsageError."""
    if not rev or rev.startswith("-"):
        raise UsageError(f"bad revision {rev!r}: expected a commit, branch or tag")
    proc = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if proc.returncode != 0 or not proc.stdout.strip():
        raise UsageError(
            f"bad revision {rev!r}: not a commit in {REPO_ROOT} "
            "(fetch it first, e.g. git fetch origin main; CI needs fetch-depth: 0)"
        )
    return proc.stdout.strip()


def working_tree_sha() -> str | None:
    """HEAD's hash, or None outside a git checkout."""
    proc = _git("rev-parse", "HEAD")
    return (proc.stdout.strip() or None) if proc.returncode == 0 else None


def remove_worktree(path: Path) -> None:
    """Remove a worktree we added, whatever state it is in (locked, half-created, gone)."""
    _git("worktree", "remove", "--force", "--force", str(path))
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)
    _git("worktree", "prune")


@contextlib.contextmanager
def worktree(sha: str, label: str) -> Iterator[Path]:
    """Check ``sha`` out (detached) in a temporary worktree and always remove it afterwards."""
    holder = Path(tempfile.mkdtemp(prefix=f"lab-ab-{label}-"))
    path = holder / "tree"
    try:
        proc = _git("worktree", "add", "--detach", "--quiet", str(path), sha)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            raise UsageError(f"cannot check out {sha[:10]} in a worktree: {last}")
        yield path
    finally:
        remove_worktree(path)
        shutil.rmtree(holder, ignore_errors=True)


def side_env() -> dict[str, str]:
    """The environment of a side's processes: nothing that would import the other side's code."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONSAFEPATH", "PYTHONSTARTUP"):
        env.pop(name, None)
    return env


def read_catalog(side: Side) -> dict[str, Any]:
    """List the scenarios and variants of a side's tree by running its own registry."""
    what = f"{side.name} {side.describe()}: cannot list its scenarios"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", CATALOG_SCRIPT],
            cwd=side.tree,
            env=side_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode == 0:
            return json.loads(proc.stdout)
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        raise UsageError(f"{what}: {exc}") from None
    last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    raise UsageError(f"{what}: {last}")


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


def abba(jobs: Sequence[Job], rounds: int) -> list[tuple[str, Job]]:
    """The run order: per round and variant ABBA (even rounds) or BAAB (odd rounds).

    A variant the base lacks runs on head only, twice a round, to show its figure.
    """
    schedule = []
    for r in range(rounds):
        order = ("base", "head", "head", "base") if r % 2 == 0 else ("head", "base", "base", "head")
        for job in jobs:
            schedule.extend((side, job) for side in order if side == "head" or job.in_base)
    return schedule


class Timer:
    """Times one variant of one side in fresh pyperf worker processes of that side's tree.

    Each run starts ``processes`` worker processes one after another, as pyperf's master would
    (``... worker --worker --loops N ...``): the timed code and the kind of
    process are pyperf's own, without a master interpreter per run (half the start-ups). The loops
    per value are calibrated once per variant, on head, by pyperf (``--calibrate-loops``); that
    also gives the time of one call, from which the profile picks the values per process (fewer
    for slow variants, as ``run`` does). Both figures are shared by every run of both sides.
    """

    def __init__(self, sides: dict[str, Side], base_url: str, profile: Profile, loop: str):
        self.sides = sides
        self.base_url = base_url
        self.profile = profile
        self.loop = loop
        self.loops: dict[str, int] = {}
        self.values: dict[str, int] = {}

    def command(self, side: Side, job: Job, output: Path, *pyperf_args: str) -> list[str]:
        """The worker command line of ``benchmarks.runner``, in pyperf's worker mode."""
        entry = side.catalog[job.scenario]
        workload = entry["tiny"] if self.profile.tiny_workload else entry["workload"]
        return [
            sys.executable,
            "-m",
            side.worker_module(),
            f"--scenario={job.scenario}",
            f"--variant={job.variant}",
            f"--base-url={self.base_url}",
            f"--latency={entry['latency']}",
            f"--workload={json.dumps(workload)}",
            f"--loop={self.loop}",
            f"--min-time={self.profile.min_time}",
            "--worker",
            *pyperf_args,
            "--quiet",
            f"--output={output}",
        ]

    def worker(self, side_name: str, job: Job, *pyperf_args: str) -> Any:
        """One worker process of ``side_name``; its pyperf Benchmark (RunError if it fails)."""
        import pyperf

        from asyncio_perf_lab.benchmarks.runner import WORKER_TIMEOUT_S, RunError

        side = self.sides[side_name]
        with tempfile.TemporaryDirectory(prefix="lab-ab-run-") as tmp:
            out = Path(tmp) / "bench.json"
            cmd = self.command(side, job, out, *pyperf_args)
            try:
                proc = run_process_group(cmd, side.tree, timeout=WORKER_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                raise RunError(f"{side_name} {job.key} took over {WORKER_TIMEOUT_S}s") from None
            if proc.returncode != 0 or not out.exists():
                tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
                raise RunError(f"{side_name} {job.key} failed (exit {proc.returncode}):\n{tail}")
            return pyperf.Benchmark.load(str(out))

    def calibrate(self, job: Job) -> tuple[int, int]:
        """(loops per value, values per process) of ``job``: calibrated on head once, cached."""
        if job.key not in self.loops:
            run = self.worker("head", job, "--calibrate-loops").get_runs()[-1]
            self.loops[job.key] = int(run.get_metadata()["calibrate_loops"])
            call_s = run.warmups[-1][1]  # (loops, seconds per loop) of the last calibration step
            self.values[job.key] = self.profile.values_for(call_s)
        return self.loops[job.key], self.values[job.key]

    def __call__(self, side_name: str, job: Job) -> Any:
        """One run: ``processes`` worker processes' values as one pyperf Benchmark."""
        loops, values = self.calibrate(job)
        args = (f"--loops={loops}", f"--values={values}", f"--warmups={self.profile.warmups}")
        bench = self.worker(side_name, job, *args)
        for _ in range(self.profile.processes - 1):
            bench.add_runs(self.worker(side_name, job, *args))
        return bench


RunFn = Callable[[str, Job], Any]


def run_process_group(
    cmd: list[str], cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` in its own process group, and kill the whole group (the pyperf master *and*
    its worker) if we are interrupted or it times out, so no orphan keeps timing after us."""
    with subprocess.Popen(
        cmd,
        cwd=cwd,
        env=side_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


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
    schedule: Sequence[tuple[str, Job]], run_one: RunFn, steps: Steps | None = None
) -> dict[str, dict[str, Any]]:
    """Run the schedule; return each side's pooled pyperf Benchmark per variant key."""
    pooled: dict[str, dict[str, Any]] = {side: {} for side in SIDES}
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


def samples(pooled: dict[str, Any], jobs: Sequence[Job]) -> dict[str, Sample]:
    """The pooled values of each job that ran on this side."""
    return {
        job.key: Sample(tuple(pooled[job.key].get_values()), job.label)
        for job in jobs
        if job.key in pooled
    }


def judge_all(
    pooled: dict[str, dict[str, Any]], jobs: Sequence[Job], settings: GateSettings
) -> list[VariantComparison]:
    """Judge every job from the pooled values of both sides."""
    base, head = samples(pooled["base"], jobs), samples(pooled["head"], jobs)
    return [judge(job.key, base.get(job.key), head.get(job.key), settings) for job in jobs]


def ab_compare(
    jobs: Sequence[Job],
    run_one: RunFn,
    config: ABConfig,
    steps: Steps | None = None,
) -> tuple[list[VariantComparison], dict[str, dict[str, Any]]]:
    """Time, judge, re-run the flagged with twice the rounds, and judge those again."""
    pooled = run_schedule(abba(jobs, config.rounds), run_one, steps)
    items = judge_all(pooled, jobs, config.settings)
    flagged = [job for job, item in zip(jobs, items, strict=True) if item.flagged]
    if config.rerun and flagged:
        fresh = run_schedule(abba(flagged, 2 * config.rounds), run_one, steps)
        again = {item.key: item for item in judge_all(fresh, flagged, config.settings)}
        items = [confirm(item, again[item.key]) if item.key in again else item for item in items]
        for side in SIDES:
            for key, bench in fresh[side].items():
                pooled[side][key].add_runs(bench)
    return items, pooled


def prepare_out_dir(out_dir: Path, profile: str) -> Path:
    """Create ``out_dir/ab-<time>-<profile>``; an unwritable place is bad input."""
    name = "ab-" + dt.datetime.now().strftime("%Y%m%d-%H%M%S") + f"-{profile}"
    try:
        path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=_mkdirs(out_dir)))
        path.chmod(0o755)  # mkdtemp's 0700 would hide the pages from a web server or teammate
    except OSError as exc:
        raise UsageError(f"cannot write to --out {out_dir}: {exc.strerror or exc}") from None
    return path


def _mkdirs(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_outputs(
    run_dir: Path, comparison: Comparison, pooled: dict[str, dict[str, Any]]
) -> dict[str, Path]:
    """comparison.json, compare.html and each side's pooled pyperf suite (for pyperf compare_to)."""
    import pyperf

    from asyncio_perf_lab.reports.results_file import write_json_atomic

    paths = {
        "json": write_json_atomic(run_dir / "comparison.json", comparison.to_dict()),
        "html": write_html(comparison, run_dir / "compare.html"),
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


@contextlib.contextmanager
def open_sides(config: ABConfig) -> Iterator[dict[str, Side]]:
    """Resolve both revisions (bad ones fail before any work), check them out, read catalogs."""
    base_sha = resolve_revision(config.base)
    head_sha = resolve_revision(config.head) if config.head else None
    with contextlib.ExitStack() as stack:
        base = Side("base", config.base, base_sha, stack.enter_context(worktree(base_sha, "base")))
        if config.head and head_sha:
            head_tree = stack.enter_context(worktree(head_sha, "head"))
            head = Side("head", config.head, head_sha, head_tree)
        else:
            head = Side("head", "working tree", working_tree_sha(), REPO_ROOT)
        for side in (base, head):
            side.catalog = read_catalog(side)
        yield {"base": base, "head": head}


def run_ab(
    config: ABConfig, progress: Callable[[], Any] | None = None
) -> tuple[Comparison, dict[str, Path]]:
    """The whole A/B: worktree(s), one mock server, ABBA rounds, re-runs, outputs written.

    ``progress`` makes a Rich Progress (a context manager), shown only once the input is known
    to be good, so a bad revision or target stays one line.
    """
    started = time.perf_counter()
    with sigterm_as_interrupt(), open_sides(config) as sides:
        jobs, removed = plan(sides["base"].catalog, sides["head"].catalog, config.targets)
        if not jobs:
            raise UsageError("nothing to compare: no variant selected")
        run_dir = prepare_out_dir(config.out_dir, config.profile.name)
        from asyncio_perf_lab.mockserver import MockServer, raise_open_files_limit

        raise_open_files_limit()
        shown = progress() if progress is not None else contextlib.nullcontext()
        with MockServer(latency="0ms") as server, shown as bar:
            timer = Timer(sides, server.url, config.profile, config.loop)
            items, pooled = ab_compare(jobs, timer, config, Steps(bar))
    wall = time.perf_counter() - started
    notes = [
        f"interleaved ABBA in one job: {config.rounds} rounds, profile {config.profile.name}, "
        "each run a fresh pyperf worker of its side's own tree, one shared mock server",
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
    if reran:
        notes.append(f"re-run with {2 * config.rounds} rounds: {', '.join(reran)}")
    comparison = Comparison(
        items=items + removed,
        settings=config.settings,
        base_name=f"base {sides['base'].describe()}",
        head_name=f"head {sides['head'].describe()}",
        mode="ab",
        notes=notes,
        meta={
            "base_rev": config.base,
            "base_sha": sides["base"].sha,
            "head_rev": config.head or "working tree",
            "head_sha": sides["head"].sha,
            "rounds": config.rounds,
            "profile": config.profile.name,
            "reran": reran,
            "wall_s": round(wall, 1),
        },
    )
    return comparison, write_outputs(run_dir, comparison, pooled)
