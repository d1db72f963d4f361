"""Record the real event loop one callback at a time: what ran, what waited, what it printed.

``Recorder`` wraps ``asyncio.events.Handle._run`` (every callback and timer of a standard loop
goes through it; handles of other loops pass straight through) and, for its own loop, shadows
``loop._run_once`` to count loop iterations. Just before each callback runs it reads the loop's
own structures: ``_ready`` (the deque the loop pops from, in order), ``_scheduled`` (the timer
heap) and the selector's registered sockets. Just after, it keeps what the callback printed
(``sys.stdout`` is teed while recording), how long it took, and what it queued. Nothing is
simulated: the steps are the run.

Long programs are cut at ``limit`` steps (the rest run unrecorded and are counted). The time the
recorder spends on itself is measured (``record_s``), so its overhead can be reported.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from asyncio_perf_lab.benchmarks.replay.names import Named, name_callback

__all__ = ["DEFAULT_LIMIT", "Recorder", "StdoutTee", "Step", "supports_replay"]

DEFAULT_LIMIT = 2000
READY_SHOWN = 50
TIMERS_SHOWN = 20
IO_SHOWN = 20

_HANDLE = asyncio.events.Handle
_ACTIVE: dict[asyncio.AbstractEventLoop, Recorder] = {}
_saved_run: Any = _HANDLE._run
_clock = time.perf_counter


def supports_replay(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the loop runs callbacks through Handle._run and keeps Python-level queues."""
    return isinstance(loop, asyncio.BaseEventLoop) and hasattr(loop, "_ready")


@dataclass
class Step:
    """One callback the loop ran, with the loop's state as it started."""

    i: int
    t_ms: float
    iteration: int
    handle: int  # serial of the handle that ran
    named: Named
    ready: list[int]  # serials, in queue order (the first READY_SHOWN)
    ready_total: int
    this_turn: int  # how many of ``ready`` still run in this same loop iteration
    timers: list[tuple[int, float]]  # (serial, due in ms since t0), soonest first
    timers_total: int
    io: list[dict[str, Any]]
    io_total: int
    duration_ms: float = 0.0
    stdout: str = ""
    queued: list[int] = field(default_factory=list)  # appended to the ready queue by this step
    timers_added: list[int] = field(default_factory=list)


def _recording_run(handle: asyncio.Handle) -> None:
    """Handle._run while a recorder is active: record callbacks of recorded loops."""
    rec = _ACTIVE.get(handle._loop)  # type: ignore[attr-defined]
    if rec is None:
        return _saved_run(handle)
    if handle._callback is rec._stop_marker:  # type: ignore[attr-defined]
        return _saved_run(handle)  # the recording's own end: not a step of the program
    if rec.full:
        rec.cut += 1
        return _saved_run(handle)
    step = rec.before(handle)
    start = _clock()
    try:
        _saved_run(handle)
    finally:
        rec.after(step, start)
    return None


class StdoutTee:
    """sys.stdout while recording: everything written goes to the running step (and on through)."""

    def __init__(self, inner: Any, recorder: Recorder, echo: bool) -> None:
        self._inner = inner
        self._recorder = recorder
        self._echo = echo

    def write(self, text: str) -> int:
        self._recorder.out.append(text)
        if self._echo:
            self._inner.write(text)
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Recorder:
    """Records every callback of one standard loop while installed."""

    def __init__(
        self, *, limit: int = DEFAULT_LIMIT, echo: bool = True, describe_io: Any = None
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = limit
        self.echo = echo
        self.describe_io = describe_io  # (local "host:port") -> request label, from a probe
        self.steps: list[Step] = []
        self.names: dict[int, Named] = {}  # serial -> name
        self.cut = 0  # callbacks run after the limit (not recorded)
        self.record_s = 0.0  # time spent recording (the overhead)
        self.iteration = 0
        self.full = False
        self.stopped = False
        self.out: list[str] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.t0 = 0.0
        self.loop_t0 = 0.0
        self.wall_s = 0.0
        self._serials: dict[int, tuple[Any, int]] = {}
        self._counter = itertools.count()
        self._boundary: Any = None  # the last handle that runs in the current iteration
        self._new_turn = True
        self._stdout: Any = None
        self._ssock_fd: int | None = None
        self._io_names: dict[int, tuple[Any, str | None, str | None, str | None]] = {}
        self._stop_marker: Any = None
        self._harness: Any = None  # the task that installed the recorder: not the program

    # Installing ---------------------------------------------------------------------------------
    def install(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start recording ``loop`` (default: the running loop); its next callback is step 0."""
        global _saved_run
        loop = loop or asyncio.get_running_loop()
        if not supports_replay(loop):
            raise RuntimeError(f"{type(loop).__name__} keeps its queues in C: no replay")
        if loop in _ACTIVE:
            raise RuntimeError("a Recorder is already active on this loop")
        if _HANDLE._run is not _recording_run:
            _saved_run = _HANDLE._run
            _HANDLE._run = _recording_run  # type: ignore[method-assign]
        _ACTIVE[loop] = self
        self.loop = loop
        run_once = loop._run_once  # type: ignore[attr-defined]

        def counted_run_once() -> None:
            self.iteration += 1
            self._new_turn = True
            run_once()

        loop._run_once = counted_run_once  # type: ignore[attr-defined]
        ssock = getattr(loop, "_ssock", None)
        self._ssock_fd = ssock.fileno() if ssock is not None else None
        self._stdout = sys.stdout
        sys.stdout = StdoutTee(sys.stdout, self, self.echo)
        self._harness = asyncio.current_task(loop)
        self.t0 = _clock()
        self.loop_t0 = loop.time()

    def uninstall(self) -> None:
        """Stop recording and restore everything touched (idempotent)."""
        loop = self.loop
        if loop is None or _ACTIVE.get(loop) is not self:
            return
        self.wall_s = _clock() - self.t0
        self.stopped = True
        del _ACTIVE[loop]
        loop.__dict__.pop("_run_once", None)
        if isinstance(sys.stdout, StdoutTee) and sys.stdout._recorder is self:
            sys.stdout = self._stdout
        if not _ACTIVE and _HANDLE._run is _recording_run:
            _HANDLE._run = _saved_run  # type: ignore[method-assign]

    def create_task(self, loop: asyncio.AbstractEventLoop, coro: Any, name: str) -> Any:
        """The recorded program's task (its first step is the recording's first step)."""
        return loop.create_task(coro, name=name)

    def stop_when_done(self, future: asyncio.Future[Any]) -> None:
        """Uninstall as the first done callback of ``future``; that callback is not a step."""

        def stop(_: Any) -> None:
            self.uninstall()

        self._stop_marker = stop
        future.add_done_callback(stop)

    # Identity and names -------------------------------------------------------------------------
    def serial(self, handle: Any) -> int:
        """A stable number for a handle (ids are reused once an object dies; serials are not)."""
        key = id(handle)
        known = self._serials.get(key)
        if known is not None and known[0]() is handle:
            return known[1]
        number = next(self._counter)
        self._serials[key] = (weakref.ref(handle), number)
        try:
            self.names[number] = name_callback(handle._callback, handle._args)
        except Exception as exc:  # naming must never break the program under replay
            self.names[number] = Named(f"<unnamed: {type(exc).__name__}>", None)
        return number

    # Around each callback -----------------------------------------------------------------------
    def before(self, handle: Any) -> Step:
        """Snapshot the loop as ``handle`` starts: the ready queue, timers and sockets."""
        began = _clock()
        loop = self.loop
        ready_queue = loop._ready  # type: ignore[union-attr]
        if self._new_turn:
            self._new_turn = False
            self._boundary = ready_queue[-1] if ready_queue else handle
        if handle is self._boundary:
            self._boundary = None  # the iteration's last callback is running now
        boundary, this_turn = self._boundary, 0
        shown = []
        for n, queued in enumerate(ready_queue):
            if n < READY_SHOWN:
                shown.append(self.serial(queued))
            if queued is boundary:
                this_turn = n + 1
            if n >= READY_SHOWN - 1 and (this_turn or boundary is None):
                break
        timers = sorted(
            (t for t in loop._scheduled if not t._cancelled),  # type: ignore[union-attr]
            key=lambda t: t._when,
        )
        io, io_total = self._io(loop)
        running = self.serial(handle)
        step = Step(
            i=len(self.steps),
            t_ms=(began - self.t0) * 1000,
            iteration=self.iteration,
            handle=running,
            named=self.names[running],
            ready=shown,
            ready_total=len(ready_queue),
            this_turn=this_turn,
            timers=[
                (self.serial(t), (t._when - self.loop_t0) * 1000) for t in timers[:TIMERS_SHOWN]
            ],
            timers_total=len(timers),
            io=io,
            io_total=io_total,
        )
        self._ready_len = len(ready_queue)
        self._timers_before = len(loop._scheduled)  # type: ignore[union-attr]
        self.out = []
        self.steps.append(step)
        if len(self.steps) >= self.limit:
            self.full = True
        self.record_s += _clock() - began
        return step

    def after(self, step: Step, start: float) -> None:
        """Keep what the callback printed, how long it ran, and what it queued."""
        began = _clock()
        step.duration_ms = (began - start) * 1000
        step.stdout = "".join(self.out)
        self.out = []
        loop = self.loop
        ready_queue = loop._ready  # type: ignore[union-attr]
        if len(ready_queue) > self._ready_len:
            step.queued = [
                self.serial(h)
                for h in itertools.islice(
                    ready_queue, self._ready_len, self._ready_len + READY_SHOWN
                )
                if h._callback is not self._stop_marker
                and getattr(h._callback, "__self__", None) is not self._harness
            ]
        if len(loop._scheduled) > self._timers_before:  # type: ignore[union-attr]
            known = self._serials
            step.timers_added = [
                self.serial(t)
                for t in loop._scheduled  # type: ignore[union-attr]
                if (k := known.get(id(t))) is None or k[0]() is not t
            ][:TIMERS_SHOWN]
        self.record_s += _clock() - began

    def _io(self, loop: Any) -> tuple[list[dict[str, Any]], int]:
        """The sockets the selector waits on (the loop's own wake-up pipe left out)."""
        selector = getattr(loop, "_selector", None)
        if selector is None:
            return [], 0
        keys = selector.get_map()
        out = []
        for key in itertools.islice(keys.values(), IO_SHOWN + 1):
            if key.fd == self._ssock_fd:
                continue
            out.append(self._describe(key))
        total = len(keys) - (self._ssock_fd in keys)
        return out[:IO_SHOWN], total

    def _describe(self, key: Any) -> dict[str, Any]:
        reader, writer = key.data if isinstance(key.data, tuple) else (None, None)
        handle = reader or writer
        cached = self._io_names.get(id(handle))
        if cached is None or cached[0]() is not handle:
            owner = getattr(getattr(handle, "_callback", None), "__self__", None)
            local = peer = None
            if owner is not None and hasattr(owner, "get_extra_info"):
                local = _address(owner.get_extra_info("sockname"))
                peer = _address(owner.get_extra_info("peername"))
            name = self.names[self.serial(handle)].name if handle is not None else None
            cached = (
                weakref.ref(handle) if handle is not None else lambda: None,
                name,
                local,
                peer,
            )
            self._io_names[id(handle)] = cached
        _, name, local, peer = cached
        return {
            "fd": key.fd,
            "waiting": "+".join(
                w for w, h in (("read", reader), ("write", writer)) if h is not None
            ),
            "callback": name,
            "peer": peer,
            # The request changes as a kept-alive connection is reused: asked afresh each step.
            "request": self.describe_io(local) if self.describe_io and local else None,
        }


def _address(addr: Any) -> str | None:
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return None
