"""Sizing a variant in the A/B's own process: close to a worker's figure, and a worker when not."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks import ab
from asyncio_perf_lab.benchmarks.profiles import PROFILES
from asyncio_perf_lab.benchmarks.scheduling import Job
from asyncio_perf_lab.benchmarks.side_envs import SideEnv
from asyncio_perf_lab.benchmarks.sides import Side
from asyncio_perf_lab.benchmarks.sizing import call_s_here
from asyncio_perf_lab.mockserver import MockServer

SCENARIO = "sequential_vs_gather"


@pytest.fixture(name="server", scope="module")
def _server() -> Iterator[MockServer]:
    with MockServer(latency="0ms") as server:
        yield server


def head_side(loop: str = "asyncio") -> Side:
    """The working tree as head, with the built-in scenario's catalog entry."""
    found = scenarios.load(SCENARIO)
    entry = {
        "latency": found.latency,
        "workload": found.constants(found.workload),
        "tiny": found.constants(found.tiny),
        "variants": {name: name for name in found.variants},
    }
    side = Side("head", "working tree", None, Path.cwd(), catalog={SCENARIO: entry})
    side.env = SideEnv(sys.executable, loop)
    return side


def test_in_process_sizing_keeps_the_lessons_ratio(server: MockServer) -> None:
    """Three awaits in a row take about three times one gather: the figure is a real call's."""
    found = scenarios.load(SCENARIO)
    workload = found.constants(found.workload)
    latency = found.latency or ""
    sequential = call_s_here(SCENARIO, "sequential", server.url, latency, workload)
    gather = call_s_here(SCENARIO, "gather", server.url, latency, workload)
    assert 2.0 < sequential / gather < 4.0, (sequential, gather)


def test_timer_sizes_here_without_a_calibration_worker(
    server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Head being this code, no worker process is started to size a variant."""

    def no_worker(*args: Any, **kwargs: Any) -> float:
        raise AssertionError("a calibration worker was started")

    monkeypatch.setattr(ab, "measure_call_s", no_worker)
    timer = ab.Timer({"head": head_side()}, server.url, PROFILES["quick"], here=True)
    assert timer.size(Job(SCENARIO, "gather", "gather", True)) > 0


def test_timer_falls_back_to_a_worker_when_this_code_cannot_run_it(
    server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop this process lacks, or head not being this code: pyperf's calibration worker."""
    asked: list[str] = []

    def worker(task: Any, profile: Any) -> float:
        asked.append(task.loop)
        return 0.123

    monkeypatch.setattr(ab, "measure_call_s", worker)
    job = Job(SCENARIO, "gather", "gather", True)
    elsewhere = ab.Timer({"head": head_side("no-such-loop")}, server.url, PROFILES["quick"], True)
    assert elsewhere.size(job) == 0.123
    other_tree = ab.Timer({"head": head_side()}, server.url, PROFILES["quick"], here=False)
    assert other_tree.size(job) == 0.123
    assert asked == ["no-such-loop", "asyncio"]


def test_a_long_call_is_timed_without_a_warmup_on_both_sides(server: MockServer) -> None:
    """A call of a second or more gets no warm-up run in an A/B (a real worker takes the flag);
    shorter calls keep the profile's."""
    from asyncio_perf_lab.benchmarks.sizing import LONG_CALL_S
    from asyncio_perf_lab.benchmarks.workers import time_in_workers

    timer = ab.Timer({"head": head_side()}, server.url, PROFILES["quick"], here=True)
    assert timer.profile_for(LONG_CALL_S / 10) is PROFILES["quick"]
    long = timer.profile_for(LONG_CALL_S)
    assert (long.warmups, long.values, long.processes) == (0, 3, 1)
    bench = time_in_workers(timer.task("head", Job(SCENARIO, "gather", "g", True)), long, 0.05)
    (run,) = bench.get_runs()
    assert not run.warmups
    assert len(run.values) == 3
