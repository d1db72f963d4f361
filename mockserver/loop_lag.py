"""The server's own event-loop lag: a cheap timer chain that shows when a handler blocks the loop.

Every ``interval_s`` a tick is due; how late it actually runs is the loop's lag at that moment. A
handler that calls ``time.sleep`` or burns CPU on the loop holds every tick back, so the lag
equals the stall. The chain runs only in a stats window opened with ``POST
/stats/reset?loop_lag=1``: each tick is cheap, but a timer always armed made every loop turn of a
busy server do a little more, measurable in ``make bench-server``. The lags
since the reset are kept (bounded) and summarised on demand in ``GET /stats?loop_lag=1``.

The chain pauses while any request sleeps for injected latency (``hold``/``release``): a tick
waking the loop mid-sleep leaves the last epoll wait before the deadline a fraction of a
millisecond, which epoll rounds up, so every injected delay would come out ~0.5 ms late on average
(and the 50 ms +1.5 ms p99 bound of the tests fails). A loop that only sleeps has no lag to show.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import deque
from typing import Any

INTERVAL_S = 0.005
MAX_SAMPLES = 60_000  # 5 minutes of ticks; older ones drop out of the percentiles, not the max


class LoopLagSampler:
    """Samples the running loop's lag every ``interval_s`` between ``start()`` and ``stop()``."""

    def __init__(self, interval_s: float = INTERVAL_S, max_samples: int = MAX_SAMPLES) -> None:
        self.interval_s = interval_s
        self.lags: deque[float] = deque(maxlen=max_samples)  # seconds
        self.max_s = 0.0
        self.ticks = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0
        self._running = False
        self._holds = 0

    def start(self) -> None:
        """Begin the timer chain on the running loop (idempotent)."""
        if self._running:
            return
        self._loop = asyncio.get_running_loop()
        self._running = True
        if not self._holds:
            self._arm()

    def stop(self) -> None:
        """End the timer chain; the samples stay readable."""
        self._running = False
        self._disarm()

    def hold(self) -> None:
        """Pause the chain while a request sleeps for injected latency (see the module doc)."""
        self._holds += 1
        if self._holds == 1:
            self._disarm()

    def release(self) -> None:
        """End one ``hold``; the chain resumes, from now, once no request sleeps any more."""
        self._holds -= 1
        if self._holds == 0 and self._running:
            self._arm()

    def _arm(self) -> None:
        assert self._loop is not None
        self._due = self._loop.time() + self.interval_s
        self._handle = self._loop.call_at(self._due, self._tick)

    def _disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        lag = now - self._due
        if lag < 0.0:
            lag = 0.0
        self.lags.append(lag)
        self.ticks += 1
        if lag > self.max_s:
            self.max_s = lag
        self._due = now + self.interval_s
        self._handle = self._loop.call_at(self._due, self._tick)

    def reset(self) -> None:
        """Start a new window: forget the lags seen so far."""
        self.lags.clear()
        self.max_s = 0.0
        self.ticks = 0

    def summary(self) -> dict[str, Any]:
        """Lag percentiles (linear between closest ranks), max and counts, in ms."""
        lags_ms = [lag * 1000 for lag in self.lags]
        return {
            "sampling": self._running,
            "interval_ms": self.interval_s * 1000,
            "samples": self.ticks,
            "p50_ms": round(_quantile(lags_ms, 0.50), 3),
            "p99_ms": round(_quantile(lags_ms, 0.99), 3),
            "max_ms": round(self.max_s * 1000, 3),
            "over_10ms": sum(lag >= 10 for lag in lags_ms),
            "over_100ms": sum(lag >= 100 for lag in lags_ms),
        }


def _quantile(values: list[float], q: float) -> float:
    # statistics' "inclusive" method is the lab's rule (reports.stats), which this layer
    # cannot import: the mock server depends on aiohttp and the standard library only.
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]
