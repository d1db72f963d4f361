"""Which callback ran when, and which one blocked the loop on which line.

``CallbackProbe`` times every callback of one standard asyncio loop by wrapping
``asyncio.events.Handle._run`` (timers go through it too) while it is active, and always restores
it. The owning task is read *before* the callback runs: a task step's callback is a bound method
of its Task (``handle._callback.__self__``). Handles of other loops pass straight through. Debug
mode is never touched.

Eager tasks (Python 3.12+, ``asyncio.eager_task_factory``) run their first step synchronously
inside the callback that creates them. The probe wraps the loop's task factory to time that
step, and attributes it to the new task rather than to its creator.

Which line a long callback was on comes from the watchdog thread (``probes.watchdog``); a
callback stuck in C code that holds the GIL (``json.loads``) cannot be sampled until it returns,
so the line its task stopped at next stands in (``located="next-await"``).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

from asyncio_perf_lab.benchmarks.probes.locations import Location, suspended_location
from asyncio_perf_lab.benchmarks.probes.watchdog import DEFAULT_THRESHOLD_S

MAX_RECORDS = 200_000  # beyond this, callbacks under COMPACT_BELOW_S are dropped (and counted)
COMPACT_BELOW_S = 0.001

_TASK_TYPES: tuple[type, ...] = tuple(
    {asyncio.Task, getattr(asyncio.tasks, "_PyTask", asyncio.Task)}
)
_HANDLE = asyncio.events.Handle
_clock = time.perf_counter  # a module global: one lookup cheaper per call in the hot path
_saved_run: Callable[[asyncio.Handle], None] = _HANDLE._run
_ACTIVE: dict[asyncio.AbstractEventLoop, CallbackProbe] = {}


def _timed_run(self: asyncio.Handle) -> None:
    """Handle._run while a probe is active: time callbacks of probed loops, pass the rest."""
    probe = _ACTIVE.get(self._loop)  # type: ignore[attr-defined]
    if probe is None:
        return _saved_run(self)
    callback = self._callback  # type: ignore[attr-defined]
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, _TASK_TYPES):
        task = owner.get_name()  # before it runs: the step may rename or finish the task
        label = None
    else:
        owner = task = None
        label = getattr(callback, "__qualname__", None) or callback_label(callback)
    probe.running_since = start = _clock()
    try:
        _saved_run(self)
    finally:
        end = _clock()
        probe.running_since = 0.0
        records = probe.records
        records.append((start, end, task, label))
        if probe.pending:
            probe.settle(start)
        if end - start >= probe.threshold_s:
            probe.note_long(start, owner)
        if len(records) >= MAX_RECORDS:
            probe.compact()
    return None


def _entry_ended() -> None:
    """Queued at install: the first timed callback after the installing one (see install)."""


ENTRY_LABEL = "(running at install)"
PROBE_LABELS = frozenset({_entry_ended.__qualname__})  # instrument callbacks, not the program's


def callback_label(callback: Any) -> str:
    """A readable name for a callback that is not a task step (partials, callables)."""
    inner = getattr(callback, "func", None)  # functools.partial
    if inner is not None:
        return f"partial({callback_label(inner)})"
    return getattr(callback, "__qualname__", None) or type(callback).__name__


def supports_callbacks(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the loop runs its callbacks through Handle._run (asyncio yes, uvloop no)."""
    return isinstance(loop, asyncio.BaseEventLoop)


class CallbackProbe:
    """Times every callback of the running standard loop while active (a context manager)."""

    def __init__(self, threshold_s: float = DEFAULT_THRESHOLD_S) -> None:
        self.threshold_s = threshold_s
        # (start, end, task name or None, callback label or None), perf_counter seconds
        self.records: list[tuple[float, float, str | None, str | None]] = []
        # eager first steps: (start, end, task name); the Task itself until it is named
        self.eager: list[tuple[float, float, Any]] = []
        # the rest of the callback that installed the probe: (start, task name), until it ends
        self.entry: tuple[float, str | None] | None = None
        self.pending = False  # an entry to close or eager tasks to name (checked per callback)
        # where a long task step left its coroutine: start -> location (the GIL-held fallback)
        self.suspended_at: dict[float, Location] = {}
        self.running_since = 0.0  # perf_counter() start of the running callback, 0.0 when idle
        # the callback still running when the probe was removed (the one that removed it)
        self.open_record: tuple[float, float, str | None, str | None] | None = None
        self.dropped = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._inner_factory: Any = None
        self._factory_hooked = False

    def __enter__(self) -> CallbackProbe:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def install(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start timing the callbacks of ``loop`` (default: the running loop)."""
        global _saved_run
        loop = loop or asyncio.get_running_loop()
        if not supports_callbacks(loop):
            raise RuntimeError(f"{type(loop).__name__} does not run callbacks via Handle._run")
        if loop in _ACTIVE:
            raise RuntimeError("a CallbackProbe is already active on this loop")
        if _HANDLE._run is not _timed_run:
            _saved_run = _HANDLE._run
            _HANDLE._run = _timed_run  # type: ignore[method-assign]
        self.loop = loop
        _ACTIVE[loop] = self
        self._hook_task_factory(loop)
        if asyncio._get_running_loop() is loop:
            # Installed from inside a callback (a task step): that step began before the wrap,
            # so time its remainder here. It ends where the next timed callback starts; the
            # no-op queued now makes that come right after, not after the next select().
            current = asyncio.current_task(loop)
            self.running_since = time.perf_counter()
            self.entry = (self.running_since, current.get_name() if current else None)
            self.pending = True
            loop.call_soon(_entry_ended)

    def uninstall(self) -> None:
        """Stop timing; restore Handle._run once no probe is left (idempotent)."""
        loop = self.loop
        if loop is None or _ACTIVE.get(loop) is not self:
            return
        self._unhook_task_factory(loop)
        self.name_eager_tasks()
        if self.running_since:
            # Its own record is appended only when it ends, after this; cut it here instead.
            self.entry = None
            current = asyncio.current_task(loop)
            name = current.get_name() if current is not None else None
            label = None if name else "(running at exit)"
            self.open_record = (self.running_since, time.perf_counter(), name, label)
        del _ACTIVE[loop]
        if not _ACTIVE and _HANDLE._run is _timed_run:
            _HANDLE._run = _saved_run  # type: ignore[method-assign]

    def note_long(self, start: float, task: Any) -> None:
        """After a long task step: remember where its coroutine is suspended now."""
        if task is not None:
            where = suspended_location(task)
            if where is not None:
                self.suspended_at[start] = where

    def finished_records(self) -> list[tuple[float, float, str | None, str | None]]:
        """Every timed callback, the one cut at removal included (once)."""
        if self.open_record is None:
            return list(self.records)
        start = self.open_record[0]
        return [r for r in self.records if r[0] != start] + [self.open_record]

    def settle(self, next_start: float) -> None:
        """After a timed callback: close the entry stretch, name eager tasks created so far."""
        self.pending = False
        if self.entry is not None:
            start, task = self.entry
            self.entry = None
            self.records.append((start, next_start, task, None if task else ENTRY_LABEL))
        self.name_eager_tasks()

    def name_eager_tasks(self) -> None:
        """Replace held eager tasks by their (now final) names, letting the tasks go."""
        for i in range(len(self.eager) - 1, -1, -1):
            start, end, task = self.eager[i]
            if isinstance(task, str):
                break
            self.eager[i] = (start, end, task.get_name())

    def compact(self) -> None:
        """Bound memory on long programs: drop short callbacks, keep the ones that matter."""
        kept = [r for r in self.records if r[1] - r[0] >= COMPACT_BELOW_S]
        self.dropped += len(self.records) - len(kept)
        self.records[:] = kept

    # Eager tasks -------------------------------------------------------------------------------
    def _hook_task_factory(self, loop: asyncio.AbstractEventLoop) -> None:
        """Route the loop's task factory (now and any set later) through ``_factory``."""
        if not hasattr(asyncio, "eager_task_factory"):
            return  # before 3.12 a task never runs inside its creator
        cls = type(loop)
        probe = self

        def set_task_factory(factory: Any) -> None:
            probe._inner_factory = factory
            cls.set_task_factory(loop, None if factory is None else probe._factory)

        def get_task_factory() -> Any:
            return probe._inner_factory

        self._inner_factory = loop.get_task_factory()
        loop.set_task_factory = set_task_factory  # type: ignore[method-assign]
        loop.get_task_factory = get_task_factory  # type: ignore[method-assign]
        self._factory_hooked = True
        if self._inner_factory is not None:
            cls.set_task_factory(loop, self._factory)

    def _unhook_task_factory(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._factory_hooked:
            return
        del loop.set_task_factory  # type: ignore[method-assign]
        del loop.get_task_factory  # type: ignore[method-assign]
        loop.set_task_factory(self._inner_factory)
        self._factory_hooked = False

    def _factory(self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        inner = self._inner_factory
        outer = self.running_since
        start = time.perf_counter()
        if not outer:
            self.running_since = start  # created outside any callback (run_until_complete)
        try:
            if inner is None:
                task = asyncio.Task(coro, loop=loop, **kwargs)
            else:
                task = inner(loop, coro, **kwargs)
        finally:
            end = time.perf_counter()
            self.running_since = outer
        if _ran_eagerly(task):
            # Keep the task until its creating callback ends: Python 3.12 names a task only
            # after the factory returned (its eager step ran as "Task-N").
            self.eager.append((start, end, task))
            self.pending = True
            if end - start >= self.threshold_s:
                self.note_long(start, task)
        return task


def _ran_eagerly(task: Any) -> bool:
    """Whether a task just returned by a factory already ran its first step."""
    if not isinstance(task, asyncio.Future):
        return False
    if task.done():
        return True  # finished within its first step
    coro = task.get_coro() if hasattr(task, "get_coro") else None
    try:
        return inspect.getcoroutinestate(coro) != inspect.CORO_CREATED
    except (AttributeError, TypeError):
        return False
