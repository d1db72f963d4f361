"""How long one call of a variant takes, to size its timed runs: here, not in a worker.

``ab`` sizes every variant's loops and values from one figure, the seconds of one call
(``Profile.worker_args``). A calibration worker process costs a process start (about 0.5 s of
imports on the lab's 2-core VM) plus pyperf's loop calibration (warmups plus values, four calls
of a 3 s variant): 1-12 s a variant, paid before its first timed run. When head is the code this
process imports (the working tree of the lab's own checkout), the same figure comes from a
warm call or two on a fresh event loop in this process. It only sizes: both sides time with the
same loops and values, whatever it says, so it need not be exact, only close.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.context import open_context
from asyncio_perf_lab.benchmarks.loops import new_event_loop

__all__ = ["LONG_CALL_S", "SIZING_TIME_S", "call_s_here"]

LONG_CALL_S = 1.0  # a call this long is sized from its first call alone (warm-up is small in it)
SIZING_TIME_S = 0.02  # warm calls are repeated until this much time is spent, for fast calls


async def _one_call_s(run: Any, base_url: str, latency: str, workload: Any) -> float:
    async with open_context(base_url, latency, workload) as ctx:
        start = time.perf_counter()
        await run(ctx)
        first = time.perf_counter() - start
        if first >= LONG_CALL_S:
            return first
        calls, start = 0, time.perf_counter()
        while True:
            await run(ctx)
            calls += 1
            if (spent := time.perf_counter() - start) >= SIZING_TIME_S:
                return min(first, spent / calls)


def call_s_here(
    scenario: str,
    variant: str,
    base_url: str,
    latency: str,
    workload: dict[str, Any],
    loop: str = "asyncio",
    folder: Path | None = None,
) -> float:
    """Seconds one warm call of ``scenario:variant`` takes in this process, on a fresh loop.

    Raises whatever loading or running it raises (an unknown scenario, a workload field this
    code lacks, a loop not installed here): the caller then sizes in a worker instead.
    """
    from asyncio_perf_lab import scenarios

    found = scenarios.load(scenario, folder)
    fields = type(found.workload)(**workload)
    run = found.variants[variant].run
    with asyncio.Runner(loop_factory=lambda: new_event_loop(loop)) as runner:
        return runner.run(_one_call_s(run, base_url, latency, fields))
