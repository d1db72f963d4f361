"""Sequential awaits vs asyncio.gather vs TaskGroup

Three independent API calls (user, their posts, a post's comments): awaited one after another they
cost the sum of their latencies; started together they cost the slowest one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from asyncio_perf_lab.scenarios.core import Context, Machine, Variant

QUESTION = "Three independent requests: why does awaiting them one by one take three times as long?"
LESSON = (
    "`await` suspends the coroutine until the result is there; nothing else of *this* coroutine "
    "runs meanwhile. Independent requests must be started together (gather or TaskGroup) so "
    "their waits overlap: the cost drops from the sum of latencies to the maximum."
)
LATENCY = "100ms"

USER_ID = 1
POST_ID = 1


@dataclass(frozen=True)
class Workload:
    user_id: int = USER_ID
    post_id: int = POST_ID


TINY = Workload()


async def sequential(ctx: Context) -> dict:
    """Await each call before starting the next: the staircase."""
    w = ctx.workload
    user = await ctx.get_json(f"/users/{w.user_id}")
    posts = await ctx.get_json(f"/users/{w.user_id}/posts")
    comments = await ctx.get_json(f"/posts/{w.post_id}/comments")
    return {"user": user, "posts": posts, "comments": comments}


async def gather(ctx: Context) -> dict:
    """Start all three at once with asyncio.gather and wait for all of them."""
    w = ctx.workload
    user, posts, comments = await asyncio.gather(
        ctx.get_json(f"/users/{w.user_id}"),
        ctx.get_json(f"/users/{w.user_id}/posts"),
        ctx.get_json(f"/posts/{w.post_id}/comments"),
    )
    return {"user": user, "posts": posts, "comments": comments}


async def task_group(ctx: Context) -> dict:
    """Start all three in a TaskGroup: same overlap, and a failure cancels the siblings."""
    w = ctx.workload
    async with asyncio.TaskGroup() as tg:
        user = tg.create_task(ctx.get_json(f"/users/{w.user_id}"))
        posts = tg.create_task(ctx.get_json(f"/users/{w.user_id}/posts"))
        comments = tg.create_task(ctx.get_json(f"/posts/{w.post_id}/comments"))
    return {"user": user.result(), "posts": posts.result(), "comments": comments.result()}


def _sum_of_latencies(w: Workload, latency_s: float, machine: Machine) -> float:
    return 3 * latency_s


def _max_latency(w: Workload, latency_s: float, machine: Machine) -> float:
    return latency_s


VARIANTS = {
    "sequential": Variant(
        sequential,
        label="sequential awaits",
        why="each await waits for the previous response before the next request starts",
        ideal=_sum_of_latencies,
        anti_pattern=True,
        # No budget: the slowest way, with no worse sibling a budget could tell it from.
    ),
    "gather": Variant(
        gather,
        label="asyncio.gather",
        why="all requests are in flight together; cost is the slowest one",
        ideal=_max_latency,
        budget=1.5,  # awaited one by one, the three calls cost three latencies
        regression="sequential",
    ),
    "task_group": Variant(
        task_group,
        label="asyncio.TaskGroup",
        why="same overlap as gather, with structured cancellation on failure",
        ideal=_max_latency,
        budget=1.5,
        regression="sequential",
    ),
}
