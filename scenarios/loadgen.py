"""An open-loop load generator: requests start on a fixed schedule, whatever the server does.

Request ``i`` is *intended* at ``t0 + i / rate``. Its latency is counted from that intended start
to its last byte, so a server (or a client) that stalls shows up as high latency for every
request scheduled during the stall, never as fewer requests sent. That is the difference from a
closed loop ("send the next when the previous answers"), which quietly stops sending while the
server is stuck and so reports the stall as one slow request: coordinated omission.

The generator watches itself too: ``slip`` is how late each request actually started against its
schedule. A client that cannot keep the rate (CPU-starved, or its loop blocked) shows a large slip
instead of silently sending at a lower rate. To keep the slip small the cyclic garbage collector
is paused for the run (and restored after): a full collection of the objects of a thousand
requests stalled the client 25-45 ms at a time on the lab's box. Every run is bounded:
``requests`` in count, and each request is abandoned ``timeout_s`` after its intended start
(counted as an error, its latency the full ``timeout_s``: a lower bound, never left out).

Only aiohttp and the standard library: scenarios import this module; ``benchmarks.loadgen`` wraps
it in a command line.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

START_DELAY_S = 0.005  # the schedule starts just after set-up, so set-up is not charged as slip
DEFAULT_TIMEOUT_S = 10.0
MAX_REQUESTS = 100_000
MAX_RATE = 100_000.0


@dataclass(frozen=True)
class Outcome:
    """One request: when it was meant to start, when it started and ended, and how it went."""

    intended: float  # perf_counter() seconds
    started: float
    finished: float
    status: int | None  # HTTP status, None when no response came
    error: str | None  # None for a 2xx answer; else "http 503", "timeout", "ClientOSError", ...

    @property
    def latency(self) -> float:
        """Seconds from the intended start to the end: what a user of the schedule waited."""
        return self.finished - self.intended

    @property
    def slip(self) -> float:
        """Seconds the generator started this request after its intended start."""
        return max(0.0, self.started - self.intended)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1), linear between closest ranks (the lab's rule); 0.0 for no data."""
    if not values:
        return 0.0
    if len(values) == 1:
        return float(values[0])
    # "inclusive" is the linear interpolation between closest ranks that reports.stats uses.
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


@dataclass
class LoadResult:
    """Everything one open-loop run measured; ``summary()`` is the flat figures to report."""

    requests: int
    rate: float
    t0: float
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def sent(self) -> int:
        """Requests actually started (all of them, unless the run itself was cancelled)."""
        return len(self.outcomes)

    @property
    def ok(self) -> int:
        """Requests answered with a 2xx status in time."""
        return sum(o.error is None for o in self.outcomes)

    @property
    def errors(self) -> int:
        """Requests that failed, got a non-2xx answer or were abandoned at their timeout."""
        return self.sent - self.ok

    @property
    def error_kinds(self) -> dict[str, int]:
        """Errors by kind, most frequent first."""
        return dict(Counter(o.error for o in self.outcomes if o.error).most_common())

    @property
    def duration_s(self) -> float:
        """From the first intended start to the last request's end."""
        return max((o.finished for o in self.outcomes), default=self.t0) - self.t0

    def latencies(self) -> list[float]:
        """Every request's latency from its intended start, failed and abandoned ones included."""
        return [o.latency for o in self.outcomes]

    def slips(self) -> list[float]:
        """Every request's start slip against the schedule."""
        return [o.slip for o in self.outcomes]

    def summary(self) -> dict[str, float]:
        """Throughput, latency percentiles, errors and the generator's own slip (ms, req/s)."""
        latencies, slips = self.latencies(), self.slips()
        duration = self.duration_s
        return {
            "sent": self.sent,
            "ok": self.ok,
            "errors": self.errors,
            "throughput_rps": self.ok / duration if duration > 0 else 0.0,
            "p50_ms": percentile(latencies, 0.50) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
            "max_ms": max(latencies, default=0.0) * 1000,
            "slip_p99_ms": percentile(slips, 0.99) * 1000,
            "slip_max_ms": max(slips, default=0.0) * 1000,
            "schedule_s": (self.requests - 1) / self.rate if self.requests else 0.0,
            "duration_s": duration,
        }


async def _request(
    session: aiohttp.ClientSession, url: str, intended: float, timeout_s: float
) -> Outcome:
    """Send one GET, read the whole body, and time it against its intended start."""
    started = time.perf_counter()
    status: int | None = None
    error: str | None = None
    try:
        # The bound runs from the intended start: a request the client started late has less.
        async with asyncio.timeout(max(0.0, intended + timeout_s - started)):
            async with session.get(url) as resp:
                status = resp.status
                await resp.read()
        if not 200 <= status < 300:
            error = f"http {status}"
    except TimeoutError:
        error = "timeout"
    except aiohttp.ClientError as exc:
        error = type(exc).__name__
    finished = time.perf_counter()
    if error == "timeout":
        finished = max(finished, intended + timeout_s)
    return Outcome(intended, started, finished, status, error)


async def open_loop(
    session: aiohttp.ClientSession,
    url: str | Callable[[int], str],
    *,
    requests: int,
    rate: float,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> LoadResult:
    """GET ``url`` (or ``url(i)``) ``requests`` times, request ``i`` intended at t0 + i/rate.

    Bounded in count (``requests``) and time (each request at most ``timeout_s`` past its
    intended start, so the run ends by ``(requests - 1) / rate + timeout_s``).
    """
    if not 1 <= requests <= MAX_REQUESTS:
        raise ValueError(f"requests {requests} is outside 1..{MAX_REQUESTS}")
    if not 0 < rate <= MAX_RATE:
        raise ValueError(f"rate {rate:g} is outside (0, {MAX_RATE:g}] requests per second")
    if not timeout_s > 0:
        raise ValueError(f"timeout_s {timeout_s:g} must be above 0")
    url_of = url if callable(url) else (lambda i: url)
    urls = [url_of(i) for i in range(requests)]  # built before t0: not charged to the schedule
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter() + START_DELAY_S
    result = LoadResult(requests=requests, rate=rate, t0=t0)
    tasks: list[asyncio.Task[Outcome]] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        i = 0
        while i < requests:
            now = time.perf_counter()
            # Start every request that is due; if the client fell behind it catches up at once
            # (and the lateness is recorded as slip) instead of stretching the schedule.
            while i < requests and t0 + i / rate <= now:
                tasks.append(loop.create_task(_request(session, urls[i], t0 + i / rate, timeout_s)))
                i += 1
            if i < requests:
                await asyncio.sleep(t0 + i / rate - time.perf_counter())
        result.outcomes = list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
        if gc_was_enabled:
            gc.enable()
    return result


def describe(summary: dict[str, Any]) -> str:
    """One line for humans: what was sent, what came back, how fast, how late."""
    return (
        f"sent {summary['sent']:.0f}, ok {summary['ok']:.0f}, errors {summary['errors']:.0f}; "
        f"{summary['throughput_rps']:.0f} req/s; latency p50 {summary['p50_ms']:.1f} ms, "
        f"p99 {summary['p99_ms']:.1f} ms, max {summary['max_ms']:.1f} ms; "
        f"client slip p99 {summary['slip_p99_ms']:.1f} ms, max {summary['slip_max_ms']:.1f} ms"
    )
