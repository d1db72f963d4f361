"""Runs selected variants: pyperf workers for the timing, one probe run each, one results file.

The mock server is started once per run, as its own process. Each variant is probed once in this
process (its calls also size the timing), then timed in fresh pyperf worker processes
(``benchmarks.workers``). Both phases run under time limits (``benchmarks.deadlines``). A run that
stops early (a variant failed or ran out of time, the server died, Ctrl-C, SIGTERM) stops its
workers and server, writes what it measured marked incomplete, and raises RunStopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import inspect
import json
import math
import os
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyperf
from rich.progress import Progress

from asyncio_perf_lab.benchmarks.calibrating import calibrated_after, recalibrated
from asyncio_perf_lab.benchmarks.deadlines import (
    HARD_GRACE_S,
    Limits,
    Phase,
    PhaseTimeout,
    hard_deadline,
    human,
    probe_phase,
    timing_phase,
)
from asyncio_perf_lab.benchmarks.environment import environment
from asyncio_perf_lab.benchmarks.loops import new_event_loop
from asyncio_perf_lab.benchmarks.probe_run import probe_variant
from asyncio_perf_lab.benchmarks.profiles import Profile
from asyncio_perf_lab.benchmarks.run_dirs import create_run_dir
from asyncio_perf_lab.benchmarks.selection import Selection
from asyncio_perf_lab.benchmarks.sizing import LONG_CALL_S
from asyncio_perf_lab.benchmarks.stopping import exit_code, how_stopped
from asyncio_perf_lab.benchmarks.workers import RunError, WorkerTask, time_in_workers
from asyncio_perf_lab.mockserver import MockServer, parse_latency, raise_open_files_limit
from asyncio_perf_lab.reports.errors import UsageError
from asyncio_perf_lab.reports.results_file import KIND, SCHEMA_VERSION, write_json_atomic
from asyncio_perf_lab.reports.stats import summarize
from asyncio_perf_lab.scenarios import Machine, Variant
from asyncio_perf_lab.scenarios.calibration import Site


@dataclass
class RunConfig:
    """Everything a run needs, already validated."""

    selections: list[Selection]
    profile: Profile
    loop: str = "asyncio"
    latency_override: str | None = None
    out_dir: Path = field(default_factory=lambda: Path("results"))
    scenarios: Path | None = None  # a user's scenario folder (workers import from it)
    routes: Path | None = None  # a user's routes file for the mock server
    limits: Limits = field(default_factory=Limits)  # each variant's probe and timing limits


def result_preview(result: Any, limit: int = 2000) -> str:
    """What the variant returned, as JSON text cut to ``limit`` chars (the report shows it)."""
    text = json.dumps(result, default=repr, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def variant_record(
    name: str, variant: Variant, ideal_s: float, values: list[float], probe: dict[str, Any]
) -> dict[str, Any]:
    """The results-file entry of one variant (schema 1)."""
    stats = summarize(values)
    return {
        "name": name,
        "label": variant.label,
        "why": variant.why,
        "anti_pattern": variant.anti_pattern,
        "ideal_s": ideal_s,
        "budget": variant.budget,
        "source": inspect.getsource(variant.run),
        "doc": inspect.getdoc(variant.run) or "",
        "values": values,
        "stats": stats,
        "efficiency": ideal_s / stats["median"] if ideal_s > 0 else None,
        "probe": probe,
        "ideal_kind": variant.ideal_kind,
        # The guard: an ideal is a floor, so one above the fastest value means the model or its
        # calibration is wrong. Flagged for the console and the report, never clipped.
        "ideal_above_measured": ideal_s > min(values),
    }


def seconds_in_calls(bench: pyperf.Benchmark) -> float:
    """Seconds the variant's own calls took in ``bench``'s processes: every warm-up and value
    times its loops. The rest of the workers' wall time is what a process costs around them:
    start, imports (aiohttp's is lazy, inside the first call's pyperf step), context, exit."""
    total = 0.0
    for run in bench.get_runs():
        loops = run.get_loops()
        total += sum(value * loops for value in run.values)
        total += sum(warm_loops * value for warm_loops, value in run.warmups or ())
    return total


class PhaseClock:
    """Where a scenario's wall time goes: calibration, probes, workers (its ``seconds``), and of
    the workers' time, what their processes cost beyond the timed calls (starts, imports)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.seconds = dict.fromkeys(("calibration", "probes", "workers", "worker_overhead"), 0.0)
        self.last = 0.0  # seconds of the latest timed block

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        """Add the block's wall time to ``phase`` (and keep it as ``last``)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.last = time.perf_counter() - start
            self.seconds[phase] += self.last

    def as_dict(self) -> dict[str, float]:
        """Each phase's seconds and the scenario's total, rounded to 10 ms."""
        total = {"total": time.perf_counter() - self.started}
        return {phase: round(s, 2) for phase, s in {**self.seconds, **total}.items()}


@dataclass
class Measured:
    """What a run has measured so far, in results-file form: a stopped run still writes it."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    benches: list[pyperf.Benchmark] = field(default_factory=list)
    current: str = ""  # scenario:variant being probed or timed now

    def add(self, entry: dict[str, Any], record: dict[str, Any], bench: pyperf.Benchmark) -> None:
        """One more variant measured (its scenario's entry joins at its first variant)."""
        if not entry["variants"]:
            self.entries.append(entry)
        entry["variants"].append(record)
        self.benches.append(bench)

    def during(self) -> str:
        """`` while S:V ran`` (or nothing before the first variant), for a reason's end."""
        return f" while {self.current} ran" if self.current else ""

    def keys(self) -> set[str]:
        """``scenario:variant`` of every variant measured."""
        return {f"{e['name']}:{v['name']}" for e in self.entries for v in e["variants"]}


class RunStopped(Exception):
    """The run stopped before every selected variant was measured; the message is one line.

    ``path``: the results file of the variants measured before, marked incomplete (None when
    there were none: then no run folder is left either). ``exit_code``: 1 when something failed,
    130 for Ctrl-C, 143 for SIGTERM.
    """

    def __init__(self, reason: str, path: Path | None, exit_code: int, missing: list[str]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path
        self.exit_code = exit_code
        self.missing = missing


def one_line(exc: BaseException) -> str:
    """``TypeName: first line``, of the first leaf of an exception group."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def probe_within_limit(
    loop_runner: asyncio.Runner, probe: Coroutine[Any, Any, Any], phase: Phase, limit_s: float
) -> Any:
    """Run the probe under its limit; RunError (one line) if it fails or runs past the limit."""

    async def limited() -> Any:
        async with asyncio.timeout(limit_s):
            return await probe

    over = (
        f"{phase.key} took over its probe limit of {human(limit_s)} (it needs "
        f"~{human(phase.needs_s)}: {phase.arithmetic()}); stopped"
    )
    try:
        with hard_deadline(limit_s + HARD_GRACE_S, over):
            return loop_runner.run(limited())
    except (TimeoutError, PhaseTimeout):
        raise RunError(over) from None
    except Exception as exc:  # the variant's own error, or the server gone: one line
        raise RunError(f"{phase.key} failed in its probe run: {one_line(exc)}") from None


def run_scenario(
    selection: Selection,
    config: RunConfig,
    server: MockServer,
    loop_runner: asyncio.Runner,
    measured: Measured,
    progress: Progress | None = None,
    task: Any = None,
) -> None:
    """Calibrate, probe and time the selected variants of one scenario into ``measured``."""
    scenario = selection.scenario
    workload = scenario.tiny if config.profile.tiny_workload else scenario.workload
    # "" sends no latency (a scenario's LATENCY None): each route's own applies; ideal models
    # then get 0 and use the route figures they carry in their workload.
    latency = config.latency_override or scenario.latency or ""
    latency_s = parse_latency(latency).nominal_s if latency else 0.0
    # Calibrated where and as the variants run: the run's loop, its server, a lean process.
    site = Site(new_loop=functools.partial(new_event_loop, config.loop), base_url=server.url)
    clock = PhaseClock()
    with clock("calibration"):
        machine = Machine(cpu_s=scenario.measure_machine(workload, site))
    entry: dict[str, Any] = {
        "name": scenario.name,
        "title": scenario.title,
        "question": scenario.question,
        "lesson": scenario.lesson,
        "teaches": list(scenario.teaches),  # what the headline may claim
        "latency": latency,
        "latency_s": latency_s,
        "workload": scenario.constants(workload),
        "machine": {"cores": machine.cores, "cpu_s": dict(machine.cpu_s)},
        "results_equal": None,
        "variants": [],
    }
    results: dict[str, Any] = {}
    for name in selection.variants:
        variant = scenario.variants[name]
        measured.current = key = f"{scenario.name}:{name}"
        if progress is not None:
            progress.update(task, description=key)
        ideal_s = variant.ideal(workload, latency_s, machine)
        # Probe first: its calls size the pyperf run (anti-patterns run far over ideal). The
        # warm call is unprobed but may be cold, the probed one warm but slowed: take the less.
        phase = probe_phase(key, ideal_s)
        with clock("probes"):
            probe, results[name] = probe_within_limit(
                loop_runner,
                probe_variant(
                    variant, server.url, latency, workload, server, warm=ideal_s < LONG_CALL_S
                ),
                phase,
                config.limits.limit_s(phase),
            )
        probe["result"] = result_preview(results[name])
        call_s = max(ideal_s, min(probe["wall_s"], probe.get("warm_wall_s", math.inf)))
        try:  # known now, not after the workers ran out of time: refuse what cannot fit
            config.limits.check(timing_phase(key, config.profile, call_s, "as measured"))
        except UsageError as exc:
            raise RunError(str(exc)) from None
        timed = WorkerTask(
            scenario.name,
            name,
            server.url,
            latency,
            scenario.constants(workload),
            config.loop,
            options=(f"--scenarios={config.scenarios}",) if config.scenarios else (),
        )
        with clock("workers"):
            bench = time_in_workers(timed, config.profile, call_s, config.limits)
        clock.seconds["worker_overhead"] += clock.last - seconds_in_calls(bench)
        values = list(bench.get_values())
        measured.add(entry, variant_record(name, variant, ideal_s, values, probe), bench)
        if scenario.calibrate is not None and ideal_s > min(values):
            # read in a slow stretch that the timing missed: once more, nearer the timing
            with clock("calibration"):
                machine = recalibrated(scenario, workload, site, machine)
        entry["seconds"] = clock.as_dict()
        # null where the variants differ on purpose (scenario.equal_results is False)
        first = next(iter(results.values()))
        entry["results_equal"] = (
            all(r == first for r in results.values()) if scenario.equal_results else None
        )
        if progress is not None:
            progress.advance(task)
    if scenario.calibrate is not None:  # every ideal from the lowest readings
        with clock("calibration"):
            machine = calibrated_after(scenario, workload, site, machine, latency_s, entry)
        entry["seconds"] = clock.as_dict()
        entry["machine"]["cpu_s"] = dict(machine.cpu_s)
        entry["variants"] = [
            variant_record(
                record["name"],
                scenario.variants[record["name"]],
                scenario.variants[record["name"]].ideal(workload, latency_s, machine),
                record["values"],
                record["probe"],
            )
            for record in entry["variants"]
        ]


def write_pyperf_suite(path: Path, benches: list[pyperf.Benchmark]) -> None:
    """Write all variants as one pyperf suite, so ``pyperf stats`` / ``compare_to`` read it."""
    tmp = path.with_name(f".{path.name}.tmp")
    pyperf.BenchmarkSuite(benches).dump(str(tmp), replace=True)
    os.replace(tmp, path)


def run(config: RunConfig, progress: Progress | None = None) -> Path:
    """Run the selected variants, write ``results.json`` and ``pyperf.json``; return the former.

    The run folder is made only once there is something to write, so a run that fails or is
    killed (even by SIGKILL) leaves no empty folder. RunStopped if the run stops early: a
    variant failed or ran past its limit, the mock server died or stopped answering, Ctrl-C or
    SIGTERM; its workers and server are stopped by then, and what was measured is written,
    marked incomplete.
    """
    raise_open_files_limit()
    started = time.perf_counter()
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    env = environment(config.loop)
    selected = [f"{s.scenario.name}:{v}" for s in config.selections for v in s.variants]
    task = progress.add_task("starting", total=len(selected)) if progress is not None else None
    measured = Measured()
    stopped: tuple[str, int] | None = None
    with (
        MockServer(latency="0ms", routes=config.routes) as server,
        asyncio.Runner(loop_factory=lambda: new_event_loop(config.loop)) as loop_runner,
    ):
        try:
            for selection in config.selections:
                run_scenario(selection, config, server, loop_runner, measured, progress, task)
        except RunError as exc:
            # A dead or silent server is the cause, whatever the variant's error says.
            failure = server.failure()
            stopped = (f"{failure}{measured.during()}" if failure else str(exc), 1)
        except KeyboardInterrupt as exc:
            stopped = (f"interrupted by {how_stopped(exc)}{measured.during()}", exit_code(exc))
    done = measured.keys()
    missing = [key for key in selected if key not in done]
    if stopped is not None and not measured.entries:
        raise RunStopped(stopped[0], None, stopped[1], missing)
    run_dir = create_run_dir(config.out_dir, profile=config.profile.name)
    results = {
        "schema": SCHEMA_VERSION,
        "kind": KIND,
        "run": {
            "id": run_dir.name,
            "created": created,
            "profile": config.profile.name,
            "loop": config.loop,
            "latency_override": config.latency_override,
            "scenarios_dir": str(config.scenarios) if config.scenarios else None,
            "routes": str(config.routes) if config.routes else None,
            "wall_s": time.perf_counter() - started,
            "pyperf": config.profile.as_dict(),
            "limits": config.limits.as_dict(),
            "incomplete": (
                {"reason": stopped[0], "missing": missing} if stopped is not None else None
            ),
            "env": env,
        },
        "scenarios": measured.entries,
    }
    write_pyperf_suite(run_dir / "pyperf.json", measured.benches)
    path = write_json_atomic(run_dir / "results.json", results)
    if stopped is not None:
        raise RunStopped(stopped[0], path, stopped[1], missing)
    return path
