"""Offloading blocking work: on the loop vs to_thread vs a thread pool vs a process pool

A job with two halves: 8 calls through a blocking HTTP client (``urllib.request``, standing for
any synchronous driver or SDK) and 8 pure-Python CPU jobs. Each variant runs the blocking calls
and then the CPU jobs with one offloading tool; the last one uses the right tool for each half:
threads for the blocking calls, processes for the CPU jobs.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from asyncio_perf_lab.scenarios.blocking_cpu import crunch
from asyncio_perf_lab.scenarios.calibration import cpu_seconds, in_lean_process
from asyncio_perf_lab.scenarios.core import Context, Machine, Variant

QUESTION = (
    "A synchronous HTTP client and some pure-Python number crunching inside async code: "
    "which executor makes each of them fast?"
)
LESSON = (
    "A blocking call on the loop blocks everything, so 8 of them cost 8 latencies. Threads "
    "fix blocking I/O: a thread waiting on a socket releases the GIL, so T threads overlap T "
    "calls (ceil(N/T) latencies); asyncio.to_thread uses the loop's default executor, "
    "min(32, cores + 4) threads. Threads do not fix pure-Python CPU work: the GIL lets one "
    "thread run Python at a time, so 8 jobs on 8 threads cost 8 jobs' time. Processes fix "
    "CPU work (one job per core at a time) but are a poor fit for blocking I/O: one worker per "
    "core means only that many calls in flight. Use each for what it is good at: threads for "
    "waiting, processes for computing."
)
LATENCY = "40ms"
# The headline claims speed, and the stall the loop suffers when the work runs on it.
TEACHES: tuple[str, ...] = ("time", "loop_lag")

BLOCKING_CALLS = 8  # urllib GETs, 40 ms each: 0.32 s on the loop, 0.04 s over 8 threads
CPU_JOBS = 8
CPU_ROUNDS = 300_000  # about 25 ms of pure Python per job

# The lab's executors (benchmarks.context): 8 threads, one process per core.
THREAD_POOL_WORKERS = 8
# asyncio.to_thread uses the loop's default ThreadPoolExecutor, sized min(32, cores + 4).
DEFAULT_EXECUTOR_WORKERS = min(32, (os.cpu_count() or 1) + 4)
CORES = os.cpu_count() or 1


@dataclass(frozen=True)
class Workload:
    blocking_calls: int = BLOCKING_CALLS
    cpu_jobs: int = CPU_JOBS
    cpu_rounds: int = CPU_ROUNDS


TINY = Workload(blocking_calls=4, cpu_jobs=2, cpu_rounds=30_000)


# The mock API is on loopback: an HTTP_PROXY in the environment must not reroute its calls.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch_blocking(url: str) -> Any:
    """A blocking HTTP GET with the standard library (top-level, so a process pool can run it)."""
    with _NO_PROXY.open(url, timeout=60) as resp:
        return json.load(resp)


def _urls(ctx: Context) -> list[str]:
    return [ctx.url(f"/users/{i}") for i in range(1, ctx.workload.blocking_calls + 1)]


def _observe_phases(ctx: Context, start: float, io_done: float) -> None:
    ctx.observe("io_phase_ms", (io_done - start) * 1000)
    ctx.observe("cpu_phase_ms", (time.perf_counter() - io_done) * 1000)


async def on_loop(ctx: Context) -> dict[str, list[Any]]:
    """Make the blocking calls and run the CPU jobs right on the loop, one after another."""
    w = ctx.workload
    start = time.perf_counter()
    users = [fetch_blocking(url) for url in _urls(ctx)]
    io_done = time.perf_counter()
    checksums = [crunch(job, 0, w.cpu_rounds) for job in range(w.cpu_jobs)]
    _observe_phases(ctx, start, io_done)
    return {"users": users, "checksums": checksums}


async def to_thread(ctx: Context) -> dict[str, list[Any]]:
    """asyncio.to_thread for every call and every job (the loop's default executor)."""
    w = ctx.workload
    start = time.perf_counter()
    users = await asyncio.gather(*(asyncio.to_thread(fetch_blocking, u) for u in _urls(ctx)))
    io_done = time.perf_counter()
    checksums = await asyncio.gather(
        *(asyncio.to_thread(crunch, job, 0, w.cpu_rounds) for job in range(w.cpu_jobs))
    )
    _observe_phases(ctx, start, io_done)
    return {"users": users, "checksums": checksums}


async def _in(executor: Any, ctx: Context, cpu_executor: Any | None = None) -> dict[str, list[Any]]:
    """The blocking calls in ``executor``, then the CPU jobs in ``cpu_executor`` (default: same)."""
    w = ctx.workload
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    users = await asyncio.gather(
        *(loop.run_in_executor(executor, fetch_blocking, u) for u in _urls(ctx))
    )
    io_done = time.perf_counter()
    checksums = await asyncio.gather(
        *(
            loop.run_in_executor(cpu_executor or executor, crunch, job, 0, w.cpu_rounds)
            for job in range(w.cpu_jobs)
        )
    )
    _observe_phases(ctx, start, io_done)
    return {"users": list(users), "checksums": list(checksums)}


async def thread_pool(ctx: Context) -> dict[str, list[Any]]:
    """loop.run_in_executor on the lab's ThreadPoolExecutor for every call and every job."""
    return await _in(ctx.thread_pool, ctx)


async def process_pool(ctx: Context) -> dict[str, list[Any]]:
    """loop.run_in_executor on the lab's ProcessPoolExecutor for every call and every job."""
    return await _in(ctx.process_pool, ctx)


async def threads_then_processes(ctx: Context) -> dict[str, list[Any]]:
    """Blocking calls on the thread pool, CPU jobs on the process pool: each on its right tool."""
    return await _in(ctx.thread_pool, ctx, cpu_executor=ctx.process_pool)


def _cpu_job_s(rounds: int) -> float:
    return cpu_seconds(lambda: crunch(0, 0, rounds))


def calibrate(w: Workload) -> dict[str, float]:
    """CPU seconds one job takes on one core, in a process as lean as a pool child."""
    return {"cpu_job": in_lean_process(_cpu_job_s, w.cpu_rounds)}


def _io_waves(w: Workload, latency_s: float, workers: int) -> float:
    # Each worker makes one blocking call at a time.
    return math.ceil(w.blocking_calls / workers) * latency_s


def _cpu_serial(w: Workload, machine: Machine) -> float:
    # One core (the loop's), or any number of threads: the GIL runs one job at a time.
    return w.cpu_jobs * machine.cpu_s["cpu_job"]


def _cpu_parallel(w: Workload, machine: Machine) -> float:
    # The lab's process pool has one worker per core: min(jobs, cores) jobs at a time.
    return math.ceil(w.cpu_jobs / max(1, min(w.cpu_jobs, machine.cores))) * machine.cpu_s["cpu_job"]


def _ideal_on_loop(w: Workload, latency_s: float, machine: Machine) -> float:
    return _io_waves(w, latency_s, 1) + _cpu_serial(w, machine)


def _ideal_to_thread(w: Workload, latency_s: float, machine: Machine) -> float:
    return _io_waves(w, latency_s, DEFAULT_EXECUTOR_WORKERS) + _cpu_serial(w, machine)


def _ideal_thread_pool(w: Workload, latency_s: float, machine: Machine) -> float:
    return _io_waves(w, latency_s, THREAD_POOL_WORKERS) + _cpu_serial(w, machine)


def _ideal_process_pool(w: Workload, latency_s: float, machine: Machine) -> float:
    return _io_waves(w, latency_s, machine.cores) + _cpu_parallel(w, machine)


def _ideal_threads_then_processes(w: Workload, latency_s: float, machine: Machine) -> float:
    return _io_waves(w, latency_s, THREAD_POOL_WORKERS) + _cpu_parallel(w, machine)


VARIANTS = {
    "on_loop": Variant(
        on_loop,
        label="on the loop (1 thread)",
        why="each blocking call and each CPU job freezes the loop; nothing overlaps",
        ideal=_ideal_on_loop,
        anti_pattern=True,
        # No budget: the slowest way, with no worse sibling a budget could tell it from.
    ),
    "to_thread": Variant(
        to_thread,
        label=f"asyncio.to_thread ({DEFAULT_EXECUTOR_WORKERS} threads)",
        why="the calls overlap in the default executor; the CPU jobs queue for the GIL",
        ideal=_ideal_to_thread,
        # Without threads the 8 calls cost 8 latencies: 1.6x this ideal or more.
        budget=1.4,
        regression="on_loop",
    ),
    "thread_pool": Variant(
        thread_pool,
        label=f"ThreadPoolExecutor ({THREAD_POOL_WORKERS} threads)",
        why="8 blocking calls at a time, but the CPU jobs still run one at a time (GIL)",
        ideal=_ideal_thread_pool,
        budget=1.5,
        regression="on_loop",
    ),
    "process_pool": Variant(
        process_pool,
        label=f"ProcessPoolExecutor ({CORES} processes)",
        why="CPU jobs run on every core, but only one blocking call per process at a time",
        ideal=_ideal_process_pool,
        budget=1.6,
        regression="on_loop",
    ),
    "threads_then_processes": Variant(
        threads_then_processes,
        label=f"{THREAD_POOL_WORKERS} threads for I/O + {CORES} processes for CPU",
        why="blocking calls overlap in threads, CPU jobs run in parallel in processes",
        ideal=_ideal_threads_then_processes,
        # Threads only (the CPU jobs back under the GIL) cost 1.8x this ideal or more.
        budget=1.6,
        regression="thread_pool",
    ),
}
