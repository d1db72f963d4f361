"""Combinators: gather (all), allSettled, FIRST_COMPLETED (race) and first success (any)

The same user can be fetched from three replicas: one is broken and answers 503 quickly, one is
fast, one is slow. Any one healthy answer is enough. Each JavaScript Promise combinator has an
asyncio twin, and each settles at a different moment with a different outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

from asyncio_perf_lab.scenarios.core import Context, Machine, Variant

QUESTION = (
    "Three replicas, one of them broken: which combinator returns a user, how soon, and which "
    "leaves requests running after it has returned?"
)
LESSON = (
    "gather (Promise.all) fails fast on the first error but does not cancel its siblings: they "
    "keep running after the caller has moved on. return_exceptions=True (allSettled) waits for "
    "the slowest. asyncio.wait(FIRST_COMPLETED) (race) settles with whatever finishes first, a "
    "failure included, and leaves the losers running: cancel them or they run on. 'First "
    "success' (Promise.any) is a loop over wait(FIRST_COMPLETED) that skips failures and must "
    "cancel the rest too: the only one that answers at the fast replica's latency."
)
LATENCY = "60ms"  # nominal (the fast replica); each replica's latency is set per request below
# No headline claim: the lesson is what each combinator returns and when, not a faster way
# to the same answer.
TEACHES: tuple[str, ...] = ()

USER_ID = 1
BROKEN_MS = 20  # answers 503 after this long
FAST_MS = 60
SLOW_MS = 300


@dataclass(frozen=True)
class Workload:
    user_id: int = USER_ID
    broken_ms: float = BROKEN_MS
    fast_ms: float = FAST_MS
    slow_ms: float = SLOW_MS


TINY = Workload(broken_ms=5, fast_ms=15, slow_ms=60)


def _start_replicas(ctx: Context) -> list[asyncio.Task]:
    """One task per replica, named after it; the replica tag rides along as a query parameter."""
    w = ctx.workload
    path = f"/users/{w.user_id}"
    asks = {
        "broken": ctx.get_json(path, replica="broken", latency=f"{w.broken_ms}ms", status=503),
        "fast": ctx.get_json(path, replica="fast", latency=f"{w.fast_ms}ms"),
        "slow": ctx.get_json(path, replica="slow", latency=f"{w.slow_ms}ms"),
    }
    return [asyncio.create_task(coro, name=name) for name, coro in asks.items()]


async def _cancel(tasks: Iterable[asyncio.Task]) -> None:
    """Cancel unfinished tasks and wait until they are gone (their outcomes retrieved)."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _observe_left_running(ctx: Context, tasks: list[asyncio.Task]) -> None:
    """How many requests were still running when the combinator handed control back (read
    before any clean-up cancels them)."""
    ctx.observe("left_running", sum(not t.done() for t in tasks))


def _outcome(user: Any, answered_by: str | None, failed: Iterable[str]) -> dict:
    return {"user": user, "answered_by": answered_by, "failures_seen": sorted(failed)}


async def gather_all(ctx: Context) -> dict:
    """asyncio.gather (Promise.all): the first failure propagates at once; siblings run on."""
    tasks = _start_replicas(ctx)
    try:
        users = await asyncio.gather(*tasks)
    except aiohttp.ClientError:
        _observe_left_running(ctx, tasks)
        # gather left them running; cancelled here only so they don't leak into the next call.
        await _cancel(t for t in tasks if not t.done())
        return _outcome(None, None, [t.get_name() for t in tasks if _failed(t)])
    return _outcome(users[0], tasks[0].get_name(), [])


def _failed(task: asyncio.Task) -> bool:
    return task.done() and not task.cancelled() and task.exception() is not None


async def gather_settled(ctx: Context) -> dict:
    """gather(return_exceptions=True) (Promise.allSettled): every outcome, after the slowest."""
    tasks = _start_replicas(ctx)
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    _observe_left_running(ctx, tasks)
    pairs = list(zip(tasks, outcomes, strict=True))
    failed = [t.get_name() for t, o in pairs if isinstance(o, Exception)]
    for task, outcome in pairs:
        if not isinstance(outcome, BaseException):
            return _outcome(outcome, task.get_name(), failed)
    return _outcome(None, None, failed)


async def race(ctx: Context) -> dict:
    """asyncio.wait(FIRST_COMPLETED) (Promise.race): the first to settle wins, failure or not."""
    tasks = _start_replicas(ctx)
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    _observe_left_running(ctx, tasks)  # before the cancel: what the race itself leaves behind
    await _cancel(pending)
    failed = [t.get_name() for t in done if _failed(t)]  # retrieves every settled error
    winner = min(done, key=tasks.index)  # several may settle in the same loop iteration
    if _failed(winner):
        return _outcome(None, None, failed)
    return _outcome(winner.result(), winner.get_name(), failed)


async def first_success(ctx: Context) -> dict:
    """First success (Promise.any): wait(FIRST_COMPLETED) in a loop, skip failures, cancel rest."""
    tasks = _start_replicas(ctx)
    pending: set[asyncio.Task] = set(tasks)
    failed: list[str] = []
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            failed += [t.get_name() for t in done if _failed(t)]  # retrieves their errors
            succeeded = sorted((t for t in done if not _failed(t)), key=tasks.index)
            if succeeded:
                return _outcome(succeeded[0].result(), succeeded[0].get_name(), failed)
        return _outcome(None, None, failed)
    finally:
        _observe_left_running(ctx, tasks)  # before the cancel: what was still running at return
        await _cancel(pending)


def _broken_replica(w: Workload, latency_s: float, machine: Machine) -> float:
    return w.broken_ms / 1000


def _slowest_replica(w: Workload, latency_s: float, machine: Machine) -> float:
    return max(w.broken_ms, w.fast_ms, w.slow_ms) / 1000


def _first_to_settle(w: Workload, latency_s: float, machine: Machine) -> float:
    return min(w.broken_ms, w.fast_ms, w.slow_ms) / 1000


def _fastest_healthy(w: Workload, latency_s: float, machine: Machine) -> float:
    return min(w.fast_ms, w.slow_ms) / 1000


VARIANTS = {
    "gather_all": Variant(
        gather_all,
        label="gather (Promise.all)",
        why="fails fast with the broken replica's 503 and returns no user; siblings run on",
        ideal=_broken_replica,
        anti_pattern=True,
        budget=2.0,  # waiting for a healthy answer instead of failing fast: 3x at the defaults
        regression="first_success",
    ),
    "gather_settled": Variant(
        gather_settled,
        label="gather(return_exceptions=True) (allSettled)",
        why="gets the user but waits for the slowest replica though one answer was enough",
        ideal=_slowest_replica,
        anti_pattern=True,
        # No budget: the slowest way, with no worse sibling a budget could tell it from.
    ),
    "race": Variant(
        race,
        label="wait(FIRST_COMPLETED) (Promise.race)",
        why="the first to settle is the broken replica's 503: fast, losers cancelled, no user",
        ideal=_first_to_settle,
        anti_pattern=True,
        budget=2.0,
        regression="first_success",
    ),
    "first_success": Variant(
        first_success,
        label="first success (Promise.any)",
        why="skips the failure, answers at the fast replica's latency, cancels the slow one",
        ideal=_fastest_healthy,
        budget=1.5,  # waiting for every replica costs the slow one's latency, 5x at the defaults
        regression="gather_settled",
    ),
}

# The combinators settle differently on purpose (no user, every outcome, first outcome, first
# success): each returns what its caller would see, so the outcomes are the lesson.
EQUAL_RESULTS = False
