"""The runner end to end: real pyperf workers, a real mock server, a results file that validates."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks.calibrating import EXTRA_CALIBRATIONS, calibrated_after
from asyncio_perf_lab.benchmarks.probe_run import probe_variant
from asyncio_perf_lab.benchmarks.profiles import PROFILES
from asyncio_perf_lab.mockserver import MockServer
from asyncio_perf_lab.reports.results_file import load_results, schema
from asyncio_perf_lab.scenarios import Machine
from asyncio_perf_lab.scenarios.calibration import Site
from tests.lab_cli import run_lab as lab

ROOT = Path(__file__).resolve().parent.parent


def staircase(results: Path) -> dict[str, Any]:
    """sequential_vs_gather's record in the shared quick run (tests/conftest.py)."""
    data = json.loads(results.read_text())
    return next(s for s in data["scenarios"] if s["name"] == "sequential_vs_gather")


def test_results_file_validates_against_its_schema(quick_run: Path) -> None:
    """A real quick run writes a schema-1 results file with raw values and probe records."""
    data = json.loads(quick_run.read_text())
    jsonschema.validate(data, schema())
    load_results(quick_run)
    scenario = staircase(quick_run)
    variants = scenario["variants"]
    assert [v["name"] for v in variants] == ["sequential", "gather", "task_group"]
    assert all(len(v["values"]) >= 2 for v in variants)  # quick: 1 process, >= 2 values
    assert scenario["results_equal"] is True


def test_each_scenario_says_where_its_time_went(quick_run: Path) -> None:
    """A scenario's seconds split into calibration, probes and workers, within its total; the
    workers' share is real: at least one value of every variant was timed in it."""
    for scenario in json.loads(quick_run.read_text())["scenarios"]:
        seconds = scenario["seconds"]
        parts = seconds["calibration"] + seconds["probes"] + seconds["workers"]
        assert 0 < parts <= seconds["total"] + 0.01, scenario["name"]
        timed = sum(min(v["values"]) for v in scenario["variants"])
        assert seconds["workers"] > timed, scenario["name"]
        assert 0 < seconds["worker_overhead"] < seconds["workers"], scenario["name"]


def test_latest_points_at_the_newest_run(quick_run: Path) -> None:
    """results/latest is a symlink to the run directory just written."""
    latest = quick_run.parent.parent / "latest"
    assert latest.is_symlink()
    assert latest.resolve() == quick_run.parent.resolve()


def test_sequential_is_three_times_gather(quick_run: Path) -> None:
    """Three sequential 100 ms calls cost >= 2.5x their gather, with 1 vs 3 requests in flight."""
    variants = {v["name"]: v for v in staircase(quick_run)["variants"]}
    seq, gather = variants["sequential"], variants["gather"]
    assert seq["stats"]["median"] / gather["stats"]["median"] >= 2.5
    assert seq["probe"]["server"]["max_in_flight"] == 1
    assert gather["probe"]["server"]["max_in_flight"] == 3
    assert variants["task_group"]["probe"]["server"]["max_in_flight"] == 3
    assert len(gather["probe"]["requests"]) == 3


def test_pyperf_reads_the_pyperf_file(quick_run: Path) -> None:
    """`python -m pyperf stats` and `compare_to` accept the pyperf.json written beside results."""
    pyperf_json = quick_run.with_name("pyperf.json")
    stats = subprocess.run(
        [sys.executable, "-m", "pyperf", "stats", str(pyperf_json)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "sequential_vs_gather:gather" in stats.stdout
    compare = subprocess.run(
        [sys.executable, "-m", "pyperf", "compare_to", str(pyperf_json), str(pyperf_json)],
        capture_output=True,
        text=True,
    )
    assert compare.returncode == 0, compare.stderr


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["run", "no_such_scenario"], "no_such_scenario"),
        (["run", "sequential_vs_gather:nope"], "nope"),
        (["run", "--latency", "fast"], "fast"),
        (["run", "--profile", "huge"], "huge"),
        (["run", "--loop", "trio"], "trio"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], named: str) -> None:
    """Unknown scenario, variant, latency, profile or loop: one line naming it, exit 2."""
    proc = lab(*args, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert named in lines[0]
    assert "Traceback" not in proc.stderr


def test_unwritable_out_dir_is_bad_input(tmp_path: Path) -> None:
    """An --out that cannot be written is reported before any work, and nothing there is lost."""
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    proc = lab("run", "sequential_vs_gather", "--out", str(blocker / "sub"), timeout=60)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert str(blocker) in proc.stderr
    assert blocker.read_text() == "keep me"


def test_list_shows_every_variant() -> None:
    """`list` prints each scenario and variant name."""
    from asyncio_perf_lab import scenarios

    proc = lab("list", timeout=60)
    assert proc.returncode == 0
    for scenario in scenarios.all_scenarios():
        assert scenario.name in proc.stdout
        for name in scenario.variants:
            assert name in proc.stdout


def test_pytest_benchmark_suite_runs_and_saves(tmp_path: Path) -> None:
    """`pytest benchmarks/` times variants with pytest-benchmark and writes its JSON."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "benchmarks/",
            "-q",
            "-k",
            "sequential_vs_gather",
            "--lab-workload=tiny",
            "--lab-rounds=2",
            f"--benchmark-json={out}",
            "-p",
            "no:randomly",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    names = {b["name"] for b in json.loads(out.read_text())["benchmarks"]}
    assert names == {
        f"bench_variant[sequential_vs_gather:{v}]" for v in ("sequential", "gather", "task_group")
    }


@pytest.mark.parametrize("call_s", [1e-6, 3e-4, 0.02, 0.049, 0.05, 0.3, 5.0])
def test_loops_per_value_fill_min_time_without_calibration(call_s: float) -> None:
    """The probe's call size sets pyperf's loops: each value lasts at least min_time, at most 2x."""
    profile = PROFILES["quick"]
    loops = profile.loops_for(call_s)
    assert loops >= 1
    assert loops & (loops - 1) == 0  # a power of 2, as pyperf calibrates
    if call_s >= profile.min_time:
        assert loops == 1
    else:
        assert profile.min_time <= loops * call_s < 2 * profile.min_time
    assert f"--loops={loops}" in profile.worker_args(call_s)


def test_run_and_ab_build_the_worker_command_line_in_one_place(tmp_path: Path) -> None:
    """ab's worker differs from run's only in its side's module, tree and name, not in flags."""
    from asyncio_perf_lab.benchmarks.ab import Timer
    from asyncio_perf_lab.benchmarks.scheduling import Job
    from asyncio_perf_lab.benchmarks.sides import Side
    from asyncio_perf_lab.benchmarks.workers import WorkerTask, worker_command

    profile = PROFILES["quick"]
    entry = {"latency": "5ms", "workload": {"calls": 3}, "tiny": {"calls": 1}, "variants": {}}
    old_tree = tmp_path / "old"  # a revision from before the one-package layout
    old_tree.mkdir()
    side = Side("base", "v1", None, old_tree, catalog={"s": entry})
    timer = Timer({"base": side}, "http://127.0.0.1:1", profile)  # the side's env: its loop
    ab_task = timer.task("base", Job("s", "v", "V", in_base=True))
    run_task = WorkerTask("s", "v", "http://127.0.0.1:1", "5ms", {"calls": 3})
    assert (ab_task.module, ab_task.cwd, ab_task.who) == ("benchmarks.worker", old_tree, "base ")
    out = tmp_path / "bench.json"
    args = profile.worker_args(0.01)
    ab_cmd = worker_command(ab_task, out, *args)
    run_cmd = worker_command(run_task, out, *args)
    assert ab_cmd[3:] == run_cmd[3:]  # after `python -m MODULE`: the very same flags
    assert "--worker" in run_cmd
    assert f"--loops={profile.loops_for(0.01)}" in run_cmd
    assert '--workload={"calls": 3}' in run_cmd


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_slow_variants_get_fewer_values_never_below_the_minimum(name: str) -> None:
    """The per-variant budget shrinks values for slow calls, down to min_values and no further."""
    profile = PROFILES[name]
    assert profile.values_for(1e-3) == profile.values
    assert profile.values_for(1e3) == profile.min_values
    sizes = [profile.values_for(c) for c in (0.01, 0.1, 0.5, 1.0, 3.0, 10.0)]
    assert sizes == sorted(sizes, reverse=True)


def fake_scenario(readings: list[float]) -> Any:
    """A scenario with one variant whose ideal is its one calibrated cost; each calibration
    reads the next of ``readings`` (and counts itself)."""
    left = iter(readings)

    def measure_machine(workload: Any, site: Any) -> dict[str, float]:
        scenario.calibrations += 1
        return {"job": next(left)}

    scenario = SimpleNamespace(
        variants={"v": SimpleNamespace(ideal=lambda w, latency_s, machine: machine.cpu_s["job"])},
        measure_machine=measure_machine,
        calibrations=0,
    )
    return scenario


@pytest.mark.parametrize(
    ("fastest", "readings", "calibrations", "cost"),
    [
        (0.3, [0.25, 0.1, 0.1], 1, 0.2),  # ideal below its fastest value: one reading after
        (0.1, [0.2, 0.15, 0.09, 0.01], 3, 0.09),  # above: read again until it is not
        (0.1, [0.2, 0.2, 0.2, 0.2], 1 + EXTRA_CALIBRATIONS, 0.2),  # at most this many; flagged
    ],
)
def test_calibration_is_repeated_only_while_an_ideal_is_above_its_fastest_value(
    fastest: float, readings: list[float], calibrations: int, cost: float
) -> None:
    """After a scenario's timings the costs are read again, and again only while an ideal is
    above its fastest value; each cost is the lowest reading."""
    scenario = fake_scenario(readings)
    entry = {"variants": [{"name": "v", "values": [fastest, fastest * 2]}]}
    machine = calibrated_after(scenario, None, Site(), Machine(cpu_s={"job": 0.2}), 0.0, entry)
    assert scenario.calibrations == calibrations
    assert machine.cpu_s == {"job": cost}


@pytest.mark.asyncio
@pytest.mark.parametrize("warm", [True, False])
async def test_a_probe_without_its_warm_call_calls_the_variant_once(
    server: MockServer, warm: bool
) -> None:
    """warm=False (for a variant whose ideal is seconds long) calls the variant once and records
    no warm_wall_s; by default it is called twice, warm then probed."""
    gather = scenarios.load("sequential_vs_gather").variants["gather"]
    calls = []

    async def counted(ctx: Any) -> Any:
        calls.append(ctx)
        return await gather.run(ctx)

    probe, result = await probe_variant(
        dataclasses.replace(gather, run=counted),
        server.url,
        "5ms",
        scenarios.load("sequential_vs_gather").workload,
        server,
        warm=warm,
    )
    assert len(calls) == (2 if warm else 1)
    assert ("warm_wall_s" in probe) is warm
    assert result["user"]
    assert len(probe["requests"]) == 3  # the probed call's requests, either way


def test_the_console_names_the_slowest_scenarios_by_phase() -> None:
    """The end of a run names its slowest scenarios first, with the phases that took a second."""
    from asyncio_perf_lab.benchmarks.commands.run import where_the_time_went

    def scenario(name: str, calibration: float, probes: float, workers: float) -> dict[str, Any]:
        total = calibration + probes + workers + 0.2
        seconds = dict(calibration=calibration, probes=probes, workers=workers, total=total)
        return {"name": name, "seconds": seconds}

    data = {"scenarios": [scenario("a", 0.0, 1.0, 2.0), scenario("b", 4.0, 13.0, 23.0), {}]}
    data["scenarios"][1]["seconds"]["worker_overhead"] = 3.2
    assert where_the_time_went(data, top=2) == (
        "slowest: b 40 s (calibration 4, probes 13, workers 23 (process starts 3)); "
        "a 3 s (probes 1, workers 2)"
    )
    assert where_the_time_went({"scenarios": [{"name": "old"}]}) == ""
