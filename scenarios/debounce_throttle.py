"""Debounce and throttle: a burst of keystrokes driving /search

A user types a query one key at a time; every keystroke may trigger a search request. Sent
unchecked, every prefix costs a request; debounced, only the final query is searched; throttled,
at most one request per window goes out, and the last one carries the full query.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from asyncio_perf_lab.scenarios.calibration import Site, loop_clock_step_s
from asyncio_perf_lab.scenarios.core import Context, Machine, Variant

QUESTION = (
    "A search box fires on every keystroke: how many requests does one typed query cost, and "
    "how long until the final answer shows?"
)
LESSON = (
    "Without control, every keystroke starts a request: the server sees one per character and "
    "the client must drop the stale answers. A debounce waits for a pause in typing and sends "
    "one request, paying the pause in latency; a throttle sends at most one per window, "
    "trailing edge included, so the final query always goes out within one window. Timers "
    "(call_later) and cancellation make both a few lines on the event loop."
)
LATENCY = "30ms"
# No headline claim: the lesson is requests per query; the anti-pattern answers soonest.
TEACHES: tuple[str, ...] = ()

QUERY = "grace hopper"
KEY_INTERVAL_MS = 25  # the typist's pace: the scenario's input, not a stand-in for work
DEBOUNCE_MS = 75  # the usual 300 ms, scaled down so one call stays short
THROTTLE_MS = 60


@dataclass(frozen=True)
class Workload:
    query: str = QUERY
    key_interval_ms: float = KEY_INTERVAL_MS
    debounce_ms: float = DEBOUNCE_MS
    throttle_ms: float = THROTTLE_MS


TINY = Workload(query="ada l", key_interval_ms=10, debounce_ms=30, throttle_ms=25)

Search = Callable[[str], Awaitable[Any]]


async def _type(w: Workload, on_key: Callable[[str], None]) -> float:
    """Type ``w.query`` one key per interval, calling ``on_key`` with the text so far.

    Returns the loop time of the last keystroke.
    """
    loop = asyncio.get_running_loop()
    for i in range(len(w.query)):
        if i:
            await asyncio.sleep(w.key_interval_ms / 1000)
        on_key(w.query[: i + 1])
    return loop.time()


def _observe(ctx: Context, requests: int, last_key: float) -> None:
    ctx.observe("requests_sent", requests)
    ctx.observe("final_answer_after_last_key_s", asyncio.get_running_loop().time() - last_key)


async def no_control(ctx: Context) -> Any:
    """Search on every keystroke; the answer to the last request is the one shown."""
    tasks: list[asyncio.Task] = []

    def on_key(text: str) -> None:
        tasks.append(asyncio.create_task(ctx.get_json("/search", q=text)))

    last_key = await _type(ctx.workload, on_key)
    final = await tasks[-1]
    _observe(ctx, len(tasks), last_key)
    await asyncio.gather(*tasks[:-1])  # stale answers: the UI must take care to drop them
    return final


class _Debounce:
    """Calls ``search`` with the latest text once no key came for ``delay_s``."""

    def __init__(self, search: Search, delay_s: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.search = search
        self.delay_s = delay_s
        self.timer: asyncio.TimerHandle | None = None
        self.sent: list[asyncio.Task] = []
        self.idle = asyncio.Event()

    def on_key(self, text: str) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.idle.clear()
        self.timer = self.loop.call_later(self.delay_s, self._fire, text)

    def _fire(self, text: str) -> None:
        self.timer = None
        self.sent.append(asyncio.create_task(self.search(text)))
        self.idle.set()


async def debounce(ctx: Context) -> Any:
    """Search only after the typist paused for DEBOUNCE_MS: one request for the burst."""
    w = ctx.workload
    debouncer = _Debounce(lambda text: ctx.get_json("/search", q=text), w.debounce_ms / 1000)
    last_key = await _type(w, debouncer.on_key)
    await debouncer.idle.wait()
    final = await debouncer.sent[-1]
    _observe(ctx, len(debouncer.sent), last_key)
    await asyncio.gather(*debouncer.sent[:-1])
    return final


class _Throttle:
    """Calls ``search`` at most once per ``window_s``: leading edge, then the latest text."""

    def __init__(self, search: Search, window_s: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.search = search
        self.window_s = window_s
        self.window: asyncio.TimerHandle | None = None
        self.pending: str | None = None
        self.sent: list[asyncio.Task] = []
        self.idle = asyncio.Event()

    def on_key(self, text: str) -> None:
        if self.window is None:
            self._fire(text)
        else:
            self.pending = text
            self.idle.clear()

    def _fire(self, text: str) -> None:
        self.sent.append(asyncio.create_task(self.search(text)))
        self.window = self.loop.call_later(self.window_s, self._window_end)
        self.idle.set()

    def _window_end(self) -> None:
        self.window = None
        if self.pending is not None:
            text, self.pending = self.pending, None
            self._fire(text)

    def close(self) -> None:
        if self.window is not None:
            self.window.cancel()
            self.window = None


async def throttle(ctx: Context) -> Any:
    """Search at most once per THROTTLE_MS; the trailing edge sends the full query."""
    w = ctx.workload
    throttler = _Throttle(lambda text: ctx.get_json("/search", q=text), w.throttle_ms / 1000)
    try:
        last_key = await _type(w, throttler.on_key)
        await throttler.idle.wait()
    finally:
        throttler.close()
    final = await throttler.sent[-1]
    _observe(ctx, len(throttler.sent), last_key)
    await asyncio.gather(*throttler.sent[:-1])
    return final


def calibrate(w: Workload, site: Site) -> dict[str, float]:
    """The run's loop clock step: each timer on the client can fire up to one step early."""
    return {"clock_step": loop_clock_step_s(site)}


def _typing_s(w: Workload, machine: Machine) -> float:
    # One sleep per keystroke after the first: a chain of timers, each up to a clock step early.
    keys = len(w.query) - 1
    return keys * (w.key_interval_ms / 1000 - machine.cpu_s["clock_step"])


def _last_key_then_latency(w: Workload, latency_s: float, machine: Machine) -> float:
    return _typing_s(w, machine) + latency_s


def _pause_then_latency(w: Workload, latency_s: float, machine: Machine) -> float:
    pause_s = w.debounce_ms / 1000 - machine.cpu_s["clock_step"]
    return _typing_s(w, machine) + pause_s + latency_s


def _window_edge_then_latency(w: Workload, latency_s: float, machine: Machine) -> float:
    window_s = w.throttle_ms / 1000
    # The trailing edge fires at the first window boundary at or after the last keystroke: a
    # chain of that many window timers from the first key.
    windows = math.ceil((len(w.query) - 1) * w.key_interval_ms / 1000 / window_s)
    return windows * (window_s - machine.cpu_s["clock_step"]) + latency_s


# No budgets: the anti-pattern answers soonest, and the fixes cost a pause or a window on purpose.
# Their lesson is requests_sent, which wall time cannot show.
VARIANTS = {
    "no_control": Variant(
        no_control,
        label="search on every keystroke",
        why="one request per character; the final answer is quickest but the server pays for all",
        ideal=_last_key_then_latency,
        anti_pattern=True,
    ),
    "debounce": Variant(
        debounce,
        label="debounce (call_later, reset per key)",
        why="one request per burst, sent after the typing pause: latency = pause + request",
        ideal=_pause_then_latency,
    ),
    "throttle": Variant(
        throttle,
        label="throttle (one per window, trailing edge)",
        why="at most one request per window; the trailing edge sends the full query",
        ideal=_window_edge_then_latency,
    ),
}
