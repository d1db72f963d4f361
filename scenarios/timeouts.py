"""Timeouts and retries: a hanging request, a 500 and a 429 before the answer

A flaky API misbehaves in a fixed order: the first attempt hangs (never answers), the second gets
a 500, the third a 429 with Retry-After, the fourth the user. Without a timeout the caller waits
forever on the first attempt; with one but no retry it gives up; with a timeout per attempt and a
backoff between attempts it gets the user.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from asyncio_perf_lab.scenarios.calibration import Site, loop_clock_step_s
from asyncio_perf_lab.scenarios.core import Context, Machine, Variant

QUESTION = (
    "The first request hangs, the next two fail: how long does the caller wait without a "
    "timeout, and what does a timeout with retries cost instead?"
)
LESSON = (
    "An await has no deadline of its own: a peer that never answers holds the coroutine (and "
    "its connection) until something cancels it. asyncio.timeout() / wait_for() cancel the "
    "attempt at the deadline and raise TimeoutError; that alone turns a hang into a fast "
    "failure. Retrying with exponential backoff, honouring Retry-After on 429, turns the same "
    "flaky API into an answer, at a bounded and predictable cost."
)
LATENCY = "10ms"

USER_ID = 1
TIMEOUT_MS = 100  # per attempt: ten times the healthy latency
BACKOFF_MS = 10  # first pause between attempts; doubles each retry
MAX_ATTEMPTS = 5
# Stands in for "forever" in the no-timeout variant, so the benchmark ends; over twice what the
# retries cost (100 + 10 + 20 + 40 + 3 x 10 = 200 ms), so a budget can tell them from the hang.
# (It was 20 ms latency, 200 ms timeout, 25 ms backoff, 1 s guard: the same ratios, which are
# the lesson, for about half the wall time of a run.)
GUARD_MS = 500

# What the flaky API does on each attempt (query controls of the mock server); then it answers.
SCRIPT: tuple[dict[str, Any], ...] = (
    {"hang": 1},  # never answers
    {"fail": 1},  # 500
    {"ratelimit": 0},  # 429, Retry-After: 0 (seconds; the mock's unit), so backoff decides
)


@dataclass(frozen=True)
class Workload:
    user_id: int = USER_ID
    timeout_ms: float = TIMEOUT_MS
    backoff_ms: float = BACKOFF_MS
    max_attempts: int = MAX_ATTEMPTS
    guard_ms: float = GUARD_MS


TINY = Workload(timeout_ms=40, backoff_ms=5, guard_ms=150)


class RateLimited(Exception):
    """The API answered 429; ``retry_after_s`` is how long it asked us to wait."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"429 Too Many Requests, Retry-After {retry_after_s:g}s")
        self.retry_after_s = retry_after_s


async def _attempt(ctx: Context, attempt: int) -> Any:
    """One try at the user; the flaky API's SCRIPT decides how this attempt goes."""
    faults = SCRIPT[attempt] if attempt < len(SCRIPT) else {}
    url = ctx.url(f"/users/{ctx.workload.user_id}", attempt=attempt, **faults)
    async with ctx.session.get(url) as resp:
        if resp.status == 429:
            raise RateLimited(float(resp.headers.get("Retry-After", "0")))
        resp.raise_for_status()
        return await resp.json()


def _outcome(user: Any, attempts: int, outcome: str) -> dict:
    return {"user": user, "attempts": attempts, "outcome": outcome}


async def _held_at_server(ctx: Context) -> int:
    """How many requests the mock server holds unanswered right now (its in-flight count)."""
    async with ctx.session.get(f"{ctx.base_url}/stats") as resp:
        resp.raise_for_status()
        return (await resp.json())["in_flight"]


async def no_timeout(ctx: Context) -> dict:
    """Await the hanging request with no deadline (an outer guard ends what would be forever)."""
    attempt = asyncio.create_task(_attempt(ctx, 0))
    # The guard is not part of the pattern: without it this await never returns (or waits out
    # aiohttp's 5-minute default). It ends the variant so the benchmark stays bounded.
    done, _ = await asyncio.wait({attempt}, timeout=ctx.workload.guard_ms / 1000)
    if attempt in done:
        return _outcome(attempt.result(), 1, "answered")
    # Counted before the guard cancels: what the server still holds is what would hang forever.
    ctx.observe("would_hang", await _held_at_server(ctx))
    attempt.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await attempt
    return _outcome(None, 1, "would hang")


async def timeout_no_retry(ctx: Context) -> dict:
    """asyncio.timeout on the one attempt: the hang becomes a fast TimeoutError, and no user."""
    try:
        async with asyncio.timeout(ctx.workload.timeout_ms / 1000):
            user = await _attempt(ctx, 0)
    except TimeoutError:
        return _outcome(None, 1, "timed out")
    return _outcome(user, 1, "answered")


RETRYABLE = (TimeoutError, RateLimited, aiohttp.ClientResponseError, aiohttp.ClientConnectionError)


Deadline = Callable[[Awaitable[Any], float], Awaitable[Any]]


async def _with_retries(ctx: Context, deadline_of: Deadline) -> dict:
    """Attempt until the user arrives: backoff doubles per retry, Retry-After is honoured."""
    w = ctx.workload
    waited = 0.0
    for attempt in range(w.max_attempts):
        try:
            user = await deadline_of(_attempt(ctx, attempt), w.timeout_ms / 1000)
        except RETRYABLE as exc:
            if attempt + 1 == w.max_attempts:
                raise
            pause = w.backoff_ms / 1000 * 2**attempt
            if isinstance(exc, RateLimited):
                pause = max(pause, exc.retry_after_s)
            waited += pause
            await asyncio.sleep(pause)  # the retry policy's pause, not a stand-in for work
            continue
        ctx.observe("backoff_s", waited)
        return _outcome(user, attempt + 1, "answered")
    raise AssertionError("unreachable: the last attempt returns or raises")


async def _under_timeout_cm(coro: Awaitable[Any], timeout_s: float) -> Any:
    async with asyncio.timeout(timeout_s):
        return await coro


async def wait_for_retry(ctx: Context) -> dict:
    """asyncio.wait_for per attempt, retried with exponential backoff."""
    return await _with_retries(ctx, asyncio.wait_for)


async def timeout_retry(ctx: Context) -> dict:
    """async with asyncio.timeout per attempt, retried with exponential backoff."""
    return await _with_retries(ctx, _under_timeout_cm)


def calibrate(w: Workload, site: Site) -> dict[str, float]:
    """The run's loop clock step: each timer on the client can fire up to one step early."""
    return {"clock_step": loop_clock_step_s(site)}


def _guard(w: Workload, latency_s: float, machine: Machine) -> float:
    return w.guard_ms / 1000 - machine.cpu_s["clock_step"]


def _one_timeout(w: Workload, latency_s: float, machine: Machine) -> float:
    return w.timeout_ms / 1000 - machine.cpu_s["clock_step"]


def _timeout_backoffs_and_retries(w: Workload, latency_s: float, machine: Machine) -> float:
    # Attempt 0 times out; each later attempt costs one latency; a backoff precedes each retry.
    # The timeout and each backoff are client timers: each may fire one clock step early.
    retries = len(SCRIPT)
    backoffs = sum(w.backoff_ms / 1000 * 2**i for i in range(retries))
    timers = 1 + retries
    return (
        w.timeout_ms / 1000 + backoffs + retries * latency_s - timers * machine.cpu_s["clock_step"]
    )


VARIANTS = {
    "no_timeout": Variant(
        no_timeout,
        label="no timeout",
        why=(
            "the hung request would hold the caller forever; a GUARD_MS outer guard (not part "
            "of the pattern) ends it and records would_hang"
        ),
        ideal=_guard,
        anti_pattern=True,
    ),
    "timeout_no_retry": Variant(
        timeout_no_retry,
        label="asyncio.timeout, no retry",
        why="the hang becomes a TimeoutError after TIMEOUT_MS, but the caller gets no user",
        ideal=_one_timeout,
        anti_pattern=True,
        budget=1.3,  # without its timeout the attempt hangs: the guard's 500 ms, 5x at the defaults
        regression="no_timeout",
    ),
    "wait_for_retry": Variant(
        wait_for_retry,
        label="wait_for + retry with backoff",
        why="each attempt has a deadline; 500 and 429 are retried after a doubling backoff",
        ideal=_timeout_backoffs_and_retries,
        budget=1.3,  # without the deadline the first attempt hangs: over 2x at the defaults
        regression="no_timeout",
    ),
    "timeout_retry": Variant(
        timeout_retry,
        label="asyncio.timeout + retry with backoff",
        why="same policy with the 3.11 timeout context manager (no extra task per attempt)",
        ideal=_timeout_backoffs_and_retries,
        budget=1.3,
        regression="no_timeout",
    ),
}

# The variants without retries cannot return the user (one would hang, one gives up): each
# returns what its caller would see. The two retrying variants return equal results.
EQUAL_RESULTS = False
