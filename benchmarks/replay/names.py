"""Readable names for what the loop runs: a task step by its task and where it resumes, a callback
by its function, arguments and definition line.

A task's steps are scheduled as callbacks bound to the Task (``Task.__step``, ``task_wakeup``);
they are named ``Task-2 fetch()`` and placed where the coroutine chain is suspended (its
innermost user frame), since that is the line that runs next. Any other callback is named like
the call it stands for, ``print(3)`` or ``_Recorder.log('timer')``, and placed on its ``def``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from asyncio_perf_lab.benchmarks.probes.callbacks import callback_label
from asyncio_perf_lab.benchmarks.probes.locations import locate

__all__ = ["Named", "coroutine_frames", "name_callback", "name_task_step"]

_TASK_TYPES: tuple[type, ...] = tuple(
    {asyncio.Task, getattr(asyncio.tasks, "_PyTask", asyncio.Task)}
)
ARG_CHARS = 40
MAX_FRAMES = 64


@dataclass(frozen=True)
class Named:
    """What a handle runs, as the replay shows it."""

    name: str  # "Task-2 fetch()" or "print(3)"
    where: str | None  # "path:line" it runs (a task: where it resumes; a callback: its def)
    task: str | None = None  # the task's name for a task step
    stack: tuple[str, ...] = ()  # a task's await stack, innermost first: "path:line in func"
    starts: bool = False  # a task step whose coroutine has not started yet


def task_of(callback: Any) -> Any:
    """The Task whose step ``callback`` is, or None for any other callback."""
    owner = getattr(callback, "__self__", None)
    return owner if isinstance(owner, _TASK_TYPES) else None


def coroutine_frames(coro: Any) -> Iterator[tuple[Any, int]]:
    """(code, line) along a suspended coroutine's await chain, outermost first."""
    for _ in range(MAX_FRAMES):
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            return
        yield frame.f_code, frame.f_lineno
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)


def name_task_step(task: Any) -> Named:
    """A task step: the task's name and coroutine, placed where its coroutine resumes."""
    coro = task.get_coro()
    call = f"{getattr(coro, '__qualname__', type(coro).__name__)}()"
    label = call if task.get_name() == call else f"{task.get_name()} {call}"
    frames = list(coroutine_frames(coro))
    loc = locate(frames[::-1]) if frames else None
    starts = inspect.iscoroutine(coro) and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED
    return Named(
        label,
        loc.where if loc else None,
        task=task.get_name(),
        stack=loc.stack if loc else (),
        starts=starts,
    )


def _short(value: Any) -> str:
    if isinstance(value, _TASK_TYPES):
        return f"<Task {value.get_name()}>"
    if isinstance(value, asyncio.Future):
        return "<Future done>" if value.done() else "<Future>"
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not break the recording
        text = f"<{type(value).__name__}>"
    return text if len(text) <= ARG_CHARS else text[: ARG_CHARS - 1] + "…"


def _definition(callback: Any) -> str | None:
    func = getattr(callback, "func", callback)  # functools.partial
    func = getattr(func, "__func__", func)  # bound method
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    loc = locate([(code, code.co_firstlineno)])
    return loc.where if loc else None


def name_callback(callback: Any, args: tuple[Any, ...]) -> Named:
    """A handle's callback: a task step, or a plain call like ``print(3)``."""
    task = task_of(callback)
    if task is not None:
        return name_task_step(task)
    parts = [_short(a) for a in getattr(callback, "args", ())] + [_short(a) for a in args]
    label = callback_label(callback)
    if label.startswith("partial(") and label.endswith(")"):
        label = label[len("partial(") : -1]
    return Named(f"{label}({', '.join(parts)})", _definition(callback))
