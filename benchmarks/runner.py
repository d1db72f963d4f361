"""Runs selected variants: pyperf workers for the timing, one probe run each, one results file.

The mock server is started once per run, as its own process. Each variant is probed once in this
process (its calls also size the timing), then timed in fresh pyperf worker processes
(``benchmarks.workers``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import inspect
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyperf
from rich.progress import Progress

from asyncio_perf_lab.benchmarks.environment import environment
from asyncio_perf_lab.benchmarks.loops import new_event_loop
from asyncio_perf_lab.benchmarks.probe_run import probe_variant
from asyncio_perf_lab.benchmarks.profiles import Profile
from asyncio_perf_lab.benchmarks.run_dirs import create_run_dir, point_latest
from asyncio_perf_lab.benchmarks.selection import Selection
from asyncio_perf_lab.benchmarks.workers import WorkerTask, time_in_workers
from asyncio_perf_lab.mockserver import MockServer, parse_latency, raise_open_files_limit
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


def lower_costs(first: dict[str, float], second: dict[str, float]) -> dict[str, float]:
    """Each calibrated cost at the lesser of two calibrations (a busy moment only adds time)."""
    return {key: min(first[key], second.get(key, first[key])) for key in first}


def run_scenario(
    selection: Selection,
    config: RunConfig,
    server: MockServer,
    loop_runner: asyncio.Runner,
    progress: Progress | None,
    task: Any,
) -> tuple[dict[str, Any], list[pyperf.Benchmark]]:
    """Calibrate, time and probe the selected variants of one scenario."""
    scenario = selection.scenario
    workload = scenario.tiny if config.profile.tiny_workload else scenario.workload
    # "" sends no latency (a scenario's LATENCY None): each route's own applies; ideal models
    # then get 0 and use the route figures they carry in their workload.
    latency = config.latency_override or scenario.latency or ""
    latency_s = parse_latency(latency).nominal_s if latency else 0.0
    # Calibrated where and as the variants run: the run's loop, its server, a lean process.
    site = Site(new_loop=functools.partial(new_event_loop, config.loop), base_url=server.url)
    machine = Machine(cpu_s=scenario.measure_machine(workload, site))
    measured: list[tuple[str, Variant, list[float], dict[str, Any]]] = []
    benches, results = [], {}
    for name in selection.variants:
        variant = scenario.variants[name]
        if progress is not None:
            progress.update(task, description=f"{scenario.name}:{name}")
        ideal_s = variant.ideal(workload, latency_s, machine)
        # Probe first: its calls size the pyperf run (anti-patterns run far over ideal). The
        # warm call is unprobed but may be cold, the probed one warm but slowed: take the less.
        probe, results[name] = loop_runner.run(
            probe_variant(variant, server.url, latency, workload, server)
        )
        probe["result"] = result_preview(results[name])
        call_s = max(ideal_s, min(probe["wall_s"], probe["warm_wall_s"]))
        timed = WorkerTask(
            scenario.name,
            name,
            server.url,
            latency,
            scenario.constants(workload),
            config.loop,
            options=(f"--scenarios={config.scenarios}",) if config.scenarios else (),
        )
        bench = time_in_workers(timed, config.profile, call_s)
        measured.append((name, variant, list(bench.get_values()), probe))
        benches.append(bench)
        if progress is not None:
            progress.advance(task)
    # Calibrated again after the timing, each cost at the lower figure: one busy moment of a
    # shared machine during a calibration must not lift an ideal above what was measured.
    if scenario.calibrate is not None:
        again = scenario.measure_machine(workload, site)
        machine = Machine(cpu_s=lower_costs(machine.cpu_s, again))
    records = [
        variant_record(name, variant, variant.ideal(workload, latency_s, machine), values, probe)
        for name, variant, values, probe in measured
    ]
    first = next(iter(results.values()))
    entry = {
        "name": scenario.name,
        "title": scenario.title,
        "question": scenario.question,
        "lesson": scenario.lesson,
        "latency": latency,
        "latency_s": latency_s,
        "workload": scenario.constants(workload),
        "machine": {"cores": machine.cores, "cpu_s": dict(machine.cpu_s)},
        # null where the variants differ on purpose (scenario.equal_results is False)
        "results_equal": (
            all(r == first for r in results.values()) if scenario.equal_results else None
        ),
        "variants": records,
    }
    return entry, benches


def write_pyperf_suite(path: Path, benches: list[pyperf.Benchmark]) -> None:
    """Write all variants as one pyperf suite, so ``pyperf stats`` / ``compare_to`` read it."""
    tmp = path.with_name(f".{path.name}.tmp")
    pyperf.BenchmarkSuite(benches).dump(str(tmp), replace=True)
    os.replace(tmp, path)


def run(config: RunConfig, progress: Progress | None = None) -> Path:
    """Run the selected variants, write ``results.json`` and ``pyperf.json``; return the former."""
    run_dir = create_run_dir(config.out_dir, profile=config.profile.name)
    raise_open_files_limit()
    started = time.perf_counter()
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    env = environment(config.loop)
    total = sum(len(s.variants) for s in config.selections)
    task = progress.add_task("starting", total=total) if progress is not None else None
    entries, benches = [], []
    with (
        MockServer(latency="0ms", routes=config.routes) as server,
        asyncio.Runner(loop_factory=lambda: new_event_loop(config.loop)) as loop_runner,
    ):
        for selection in config.selections:
            entry, scenario_benches = run_scenario(
                selection, config, server, loop_runner, progress, task
            )
            entries.append(entry)
            benches.extend(scenario_benches)
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
            "env": env,
        },
        "scenarios": entries,
    }
    write_pyperf_suite(run_dir / "pyperf.json", benches)
    path = write_json_atomic(run_dir / "results.json", results)
    point_latest(config.out_dir, run_dir)
    return path
