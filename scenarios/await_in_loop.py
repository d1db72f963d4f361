"""Await in a for loop vs gather vs a Semaphore-bounded gather vs as_completed

N independent requests, one per item. Awaiting inside the ``for`` loop sends them one at a time
(N round trips); gather sends all of them at once (one round trip); a Semaphore(K) lets K at a
time through (ceil(N/K) round trips); as_completed also sends all at once and hands each result
over as soon as it arrives, so the caller puts them back in input order itself.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

from asyncio_perf_lab.scenarios.core import Context, Machine, Variant

QUESTION = "Why does `for item in items: await fetch(item)` take N round trips instead of one?"
LESSON = (
    "Each `await` inside the loop body waits for that item's response before the loop moves on, "
    "so N independent requests cost N latencies. Create all the coroutines first and await them "
    "together: gather costs one latency. When the other side cannot take N at once, a "
    "Semaphore(K) keeps at most K in flight (the server's max in-flight proves it) and costs "
    "ceil(N/K) latencies. as_completed yields results in completion order, not input order: "
    "keep the index with each result and reassemble."
)
LATENCY = "20ms"

ITEMS = 20  # the for loop: 20 x 20 ms = 0.4 s
LIMIT = 5  # the Semaphore: 4 waves of 20 ms


@dataclass(frozen=True)
class Workload:
    items: int = ITEMS
    limit: int = LIMIT


TINY = Workload(items=4, limit=2)


def _user_ids(w: Workload) -> range:
    return range(1, w.items + 1)


async def for_loop(ctx: Context) -> list[Any]:
    """Await each request inside the for loop: the next one starts only when this one is back."""
    users = []
    for user_id in _user_ids(ctx.workload):
        users.append(await ctx.get_json(f"/users/{user_id}"))
    return users


async def gather(ctx: Context) -> list[Any]:
    """Create every request first, then await them all at once with asyncio.gather."""
    return await asyncio.gather(*(ctx.get_json(f"/users/{i}") for i in _user_ids(ctx.workload)))


async def bounded(ctx: Context) -> list[Any]:
    """Gather all of them, but a Semaphore lets only ``limit`` requests be in flight at a time."""
    semaphore = asyncio.Semaphore(ctx.workload.limit)

    async def one(user_id: int) -> Any:
        async with semaphore:
            return await ctx.get_json(f"/users/{user_id}")

    return await asyncio.gather(*(one(i) for i in _user_ids(ctx.workload)))


async def as_completed(ctx: Context) -> list[Any]:
    """Start all of them and take each result as it arrives; its index puts it back in order."""

    async def numbered(index: int, user_id: int) -> tuple[int, Any]:
        return index, await ctx.get_json(f"/users/{user_id}")

    ids = _user_ids(ctx.workload)
    users: list[Any] = [None] * len(ids)
    for next_done in asyncio.as_completed([numbered(k, i) for k, i in enumerate(ids)]):
        index, user = await next_done
        users[index] = user
    return users


def _one_latency_per_item(w: Workload, latency_s: float, machine: Machine) -> float:
    return w.items * latency_s


def _one_latency(w: Workload, latency_s: float, machine: Machine) -> float:
    return latency_s


def _one_latency_per_wave(w: Workload, latency_s: float, machine: Machine) -> float:
    return math.ceil(w.items / w.limit) * latency_s


VARIANTS = {
    "for_loop": Variant(
        for_loop,
        label="await inside for",
        why="each iteration waits for its response before the next request is even sent",
        ideal=_one_latency_per_item,
        anti_pattern=True,
        # No budget: the slowest way, with no worse sibling a budget could tell it from.
    ),
    "gather": Variant(
        gather,
        label="asyncio.gather (all N)",
        why="all N requests are in flight together; cost is one latency",
        ideal=_one_latency,
        # The client's own cost for 20 requests reads up to 1.9x on a busy 2-core box; bounded to
        # K at a time costs ceil(N/K) latencies, 4x at the defaults.
        budget=2.0,
        regression="bounded",
    ),
    "bounded": Variant(
        bounded,
        label="gather + Semaphore(K)",
        why="at most K requests in flight: ceil(N/K) waves of one latency each",
        ideal=_one_latency_per_wave,
        budget=1.5,  # one at a time: N latencies, 5x the waves at the defaults
        regression="for_loop",
    ),
    "as_completed": Variant(
        as_completed,
        label="asyncio.as_completed",
        why="all in flight at once; results arrive in completion order and are put back by index",
        ideal=_one_latency,
        budget=2.0,
        regression="bounded",
    ),
}
