"""Loop-lag probe: a timer chain that measures how late the event loop wakes it up.

Each tick schedules the next with ``call_at``; the lag is how far past its due time a tick runs.
A callback that hogs the loop shows up as one long lag. Works on any loop (asyncio, uvloop).
``last_tick`` doubles as the loop's heartbeat: the watchdog reads it to tell a stalled loop on
uvloop, where callbacks cannot be timed one by one.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from asyncio_perf_lab.reports.stats import quantile

DEFAULT_INTERVAL_S = 0.001


class LoopLagProbe:
    """Samples loop lag every ``interval_s`` while active (``async with`` or start/stop)."""

    def __init__(self, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.samples: list[tuple[float, float]] = []  # (t since t0 in s, lag in s)
        self.t0 = 0.0  # perf_counter() origin of the sample times
        self.last_tick = 0.0  # perf_counter() of the newest tick: the heartbeat
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._due = 0.0

    def start(self) -> None:
        """Begin sampling on the running loop."""
        self._loop = asyncio.get_running_loop()
        self.t0 = self.last_tick = time.perf_counter()
        self._due = self._loop.time() + self.interval_s
        self._handle = self._loop.call_at(self._due, self._tick)

    def stop(self) -> None:
        """Stop sampling; the samples stay readable."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
            # A tick already due but not yet run still counts: the loop may be stuck in the
            # very step that stops the probe, and that stall would otherwise be lost.
            assert self._loop is not None
            now = self._loop.time()
            if now > self._due:
                self.last_tick = time.perf_counter()
                self.samples.append((self.last_tick - self.t0, now - self._due))

    def _tick(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        self.last_tick = time.perf_counter()
        self.samples.append((self.last_tick - self.t0, max(0.0, now - self._due)))
        self._due = now + self.interval_s
        self._handle = self._loop.call_at(self._due, self._tick)

    async def __aenter__(self) -> LoopLagProbe:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    def summary(self, max_series: int = 2000) -> dict[str, Any]:
        """Lag percentiles and counts in ms, plus a (thinned) time series for charts."""
        lags_ms = [lag * 1000 for _, lag in self.samples]
        series = [[round(t, 6), round(lag * 1000, 3)] for t, lag in self.samples]
        if len(series) > max_series:
            # Keep the worst sample of each bucket so spikes survive thinning.
            step = len(series) / max_series
            series = [
                max(series[int(i * step) : int((i + 1) * step)], key=lambda s: s[1])
                for i in range(max_series)
            ]
        return {
            "interval_ms": self.interval_s * 1000,
            "samples": len(lags_ms),
            "p50_ms": quantile(lags_ms, 0.50),
            "p99_ms": quantile(lags_ms, 0.99),
            "max_ms": max(lags_ms, default=0.0),
            "over_10ms": sum(lag >= 10 for lag in lags_ms),
            "over_100ms": sum(lag >= 100 for lag in lags_ms),
            "series": series,
        }
