"""Batching 200 calls: sequential vs gather in chunks vs a Semaphore vs the batch endpoint

Two hundred users to fetch. One by one it is 200 round trips; gather in chunks of K is 200/K
round trips, each waiting for its chunk's slowest call; a Semaphore(K) keeps K in flight without
waiting for stragglers; the API's batch endpoint fetches 50 users per request, four requests in
all, sent together.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

from asyncio_perf_lab.scenarios.core import Context, Machine, Variant

QUESTION = "Two hundred calls to the same API: how many round trips do they really need?"
LESSON = (
    "Sequential calls pay one latency each. Concurrency divides the count: chunks of K cost "
    "N/K latencies (each chunk as slow as its slowest call), a Semaphore(K) costs the same at "
    "fixed latency and less when latencies vary, because a free slot is refilled at once. The "
    "biggest win is not on the client at all: a batch endpoint answers many ids per request, so "
    "the server sees a handful of requests instead of N (and each request's fixed cost, client "
    "and server side, is paid a handful of times). Prefer the batch endpoint when the API has "
    "one; bound the concurrency when it does not."
)
LATENCY = "3ms"  # small, so 200 sequential round trips stay well under a second
# At 3 ms, the client's own cost per request (aiohttp, about half a millisecond of CPU) is a good
# part of the concurrent variants' time; the ideal counts latency alone, so their budgets are wide.

USERS = 200
CONCURRENCY = 20  # K for the chunks and the Semaphore
BATCH_SIZE = 50  # ids per batch request; the mock server accepts up to 1000, real APIs far fewer


@dataclass(frozen=True)
class Workload:
    users: int = USERS
    concurrency: int = CONCURRENCY
    batch_size: int = BATCH_SIZE


TINY = Workload(users=12, concurrency=4, batch_size=5)


def _user_ids(w: Workload) -> list[int]:
    return list(range(1, w.users + 1))


async def sequential(ctx: Context) -> list[Any]:
    """Fetch the users one at a time, each await finishing before the next request."""
    return [await ctx.get_json(f"/users/{i}") for i in _user_ids(ctx.workload)]


async def chunked_gather(ctx: Context) -> list[Any]:
    """Gather K requests at a time; the next chunk starts when the whole chunk is back."""
    ids, k = _user_ids(ctx.workload), ctx.workload.concurrency
    users: list[Any] = []
    for start in range(0, len(ids), k):
        chunk = ids[start : start + k]
        users += await asyncio.gather(*(ctx.get_json(f"/users/{i}") for i in chunk))
    return users


async def bounded(ctx: Context) -> list[Any]:
    """Gather all requests behind a Semaphore(K): a slot freed is refilled at once."""
    semaphore = asyncio.Semaphore(ctx.workload.concurrency)

    async def one(user_id: int) -> Any:
        async with semaphore:
            return await ctx.get_json(f"/users/{user_id}")

    return await asyncio.gather(*(one(i) for i in _user_ids(ctx.workload)))


async def batch_endpoint(ctx: Context) -> list[Any]:
    """Ask the batch endpoint for up to ``batch_size`` ids per request, all batches at once."""
    ids, size = _user_ids(ctx.workload), ctx.workload.batch_size
    batches = [ids[start : start + size] for start in range(0, len(ids), size)]
    pages = await asyncio.gather(
        *(ctx.get_json("/users", ids=",".join(map(str, batch))) for batch in batches)
    )
    return [user for page in pages for user in page]


def _one_latency_per_user(w: Workload, latency_s: float, machine: Machine) -> float:
    return w.users * latency_s


def _one_latency_per_k(w: Workload, latency_s: float, machine: Machine) -> float:
    return math.ceil(w.users / w.concurrency) * latency_s


def _one_latency(w: Workload, latency_s: float, machine: Machine) -> float:
    return latency_s


VARIANTS = {
    "sequential": Variant(
        sequential,
        label="sequential (200 round trips)",
        why="one request in flight at a time: 200 latencies back to back",
        ideal=_one_latency_per_user,
        anti_pattern=True,
        # No budget: the slowest way, with no worse sibling a budget could tell it from.
    ),
    "chunked_gather": Variant(
        chunked_gather,
        label="gather in chunks of K=20",
        why="K at a time, but each chunk waits for its slowest call before the next starts",
        ideal=_one_latency_per_k,
        budget=5.0,  # one at a time: K times the latencies and the client's cost in series
        regression="sequential",
    ),
    "bounded": Variant(
        bounded,
        label="Semaphore(K=20)",
        why="K in flight at all times: a finished call lets the next one in at once",
        ideal=_one_latency_per_k,
        budget=5.0,
        regression="sequential",
    ),
    "batch_endpoint": Variant(
        batch_endpoint,
        label="batch endpoint, 50 ids per request",
        why="four requests instead of 200, sent together: one round trip",
        ideal=_one_latency,
        budget=5.0,  # without the batch endpoint: N requests' client cost, over 20x one latency
        regression="bounded",
    ),
}
