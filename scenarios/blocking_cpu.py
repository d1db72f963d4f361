"""Blocking CPU work on the loop vs chunked yielding vs to_thread vs a process pool

A coroutine has some pure-Python CPU work to do (two jobs of a checksum over integers) while
other requests it started are in flight. Run on the loop, the work freezes everything: the
requests are not even sent until it ends. Chunked with ``await asyncio.sleep(0)`` the loop gets
a turn between chunks; in threads the GIL still runs one job at a time; only processes run the
two jobs at once, on two cores.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Any

from asyncio_perf_lab.scenarios.calibration import (
    Site,
    cpu_seconds,
    in_lean_process,
    loop_turn_s,
    request_cpu_s,
)
from asyncio_perf_lab.scenarios.core import Context, Machine, Variant

QUESTION = (
    "A coroutine crunches numbers for a tenth of a second while its requests are in flight: "
    "what happens to "
    "the requests, and which fix makes the work itself faster?"
)
LESSON = (
    "The event loop is one thread: while a coroutine computes, no callback runs, so the loop "
    "lag and the lateness of every concurrent request equal the whole computation, and tasks "
    "created just before it do not even start. Yielding with `await asyncio.sleep(0)` between "
    "small chunks bounds the lag by a chunk, but all the work still runs on the loop's core, "
    "and every chunk pays a loop turn. `asyncio.to_thread` frees the loop only partly: the "
    "loop must win the GIL back from the CPU threads, which hand it over only every 5 ms "
    "switch interval and often to each other, and two pure-Python jobs in two threads take "
    "as long as one after the other, because the GIL runs one at a time. A process pool runs "
    "them truly in parallel, one per core, and leaves the loop free; the job's function must "
    "be top-level (picklable) and its arguments and result small. The probe's loop lag and "
    "request delay in this report show each of these on this machine."
)
LATENCY = "50ms"
# The headline claims speed, and the stall the loop suffers when the work runs on it.
TEACHES: tuple[str, ...] = ("time", "loop_lag")

CPU_JOBS = 2  # one per core of the lab's 2-core box, so the process pool can run both at once
# About 40 ms of pure Python per job on a fast 2020s core, 75 ms on the lab's shared 2-core VM:
# near the latency, where both budgets below can tell their fix from its regression.
CPU_ROUNDS = 500_000
CHUNK_ROUNDS = 10_000  # about 1 ms: the longest the chunked variant keeps the loop
REQUESTS = 10  # the requests in flight while the work runs
MODULUS = 1_000_000_007


@dataclass(frozen=True)
class Workload:
    cpu_jobs: int = CPU_JOBS
    cpu_rounds: int = CPU_ROUNDS
    chunk_rounds: int = CHUNK_ROUNDS
    requests: int = REQUESTS


TINY = Workload(cpu_rounds=60_000, chunk_rounds=5_000, requests=3)


def crunch(seed: int, start: int, stop: int) -> int:
    """Pure-Python CPU work: fold rounds ``start..stop`` into ``seed`` (holds the GIL throughout).

    Top-level so a process pool can pickle it by name; chunks compose, so
    ``crunch(crunch(s, 0, k), k, n) == crunch(s, 0, n)``.
    """
    acc = seed
    for i in range(start, stop):
        acc = (acc * 31 + i * i) % MODULUS
    return acc


async def _timed_get(ctx: Context, user_id: int, asked: float) -> tuple[Any, float]:
    """One request and how late it finished: time since ``asked`` beyond the injected delay."""
    async with ctx.session.get(ctx.url(f"/users/{user_id}")) as resp:
        resp.raise_for_status()
        user = await resp.json()
        injected_s = float(resp.headers.get("X-Injected-Delay-Ms", "0")) / 1000
    return user, time.perf_counter() - asked - injected_s


async def _requests_in_flight(ctx: Context, asked: float) -> list[Any]:
    """The concurrent requests; records how late the slowest of them finished, in ms."""
    ids = range(1, ctx.workload.requests + 1)
    done = await asyncio.gather(*(_timed_get(ctx, i, asked) for i in ids))
    ctx.observe("concurrent_request_delay_ms", max(late for _, late in done) * 1000)
    return [user for user, _ in done]


async def on_loop(ctx: Context) -> dict[str, Any]:
    """Start the requests as a task, then run both CPU jobs right there in the coroutine."""
    w = ctx.workload
    requests = asyncio.create_task(_requests_in_flight(ctx, time.perf_counter()))
    checksums = [crunch(job, 0, w.cpu_rounds) for job in range(w.cpu_jobs)]
    return {"checksums": checksums, "users": await requests}


async def chunked(ctx: Context) -> dict[str, Any]:
    """Run the jobs in small chunks on the loop, yielding with sleep(0) after each chunk."""
    w = ctx.workload
    requests = asyncio.create_task(_requests_in_flight(ctx, time.perf_counter()))
    checksums = []
    for job in range(w.cpu_jobs):
        acc = job
        for start in range(0, w.cpu_rounds, w.chunk_rounds):
            acc = crunch(acc, start, min(start + w.chunk_rounds, w.cpu_rounds))
            await asyncio.sleep(0)  # let the loop run callbacks that came due meanwhile
        checksums.append(acc)
    return {"checksums": checksums, "users": await requests}


async def to_thread(ctx: Context) -> dict[str, Any]:
    """Run each CPU job in its own thread with asyncio.to_thread, concurrently with the requests."""
    w = ctx.workload
    requests = asyncio.create_task(_requests_in_flight(ctx, time.perf_counter()))
    checksums = await asyncio.gather(
        *(asyncio.to_thread(crunch, job, 0, w.cpu_rounds) for job in range(w.cpu_jobs))
    )
    return {"checksums": checksums, "users": await requests}


async def process_pool(ctx: Context) -> dict[str, Any]:
    """Run each CPU job in the process pool with run_in_executor, concurrently with the requests."""
    w = ctx.workload
    loop = asyncio.get_running_loop()
    requests = asyncio.create_task(_requests_in_flight(ctx, time.perf_counter()))
    checksums = await asyncio.gather(
        *(
            loop.run_in_executor(ctx.process_pool, crunch, job, 0, w.cpu_rounds)
            for job in range(w.cpu_jobs)
        )
    )
    return {"checksums": checksums, "users": await requests}


def _measure(w: Workload, site: Site) -> dict[str, float]:
    return {
        "cpu_job": cpu_seconds(lambda: crunch(0, 0, w.cpu_rounds)),
        "loop_turn": loop_turn_s(site),
        "request_client": request_cpu_s(site)["client"],
    }


def calibrate(w: Workload, site: Site) -> dict[str, float]:
    """CPU seconds of one job, one loop turn and one request's client side, in a lean process
    on the run's loop."""
    return in_lean_process(_measure, w, site)


def _cpu_then_requests(w: Workload, latency_s: float, machine: Machine) -> float:
    # The request task cannot start before the coroutine gives the loop back: no overlap at all.
    return w.cpu_jobs * machine.cpu_s["cpu_job"] + latency_s


def _chunks_on_the_loop(w: Workload, latency_s: float, machine: Machine) -> float:
    # The loop's one core runs every job, a loop turn per chunk and the requests' client side;
    # only the requests' wait overlaps with that.
    cpu = machine.cpu_s
    turns = w.cpu_jobs * math.ceil(w.cpu_rounds / w.chunk_rounds)
    on_core = (
        w.cpu_jobs * cpu["cpu_job"] + turns * cpu["loop_turn"] + w.requests * cpu["request_client"]
    )
    return max(on_core, latency_s)


def _one_core_overlapped(w: Workload, latency_s: float, machine: Machine) -> float:
    # The GIL runs one job at a time; the requests' wait overlaps with them. (The requests'
    # socket calls release the GIL, so their client CPU is not added: the floor stays a floor.)
    return max(w.cpu_jobs * machine.cpu_s["cpu_job"], latency_s)


def _all_cores_overlapped(w: Workload, latency_s: float, machine: Machine) -> float:
    # The lab's process pool has one worker per core: min(jobs, cores) jobs run at once.
    waves = math.ceil(w.cpu_jobs / max(1, min(w.cpu_jobs, machine.cores)))
    return max(waves * machine.cpu_s["cpu_job"], latency_s)


VARIANTS = {
    "on_loop": Variant(
        on_loop,
        label="CPU work on the loop",
        why="the loop is frozen for the whole computation; the requests start only after it",
        ideal=_cpu_then_requests,
        anti_pattern=True,
        # No budget: the slowest way, with no worse sibling a budget could tell it from.
    ),
    "chunked": Variant(
        chunked,
        label="chunked + sleep(0)",
        why="the loop gets a turn every chunk (lag ~1 chunk), but all the work stays on its core",
        ideal=_chunks_on_the_loop,
        # Dropping the sleep(0) costs the requests' overlap: (2 jobs + latency) / 2 jobs, 1.3 on
        # the lab's box (a job of 75 ms), over 1.2 while a job takes under 125 ms.
        budget=1.2,
        regression="on_loop",
    ),
    "to_thread": Variant(
        to_thread,
        label="asyncio.to_thread (a thread per job)",
        why="the GIL runs one pure-Python job at a time: no faster than one core",
        ideal=_one_core_overlapped,
        # No budget: with the GIL's hand-overs it costs about what on_loop costs, so no budget
        # could pass it and still fail on_loop.
    ),
    "process_pool": Variant(
        process_pool,
        label="ProcessPoolExecutor (a process per core)",
        why="the jobs run in parallel in other processes; the loop stays free",
        ideal=_all_cores_overlapped,
        # Falling back to threads runs both jobs on one core: twice a job's time or more.
        budget=1.6,
        regression="to_thread",
    ),
}
