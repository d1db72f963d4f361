"""Callback ordering: call_soon, call_later(0), sleep(0), future callbacks, tasks vs JavaScript

The talk's "setTimeout(0) vs Promise.then" puzzles, rebuilt with asyncio's primitives. Each
variant is one puzzle: it schedules a few labelled callbacks, records the order in which they
really run and returns that order. ``JS_TWINS`` holds each puzzle's JavaScript twin, the order
JavaScript prints, and why asyncio agrees or differs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asyncio_perf_lab.scenarios.calibration import Site, in_lean_process, loop_turn_s
from asyncio_perf_lab.scenarios.core import IdealModel, Machine, Variant

if TYPE_CHECKING:
    from asyncio_perf_lab.scenarios.core import Context

QUESTION = (
    "setTimeout(0) runs after every Promise.then in JavaScript: does call_later(0) run after "
    "every call_soon in asyncio?"
)
LESSON = (
    "JavaScript drains the whole microtask queue (Promise.then, queueMicrotask, await) before "
    "the next timer. asyncio has no microtask queue: one ready queue, run one snapshot per loop "
    "iteration. A callback queued by a callback waits for the next iteration, behind timers that "
    "came due meanwhile, and awaiting a future that is already done does not yield at all. "
    "Since 3.12 the eager task factory runs a new task's first step at once, like calling an "
    "async function in JavaScript."
)
LATENCY = "0ms"  # no request is made: the puzzles only use the event loop
# No headline claim: the puzzles do different things, so no timing compares them.
TEACHES: tuple[str, ...] = ()

# Whether this interpreter has asyncio.eager_task_factory (3.12+); on 3.11 the eager puzzle
# falls back to the default (lazy) task factory and so records the create_task order.
EAGER_AVAILABLE = hasattr(asyncio, "eager_task_factory")


@dataclass(frozen=True)
class Workload:
    """The puzzles have no size: each schedules a fixed handful of callbacks."""


TINY = Workload()

# Each puzzle's JavaScript twin, the order JavaScript logs, and what asyncio does differently.
JS_TWINS: dict[str, dict[str, Any]] = {
    "call_soon": {
        "js": (
            "setTimeout(() => log('timer'), 0);\n"
            "queueMicrotask(() => { log('soon 1'); queueMicrotask(() => log('soon 2')); });\n"
            "log('sync end');"
        ),
        "js_order": ["sync end", "soon 1", "soon 2", "timer"],
        "explanation": (
            "Differs. JavaScript drains the microtask queue, including microtasks queued by "
            "microtasks, before any timer. asyncio runs the ready queue one snapshot per "
            "iteration: 'soon 2' is queued while 'soon 1' runs, so it waits for the next "
            "iteration, and the due timer joined the current one first."
        ),
    },
    "call_later_0": {
        "js": (
            "setTimeout(() => { log('timer 1'); queueMicrotask(() => log('micro')); }, 0);\n"
            "setTimeout(() => log('timer 2'), 0);\n"
            "log('sync end');"
        ),
        "js_order": ["sync end", "timer 1", "micro", "timer 2"],
        "explanation": (
            "Differs. JavaScript runs a microtask checkpoint after every task, so 'micro' "
            "comes between the timers. asyncio moves both due timers into one ready-queue "
            "snapshot and runs them back to back; the call_soon from 'timer 1' waits for the "
            "next iteration."
        ),
    },
    "sleep_0": {
        "js": (
            "setTimeout(() => log('timer'), 0);\n"
            "queueMicrotask(() => log('soon'));\n"
            "await null;\n"
            "log('after await');"
        ),
        "js_order": ["soon", "after await", "timer"],
        "explanation": (
            "Same. sleep(0) is asyncio's 'await null': the task yields once and is requeued "
            "behind what is already ready ('soon'); it resumes in the next iteration before the "
            "timer that came due, because that timer joins the snapshot behind it."
        ),
    },
    "future_callbacks": {
        "js": (
            "const p = Promise.resolve();\n"
            "p.then(() => log('then'));\n"
            "(async () => { log('coro start'); await p; log('after await'); })();\n"
            "log('sync end');"
        ),
        "js_order": ["coro start", "sync end", "then", "after await"],
        "explanation": (
            "Differs. In JavaScript every await goes through the microtask queue, even on a "
            "settled promise. In asyncio awaiting a future that is already done returns at "
            "once without yielding, so the coroutine runs straight through; only the done "
            "callback (Promise.then) is deferred to the next iteration."
        ),
    },
    "create_task": {
        "js": (
            "async function f() { log('task start'); await null; log('task end'); }\n"
            "f();\n"
            "log('sync end');"
        ),
        "js_order": ["task start", "sync end", "task end"],
        "explanation": (
            "Differs. Calling an async function in JavaScript runs it synchronously up to its "
            "first await. asyncio.create_task only schedules the first step: nothing of the "
            "task runs until the caller yields."
        ),
    },
    "eager_task": {
        "js": (
            "async function f() { log('task start'); await null; log('task end'); }\n"
            "f();\n"
            "log('sync end');"
        ),
        "js_order": ["task start", "sync end", "task end"],
        "explanation": (
            "Same on 3.12+: with asyncio.eager_task_factory, create_task runs the coroutine at "
            "once up to its first suspension, like JavaScript. Python 3.11 has no eager task "
            "factory, so the puzzle falls back to the default factory and records the "
            "create_task order."
        ),
    },
}


class _Recorder:
    """Collects labels in the order they run; ``done`` resolves once all expected ones ran."""

    def __init__(self, expected: int) -> None:
        self.order: list[str] = []
        self.expected = expected
        self.done = asyncio.get_running_loop().create_future()

    def log(self, label: str) -> None:
        self.order.append(label)
        if len(self.order) == self.expected:
            self.done.set_result(self.order)


async def call_soon(ctx: Context) -> list[str]:
    """call_soon from inside a call_soon callback vs a call_later(0) timer."""
    loop = asyncio.get_running_loop()
    rec = _Recorder(expected=4)

    def soon_1() -> None:
        rec.log("soon 1")
        loop.call_soon(rec.log, "soon 2")

    loop.call_later(0, rec.log, "timer")
    loop.call_soon(soon_1)
    rec.log("sync end")
    return await rec.done


async def call_later_0(ctx: Context) -> list[str]:
    """Two call_later(0) timers, the first queueing a call_soon: no checkpoint between them."""
    loop = asyncio.get_running_loop()
    rec = _Recorder(expected=4)

    def timer_1() -> None:
        rec.log("timer 1")
        loop.call_soon(rec.log, "micro")

    loop.call_later(0, timer_1)
    loop.call_later(0, rec.log, "timer 2")
    rec.log("sync end")
    return await rec.done


async def sleep_0(ctx: Context) -> list[str]:
    """await asyncio.sleep(0) between a queued call_soon and a due call_later(0) timer."""
    loop = asyncio.get_running_loop()
    rec = _Recorder(expected=3)
    loop.call_later(0, rec.log, "timer")
    loop.call_soon(rec.log, "soon")
    await asyncio.sleep(0)
    rec.log("after await")
    return await rec.done


async def future_callbacks(ctx: Context) -> list[str]:
    """A done callback on a resolved future vs a coroutine awaiting that (done) future."""
    rec = _Recorder(expected=4)
    fut = asyncio.get_running_loop().create_future()
    fut.set_result(None)
    fut.add_done_callback(lambda _: rec.log("then"))

    async def coro() -> None:
        rec.log("coro start")
        await fut  # already done: returns at once, no trip through the loop
        rec.log("after await")

    await coro()  # the JavaScript call f() runs the body inline up to its first await, too
    rec.log("sync end")
    return await rec.done


async def _task_body(rec: _Recorder) -> None:
    rec.log("task start")
    await asyncio.sleep(0)
    rec.log("task end")


async def create_task(ctx: Context) -> list[str]:
    """asyncio.create_task with the default factory: the first step waits for the caller."""
    rec = _Recorder(expected=3)
    task = asyncio.create_task(_task_body(rec))
    rec.log("sync end")
    order = await rec.done
    await task
    return order


async def eager_task(ctx: Context) -> list[str]:
    """An eager task, as asyncio.eager_task_factory makes it (3.12+; a lazy task on 3.11)."""
    rec = _Recorder(expected=3)
    if EAGER_AVAILABLE:
        # What eager_task_factory does, without installing it: uvloop on 3.13 rejects the
        # factory's eager_start keyword, while the Task constructor works on every loop.
        task = asyncio.Task(_task_body(rec), loop=asyncio.get_running_loop(), eager_start=True)
    else:
        task = asyncio.create_task(_task_body(rec))
    rec.log("sync end")
    order = await rec.done
    await task
    return order


# Loop iterations each puzzle needs, counting the one that resumes the caller (the ideal's unit).
ITERATIONS = {
    "call_soon": 3,
    "call_later_0": 3,
    "sleep_0": 2,
    "future_callbacks": 2,
    "create_task": 3,
    "eager_task": 2 if EAGER_AVAILABLE else 3,
}


def calibrate(workload: Workload, site: Site) -> dict[str, float]:
    """CPU seconds of the cheapest loop iteration on the run's own loop (uvloop when asked)."""
    return {"loop_turn": in_lean_process(loop_turn_s, site)}


def _iterations(name: str) -> IdealModel:
    def ideal(w: Workload, latency_s: float, machine: Machine) -> float:
        # Each iteration runs at least one callback: none can cost less than the cheapest turn.
        return ITERATIONS[name] * machine.cpu_s["loop_turn"]

    return ideal


# anti_pattern marks the puzzles where the JavaScript intuition predicts the wrong order.
VARIANTS = {
    "call_soon": Variant(
        call_soon,
        label="call_soon chain vs call_later(0)",
        why="a call_soon queued by a callback runs after a due timer: no microtask drain",
        ideal=_iterations("call_soon"),
        anti_pattern=True,
    ),
    "call_later_0": Variant(
        call_later_0,
        label="call_later(0) timers",
        why="due timers run back to back; there is no microtask checkpoint between callbacks",
        ideal=_iterations("call_later_0"),
        anti_pattern=True,
    ),
    "sleep_0": Variant(
        sleep_0,
        label="await asyncio.sleep(0)",
        why="sleep(0) yields exactly once, behind what is already ready: like await null",
        ideal=_iterations("sleep_0"),
    ),
    "future_callbacks": Variant(
        future_callbacks,
        label="future done callbacks",
        why="awaiting a done future does not yield, unlike await on a settled promise",
        ideal=_iterations("future_callbacks"),
        anti_pattern=True,
    ),
    "create_task": Variant(
        create_task,
        label="asyncio.create_task",
        why="create_task only schedules the first step; an async call in JS runs it at once",
        ideal=_iterations("create_task"),
        anti_pattern=True,
    ),
    "eager_task": Variant(
        eager_task,
        label="eager_task_factory (3.12+)",
        why="the eager factory runs the first step at once, like JavaScript (3.11: lazy fallback)",
        ideal=_iterations("eager_task"),
    ),
}

# The variants are different puzzles on purpose: each returns the order of its own callbacks.
EQUAL_RESULTS = False
