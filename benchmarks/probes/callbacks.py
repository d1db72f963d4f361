"""Which callback ran when, and which one blocked the loop on which line.

``CallbackProbe`` times every callback of one standard asyncio loop by wrapping
``asyncio.events.Handle._run`` (timers go through it too) while it is active, and always restores
it. The owning task is read *before* the callback runs: a task step's callback is a bound method
of its Task (``handle._callback.__self__``). Handles of other loops pass straight through. Debug
mode is never touched.

Eager tasks (Python 3.12+, ``asyncio.eager_task_factory``) run their first step synchronously
inside the callback that creates them. The probe wraps the loop's task factory to time that
step, and attributes it to the new task rather than to its creator.

``Watchdog`` is a thread that, while the loop has been stuck in one callback for over half the
threshold, samples the loop thread's frame (``sys._current_frames()``) and keeps the deepest
frame of user code: not asyncio, selectors, the standard library, site-packages or the lab's
own harness (``benchmarks/``); the deepest library frame is kept beside it as ``inner``. A
callback stuck in C code that holds the GIL (``json.loads``) cannot be sampled until it
returns; then the line its task stopped at next stands in (``located="next-await"``). On
uvloop, whose callbacks run in C and never call ``Handle._run``, the watchdog is the only
source: it watches the lag probe's heartbeat instead and names the task with
``asyncio.current_task``.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import sysconfig
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_THRESHOLD_S = 0.020
MAX_RECORDS = 200_000  # beyond this, callbacks under COMPACT_BELOW_S are dropped (and counted)
COMPACT_BELOW_S = 0.001
STACK_DEPTH = 6  # user frames kept per blocking location

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


# Locating the running line -----------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """Where the loop thread was: the deepest user frame, and the innermost visible one."""

    where: str  # "path:line" of the deepest frame in user code
    function: str
    inner: str | None = None  # "path:line in func" of a deeper library frame, if any
    stack: tuple[str, ...] = ()  # user frames, innermost first: "path:line in func"


# The lab's harness (benchmarks/, probes included) runs the code under test; it is never the
# answer to "which line blocked", and naming it as a caller is noise.
_HARNESS_DIR = str(Path(__file__).resolve().parent.parent) + os.sep
_ASYNCIO_DIR = str(Path(asyncio.__file__).resolve().parent) + os.sep
_ALWAYS_HIDDEN = (_HARNESS_DIR, _ASYNCIO_DIR)
_HIDDEN_FILES = {str(Path(m.__file__).resolve()) for m in (threading,) if m.__file__} | {
    str(Path(sysconfig.get_paths()["stdlib"]) / name) for name in ("selectors.py", "runpy.py")
}
_LIB_DIRS = tuple(
    sorted(
        {
            str(Path(p).resolve()) + os.sep
            for key in ("stdlib", "platstdlib", "purelib", "platlib")
            if (p := sysconfig.get_paths().get(key))
        },
        key=len,
        reverse=True,
    )
)
_HIDDEN, _LIBRARY, _USER = 0, 1, 2
_kinds: dict[Any, tuple[int, str]] = {}


def _classify(code: Any) -> tuple[int, str]:
    """(kind, display path) of a code object's file, cached: the watchdog holds the GIL here."""
    cached = _kinds.get(code)
    if cached is not None:
        return cached
    filename = code.co_filename
    if filename.startswith("<"):
        result = (_HIDDEN if filename.startswith("<frozen") else _USER, filename)
    else:
        path = os.path.realpath(filename)
        if path.startswith(_ALWAYS_HIDDEN) or path in _HIDDEN_FILES:
            result = (_HIDDEN, path)
        else:
            lib = next((d for d in _LIB_DIRS if path.startswith(d)), "")
            result = (_LIBRARY, path[len(lib) :]) if lib else (_USER, _display(path))
    _kinds[code] = result
    return result


def _display(path: str) -> str:
    cwd = os.getcwd() + os.sep
    return path[len(cwd) :] if path.startswith(cwd) else path


def snapshot(frame: Any) -> list[tuple[Any, int]]:
    """(code, line) of a stack, innermost first: plain data, so no frame object is kept.

    Holding a frame after its function returns makes the frame own that function's locals; if
    the watchdog held it, it would free them later, on its own thread, holding the GIL.
    """
    stack = []
    while frame is not None:
        stack.append((frame.f_code, frame.f_lineno))
        frame = frame.f_back
    return stack


def locate(stack: list[tuple[Any, int]]) -> Location | None:
    """The deepest user frame of a ``snapshot`` (innermost first), skipping asyncio and probes."""
    visible = None
    users: list[str] = []
    for code, line in stack:
        kind, path = _classify(code)
        if kind == _USER:
            users.append(f"{path}:{line} in {code.co_qualname}")
            if len(users) == 1:
                first = (code, line, path)
            if len(users) == STACK_DEPTH:
                break
        elif kind == _LIBRARY and visible is None and not users:
            visible = (code, line, path)
    if users:
        code, line, path = first
        inner = f"{visible[2]}:{visible[1]} in {visible[0].co_qualname}" if visible else None
        return Location(f"{path}:{line}", code.co_qualname, inner, tuple(users))
    if visible is not None:
        code, line, path = visible
        return Location(f"{path}:{line}", code.co_qualname)
    return None


def suspended_location(task: Any) -> Location | None:
    """Where a task's coroutine chain is suspended now (its innermost user frame)."""
    stack = []
    obj = task.get_coro() if hasattr(task, "get_coro") else None
    for _ in range(64):
        frame = getattr(obj, "cr_frame", None) or getattr(obj, "gi_frame", None)
        if frame is None:
            break
        stack.append((frame.f_code, frame.f_lineno))
        obj = getattr(obj, "cr_await", None) or getattr(obj, "gi_yieldfrom", None)
    for code, line in reversed(stack):  # innermost first
        kind, path = _classify(code)
        if kind == _USER:
            return Location(f"{path}:{line}", code.co_qualname)
    return None


# The watchdog ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One look at the loop thread while it was stuck."""

    t: float  # perf_counter()
    location: Location
    task: str | None


@dataclass
class Watchdog:
    """A thread that samples the loop thread's frame while one callback runs too long.

    ``stalled_since()`` returns the perf_counter() moment the loop got stuck (the running
    callback's start, or the heartbeat's due time), or 0.0 when it is not stuck; the loop is
    sampled once that is over ``threshold_s / 2`` old, so callbacks just over the threshold are
    caught too.
    """

    stalled_since: Callable[[], float]
    threshold_s: float = DEFAULT_THRESHOLD_S
    loop: asyncio.AbstractEventLoop | None = None  # set: name the task via current_task (uvloop)
    poll_s: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    busy_s: float = 0.0  # time this thread spent holding the GIL (the cost it adds)
    wakeups: int = 0
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _target: int = 0

    def start(self) -> None:
        """Watch the calling thread (the loop thread) until ``stop()``."""
        self._target = threading.get_ident()
        if not self.poll_s:
            self.poll_s = min(0.005, max(0.001, self.threshold_s / 4))
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="lab-probe-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop and join the thread (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _watch(self) -> None:
        trigger = self.threshold_s / 2
        while not self._stop.wait(self.poll_s):
            began = time.perf_counter()
            self.wakeups += 1
            since = self.stalled_since()
            if since and began - since >= trigger:
                # Copy the stack out at once; classifying it (with syscalls that release the
                # GIL) comes after, when no frame object is held any more.
                stack = snapshot(sys._current_frames().get(self._target))
                t = time.perf_counter()
                task = None
                if self.loop is not None:
                    current = asyncio.current_task(self.loop)
                    task = current.get_name() if current is not None else None
                    del current
                location = locate(stack)
                if location is not None:
                    self.samples.append(Sample(t, location, task))
            self.busy_s += time.perf_counter() - began


def best_location(samples: list[Sample], start: float, threshold_s: float) -> Location | None:
    """The most frequent location among samples, preferring those taken past the threshold."""
    late = [s for s in samples if s.t - start >= threshold_s] or samples
    if not late:
        return None
    counts = Counter(s.location for s in late)
    return counts.most_common(1)[0][0]
