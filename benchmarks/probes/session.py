"""All probes around one coroutine: ``async with ProbeSession() as probes: await work()``.

The one place the probes are composed: loop lag (timer chain), per-callback timing and blocking
detection (``CallbackProbe`` + ``Watchdog`` on the standard loop, the watchdog alone on uvloop),
and request spans (``RequestTracer``). All times share one origin, ``t0`` (perf_counter at
entry), so the lag series, callbacks and request spans line up on one timeline. After the block,
``blocking()``, ``callback_timeline()``, ``request_spans()`` and ``to_chrome_trace()`` read them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from asyncio_perf_lab.benchmarks.probes.callbacks import (
    PROBE_LABELS,
    CallbackProbe,
    supports_callbacks,
)
from asyncio_perf_lab.benchmarks.probes.lag import DEFAULT_INTERVAL_S, LoopLagProbe
from asyncio_perf_lab.benchmarks.probes.locations import Location
from asyncio_perf_lab.benchmarks.probes.requests import RequestTracer, trace_new_sessions
from asyncio_perf_lab.benchmarks.probes.transports import TransportProbe
from asyncio_perf_lab.benchmarks.probes.watchdog import (
    DEFAULT_THRESHOLD_S,
    Sample,
    Watchdog,
    best_location,
)

MAX_TIMELINE = 3000
MAX_BLOCKING = 100
_PROBE_LABELS = PROBE_LABELS | {LoopLagProbe._tick.__qualname__}


@dataclass
class Slice:
    """One callback (or eager first step) on the loop, times in seconds since ``t0``."""

    start: float
    end: float
    task: str | None
    label: str  # the callback's name, or "eager step"
    eager: bool = False
    self_s: float = 0.0  # duration minus nested eager steps (which belong to other tasks)
    blocking: bool = False
    location: Location | None = None
    located: str | None = None  # "sampled": the running line; "next-await": see blocking()
    children: list[Slice] = field(default_factory=list)
    clock_start: float = 0.0  # perf_counter() start, the key the probes' own records use

    @property
    def duration(self) -> float:
        return self.end - self.start


class ProbeSession:
    """Loop lag, callbacks, blocking lines and request spans around the code in its block.

    ``tracer``: reuse a RequestTracer whose ``config`` is already on the session under test;
    ``trace_new_sessions``: also hand it to every aiohttp session created inside the block
    (for programs that create their own); ``callbacks=False``: lag and watchdog only;
    ``transports=True``: also record connections at the transport level (any asyncio client).
    """

    def __init__(
        self,
        *,
        threshold_s: float = DEFAULT_THRESHOLD_S,
        lag_interval_s: float = DEFAULT_INTERVAL_S,
        tracer: RequestTracer | None = None,
        trace_new_sessions: bool = False,
        callbacks: bool = True,
        transports: bool = False,
    ) -> None:
        self.threshold_s = threshold_s
        self._lag_interval_s = lag_interval_s
        self.lag = LoopLagProbe(lag_interval_s)
        self.requests = tracer or RequestTracer()
        self.callbacks: CallbackProbe | None = None
        self.watchdog: Watchdog | None = None
        self.loop_name = ""
        self.t0 = 0.0
        self.t1 = 0.0
        self.notes: list[str] = []
        self.sessions_traced: int | None = None
        self._want_callbacks = callbacks
        self._want_transports = transports
        self.transports: TransportProbe | None = None
        self._trace_new = trace_new_sessions
        self._exit_stack = contextlib.ExitStack()
        self._slices: list[Slice] | None = None
        self._counter: Any = None

    async def __aenter__(self) -> ProbeSession:
        loop = asyncio.get_running_loop()
        self.loop_name = type(loop).__module__.split(".")[0]  # "asyncio", "uvloop", ...
        try:
            self._start(loop)
        except BaseException:
            self._exit_stack.close()  # undo whatever had started
            raise
        return self

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._slices = None
        self.notes = []
        self.sessions_traced = None
        self._counter = None
        if self.lag.samples:  # entered again: a fresh measurement
            self.lag = LoopLagProbe(self._lag_interval_s)
        stack = self._exit_stack
        if self._trace_new:
            self._counter = stack.enter_context(trace_new_sessions(self.requests))
        if self._want_callbacks and supports_callbacks(loop):
            probe = CallbackProbe(self.threshold_s)
            self.callbacks = probe
            self.watchdog = Watchdog(lambda: probe.running_since, self.threshold_s)
        else:
            self.callbacks = None
            self.watchdog = Watchdog(self._heartbeat_stall, self.threshold_s, loop=loop)
            if self._want_callbacks:
                self.notes.append(
                    f"{type(loop).__module__}.{type(loop).__name__} does not go through "
                    "asyncio's Handle._run: callbacks are not timed one by one; blocking "
                    "periods come from loop-lag gaps and the watchdog's frame samples"
                )
        self.t0 = time.perf_counter()
        self.lag.start()
        self.lag.t0 = self.t0
        stack.callback(self.lag.stop)
        self.requests.reset()
        self.requests.t0 = self.t0
        if self._want_transports:
            self.transports = TransportProbe(self.t0)
            self.transports.install(loop)
            stack.callback(self.transports.uninstall)
        if self.callbacks is not None:
            self.callbacks.install(loop)
            stack.callback(self.callbacks.uninstall)
        self.watchdog.start()
        stack.callback(self.watchdog.stop)

    async def __aexit__(self, *exc: object) -> None:
        self.t1 = time.perf_counter()
        self._exit_stack.close()
        if self._counter is not None:
            self.sessions_traced = self._counter.sessions
        if self.callbacks is not None and self.callbacks.dropped:
            self.notes.append(
                f"{self.callbacks.dropped} callbacks under 1 ms were dropped to bound memory"
            )

    def _heartbeat_stall(self) -> float:
        # The loop owes the lag probe a tick at last_tick + interval; past that it is stuck.
        return self.lag.last_tick + self.lag.interval_s

    @property
    def wall_s(self) -> float:
        """Time the block took (from entry to exit)."""
        return self.t1 - self.t0

    # Reading the results ---------------------------------------------------------------------

    def slices(self) -> list[Slice]:
        """Top-level callbacks in time order; eager first steps nest as their ``children``."""
        if self._slices is None:
            self._slices = self._build_slices()
        return self._slices

    def _build_slices(self) -> list[Slice]:
        probe = self.callbacks
        if probe is None:
            return []
        t0 = self.t0
        flat = [
            Slice(start - t0, end - t0, task, label or "step", clock_start=start)
            for start, end, task, label in probe.finished_records()
            if label not in _PROBE_LABELS  # the probes' own callbacks: instrument, not program
        ]
        probe.name_eager_tasks()
        for start, end, name in probe.eager:
            flat.append(
                Slice(start - t0, end - t0, name, "eager step", eager=True, clock_start=start)
            )
        flat.sort(key=lambda s: (s.start, -s.end))
        top: list[Slice] = []
        stack: list[Slice] = []
        for item in flat:
            while stack and item.start >= stack[-1].end:
                stack.pop()
            (stack[-1].children if stack else top).append(item)
            stack.append(item)
        samples = sorted(self.watchdog.samples if self.watchdog else [], key=lambda s: s.t)
        for item in _walk(top):
            item.self_s = item.duration - sum(c.duration for c in item.children)
            if item.self_s < self.threshold_s:
                continue
            item.blocking = True
            own = [
                s
                for s in samples
                if item.start <= s.t - t0 <= item.end
                and not any(c.start <= s.t - t0 <= c.end for c in item.children)
            ]
            loc = best_location(own, item.clock_start, self.threshold_s)
            if loc is not None:
                item.location, item.located = loc, "sampled"
            elif (loc := probe.suspended_at.get(item.clock_start)) is not None:
                item.location, item.located = loc, "next-await"
        return top

    def blocking(self, limit: int = MAX_BLOCKING) -> list[dict[str, Any]]:
        """Callbacks that held the loop over the threshold, longest first.

        Each: ``duration_ms``, ``task`` (None for a plain callback), ``where`` ("path:line"),
        ``function``, ``start_s``, ``callback``, ``inner`` (a deeper library frame, if any),
        ``stack`` (user frames, innermost first),
        ``located``: "sampled" (the watchdog saw that line running), "next-await" (no sample:
        the callback held the GIL in C code; ``where`` is the await its task stopped at next),
        or None; ``source``: "callback" (timed by Handle._run) or "watchdog" (uvloop: a gap in
        the lag heartbeat, duration approximate).
        """
        if self.callbacks is not None:
            found = [_blocking_record(s) for s in _walk(self.slices()) if s.blocking]
        else:
            found = self._heartbeat_blocking()
        found.sort(key=lambda b: -b["duration_ms"])
        return found[:limit]

    def _heartbeat_blocking(self) -> list[dict[str, Any]]:
        """uvloop: a tick late by over the threshold marks a blocked period; samples name it."""
        samples: list[Sample] = self.watchdog.samples if self.watchdog else []
        out = []
        for t, lag in self.lag.samples:
            if lag < self.threshold_s:
                continue
            due = t - lag
            own = [s for s in samples if due - self.lag.interval_s <= s.t - self.t0 <= t]
            loc = best_location(own, due + self.t0, self.threshold_s)
            tasks = [s.task for s in own if s.task]
            out.append(
                {
                    "start_s": round(due, 6),
                    "duration_ms": round(lag * 1000, 3),
                    "task": max(set(tasks), key=tasks.count) if tasks else None,
                    "callback": None,
                    "where": loc.where if loc else None,
                    "function": loc.function if loc else None,
                    "inner": loc.inner if loc else None,
                    "stack": list(loc.stack) if loc else [],
                    "located": "sampled" if loc else None,
                    "source": "watchdog",
                }
            )
        return out

    def callback_timeline(self, max_entries: int = MAX_TIMELINE) -> list[list[Any]]:
        """``[start_s, dur_s, task or None, blocking]`` per stretch of loop time, for charts.

        Stretches never overlap: a callback that ran an eager first step is split around it.
        Thinned to the ``max_entries`` longest, in time order.
        """
        pieces: list[list[Any]] = []
        for item in self.slices():
            _flatten(item, pieces)
        if len(pieces) > max_entries:
            pieces = sorted(pieces, key=lambda p: -p[1])[:max_entries]
            pieces.sort(key=lambda p: p[0])
        return [[round(s, 6), round(d, 6), task, blocking] for s, d, task, blocking in pieces]

    def request_spans(self) -> list[dict[str, Any]]:
        """One span per HTTP request seen, times in seconds since ``t0``, with phases."""
        return self.requests.finished_spans()

    def callback_count(self, include_lag_ticks: bool = False) -> int:
        """Callbacks of the program timed (including any dropped to bound memory)."""
        if self.callbacks is None:
            return 0
        records = self.callbacks.finished_records()
        total = len(records) + self.callbacks.dropped
        if include_lag_ticks:
            return total
        return total - sum(1 for r in records if r[3] in _PROBE_LABELS)

    def unseen(self) -> list[str]:
        """What the probes could not see in this session, one sentence each."""
        notes = list(self.notes) + (self.transports.unseen() if self.transports else [])
        if self.sessions_traced is not None:
            notes.append(
                f"aiohttp sessions created while tracing got the TraceConfig: "
                f"{self.sessions_traced}. Sessions created before (e.g. at import) and other "
                "HTTP clients (httpx, requests, urllib) are invisible to the request probe"
            )
        return notes


def _walk(slices: list[Slice]):
    for item in slices:
        yield item
        yield from _walk(item.children)


def _flatten(item: Slice, out: list[list[Any]]) -> None:
    cursor = item.start
    for child in item.children:
        if child.start > cursor:
            out.append([cursor, child.start - cursor, item.task, item.blocking])
        _flatten(child, out)
        cursor = child.end
    if item.end > cursor or not item.children:
        out.append([cursor, item.end - cursor, item.task, item.blocking])


def _blocking_record(item: Slice) -> dict[str, Any]:
    loc = item.location
    return {
        "start_s": round(item.start, 6),
        "duration_ms": round(item.self_s * 1000, 3),
        "task": item.task,
        "callback": item.label,
        "where": loc.where if loc else None,
        "function": loc.function if loc else None,
        "inner": loc.inner if loc else None,
        "stack": list(loc.stack) if loc else [],
        "located": item.located,
        "source": "callback",
    }
