"""Error handling: fire-and-forget tasks, a never-awaited coroutine, gather and TaskGroup

A batch of background jobs (one request each) where every FAIL_EVERY-th job gets a 500, and
gets it fast (a failing backend answers at once). The caller wants to know which jobs failed.
Depending on how the jobs are started and awaited, the failures reach the caller, or end up as
a log line long after, or vanish with a warning.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
import weakref
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp

from asyncio_perf_lab.scenarios.core import Context, Machine, Variant

QUESTION = (
    "Ten of forty background jobs fail: which way of starting them tells the caller, and where "
    "do the errors go otherwise?"
)
LESSON = (
    "A task's exception is stored on the task until someone asks for it. Nobody asks if the "
    "task was fired and forgotten (asyncio.wait does not ask either): the error surfaces only "
    "when the task is garbage-collected, as a 'Task exception was never retrieved' log line, "
    "far from its cause. An async function called without await does not run at all: the "
    "only trace is a 'coroutine ... was never awaited' RuntimeWarning. gather(return_exceptions"
    "=True) hands every error back as a value; a TaskGroup raises them as an ExceptionGroup "
    "and cancels the siblings still running."
)
LATENCY = "50ms"
# No headline claim: the lesson is where the errors go; every variant waits one round trip.
TEACHES: tuple[str, ...] = ()

JOBS = 40
FAIL_EVERY = 4  # job i fails (HTTP 500) when i % FAIL_EVERY == 0
FAIL_MS = 5  # a failing job's latency: the failures land well before the other jobs finish

NEVER_RETRIEVED = "Task exception was never retrieved"
NEVER_AWAITED = "was never awaited"


@dataclass(frozen=True)
class Workload:
    jobs: int = JOBS
    fail_every: int = FAIL_EVERY
    fail_ms: float = FAIL_MS


TINY = Workload(jobs=8)


def _failing(w: Workload) -> int:
    return sum(1 for i in range(w.jobs) if i % w.fail_every == 0)


async def _job(ctx: Context, i: int) -> int:
    """One background job: fetch a user; job i gets a 500 (after fail_ms) when i % FAIL_EVERY
    == 0."""
    w = ctx.workload
    faults = {"status": 500, "latency": f"{w.fail_ms:g}ms"} if i % w.fail_every == 0 else {}
    user = await ctx.get_json(f"/users/{i + 1}", job=i, **faults)
    return user["id"]


def _result(w: Workload, errors_reported: int) -> dict:
    return {"jobs": w.jobs, "failing": _failing(w), "errors_reported": errors_reported}


class _LostErrors:
    """Counts the errors that reach no caller while its block runs.

    A loop exception handler counts 'Task exception was never retrieved' reports (others go on
    to the handler that was installed before), and recorded warnings count 'coroutine ... was
    never awaited' (other warnings are re-issued on exit). Every variant runs inside one, so
    each lost_errors figure is measured the same way.
    """

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.never_retrieved = 0
        self.previous: Any = None
        self._warnings = warnings.catch_warnings(record=True)
        self._caught: list[warnings.WarningMessage] = []

    @property
    def count(self) -> int:
        return self.never_retrieved + sum(NEVER_AWAITED in str(w.message) for w in self._caught)

    def __enter__(self) -> _LostErrors:
        self.previous = self.loop.get_exception_handler()
        self.loop.set_exception_handler(self._handle)
        caught = self._warnings.__enter__()
        assert caught is not None  # record=True: the list the warnings are appended to
        self._caught = caught
        warnings.simplefilter("always", RuntimeWarning)  # each dropped coroutine, not the first
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType
    ) -> None:
        self._warnings.__exit__(exc_type, exc, tb)
        self.loop.set_exception_handler(self.previous)
        for w in self._caught:
            if NEVER_AWAITED not in str(w.message):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

    def _handle(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message", "").startswith(NEVER_RETRIEVED):
            self.never_retrieved += 1
        elif self.previous is not None:
            self.previous(loop, context)
        else:
            loop.default_exception_handler(context)


async def fire_and_forget(ctx: Context) -> dict:
    """create_task per job, kept in a set, awaited with asyncio.wait: exceptions never asked for."""
    w = ctx.workload
    background: set[asyncio.Task] = set()
    with _LostErrors() as lost:
        for i in range(w.jobs):
            task = asyncio.create_task(_job(ctx, i))
            background.add(task)  # the documented way to keep a fire-and-forget task alive
            task.add_done_callback(background.discard)
        alive = weakref.WeakSet(background)  # instrument: which tasks are not yet freed
        # The caller waits for the batch only so the timing compares; wait() never raises.
        await asyncio.wait(set(background))
        del task
        # The done tasks are unreferenced now and report their lost errors as they are freed.
        # Should a reference cycle keep one alive, collect, so the loss shows here and not at
        # some later, unrelated moment (or at interpreter exit).
        if alive:
            gc.collect()
    ctx.observe("lost_errors", lost.count)
    return _result(w, errors_reported=0)


async def _report(errors: list[BaseException], exc: BaseException) -> None:
    """An async error reporter (it might send the error to a tracker)."""
    errors.append(exc)


async def never_awaited(ctx: Context) -> dict:
    """Each job catches its error and calls the async reporter, but forgets to await it."""
    w = ctx.workload
    reported: list[BaseException] = []

    async def job_with_reporting(i: int) -> None:
        try:
            await _job(ctx, i)
        except aiohttp.ClientResponseError as exc:
            _report(reported, exc)  # the bug: a coroutine object is created and dropped

    with _LostErrors() as lost:
        # Nothing holds the dropped coroutine, so it is freed (and warns) on the spot.
        await asyncio.gather(*(job_with_reporting(i) for i in range(w.jobs)))
    ctx.observe("lost_errors", lost.count)
    return _result(w, errors_reported=len(reported))


async def gather_return_exceptions(ctx: Context) -> dict:
    """gather(return_exceptions=True): every job runs to its end; errors come back as values."""
    w = ctx.workload
    with _LostErrors() as lost:
        outcomes = await asyncio.gather(
            *(_job(ctx, i) for i in range(w.jobs)), return_exceptions=True
        )
    ctx.observe("lost_errors", lost.count)
    return _result(w, errors_reported=sum(isinstance(o, Exception) for o in outcomes))


async def task_group(ctx: Context) -> dict:
    """TaskGroup: the first error cancels the siblings; errors arrive as an ExceptionGroup."""
    w = ctx.workload
    tasks: list[asyncio.Task] = []
    reported = 0
    with _LostErrors() as lost:
        try:
            async with asyncio.TaskGroup() as tg:
                tasks.extend(tg.create_task(_job(ctx, i)) for i in range(w.jobs))
        except* aiohttp.ClientResponseError as group:
            reported = len(group.exceptions)
    ctx.observe("lost_errors", lost.count)
    ctx.observe("cancelled_jobs", sum(t.cancelled() for t in tasks))
    return _result(w, errors_reported=reported)


def _one_round_trip(w: Workload, latency_s: float, machine: Machine) -> float:
    return latency_s


def _first_failure(w: Workload, latency_s: float, machine: Machine) -> float:
    # The group gives up at the first failure and cancels the jobs still waiting.
    return min(w.fail_ms / 1000, latency_s)


VARIANTS = {
    "fire_and_forget": Variant(
        fire_and_forget,
        label="fire-and-forget create_task",
        why="no one retrieves the exceptions: the caller hears of none, the log hears of them late",
        ideal=_one_round_trip,
        anti_pattern=True,
    ),
    "never_awaited": Variant(
        never_awaited,
        label="async reporter never awaited",
        why="the reporter coroutine never runs: errors are caught and dropped, with a warning",
        ideal=_one_round_trip,
        anti_pattern=True,
    ),
    "gather_return_exceptions": Variant(
        gather_return_exceptions,
        label="gather(return_exceptions=True)",
        why="every job finishes and every error comes back to the caller as a value",
        ideal=_one_round_trip,
    ),
    "task_group": Variant(
        task_group,
        label="asyncio.TaskGroup",
        why="errors reach the caller as an ExceptionGroup; the first one cancels the rest",
        ideal=_first_failure,
    ),
}

# No budgets: every variant waits one round trip, so wall time cannot tell the right way from the
# wrong one; lost_errors and the result (errors the caller was told about) carry the lesson.

# Each variant returns how many errors its caller was told about; that differs on purpose.
EQUAL_RESULTS = False
