"""Awaits timed by hand with ``perf_counter``: what a careful person would write without the lab.

The self-benchmarks hold the lab against this bare loop (``lab_overhead``) or use it where a
worker process per value would cost too much (``gate_power``'s thousands of trials).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["time_awaits"]


async def time_awaits(
    run: Callable[[Any], Awaitable[Any]], ctx: Any, values: int, warmups: int = 1
) -> list[float]:
    """``warmups`` untimed awaits of ``run(ctx)``, then ``values`` timed ones (seconds each)."""
    for _ in range(warmups):
        await run(ctx)
    timed = []
    for _ in range(values):
        start = time.perf_counter()
        await run(ctx)
        timed.append(time.perf_counter() - start)
    return timed
