"""Timeouts turn a hang into a bounded failure; retries with backoff turn it into the answer."""

from __future__ import annotations

import asyncio
import importlib.util
import time
from typing import Any

import pytest

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks.context import open_context
from asyncio_perf_lab.mockserver import MockServer
from asyncio_perf_lab.scenarios import timeouts
from asyncio_perf_lab.scenarios.calibration import Site

SCENARIO = scenarios.load("timeouts")


async def run_timed(server: MockServer, name: str) -> tuple[float, Any, dict[str, float]]:
    """Run one variant with the TINY workload: (seconds, result, observations)."""
    async with open_context(server.url, SCENARIO.latency, SCENARIO.tiny) as ctx:
        start = time.perf_counter()
        result = await SCENARIO.variants[name].run(ctx)
        return time.perf_counter() - start, result, dict(ctx.observations)


@pytest.mark.asyncio
async def test_no_timeout_would_hang_and_only_the_guard_ends_it(server: MockServer) -> None:
    """Without a timeout the hung request never answers: the variant ends at its guard."""
    elapsed, result, observed = await run_timed(server, "no_timeout")
    assert result == {"user": None, "attempts": 1, "outcome": "would hang"}
    assert observed["would_hang"] == 1
    guard_s = SCENARIO.tiny.guard_ms / 1000
    assert 0.95 < elapsed / guard_s < 2.0


@pytest.mark.asyncio
async def test_a_timeout_turns_the_hang_into_a_fast_failure(server: MockServer) -> None:
    """asyncio.timeout gives up after TIMEOUT_MS, well before the no-timeout guard (ideal 3.75x)."""
    hang_s, _, _ = await run_timed(server, "no_timeout")
    timeout_s, result, _ = await run_timed(server, "timeout_no_retry")
    assert result == {"user": None, "attempts": 1, "outcome": "timed out"}
    assert hang_s / timeout_s > 2.0


@pytest.mark.asyncio
async def test_the_hung_request_is_abandoned_on_the_server(server: MockServer) -> None:
    """When the timeout fires, the client drops the connection and the server's hang ends."""
    async with open_context(server.url, SCENARIO.latency, SCENARIO.tiny) as ctx:
        await SCENARIO.variants["timeout_no_retry"].run(ctx)
        # Still inside the session: only the timeout's cancellation can have ended the request.
        deadline = time.monotonic() + 0.5
        while (in_flight := (await asyncio.to_thread(server.stats))["in_flight"]) and (
            time.monotonic() < deadline
        ):
            await asyncio.sleep(0.01)
    assert in_flight == 0


@pytest.mark.asyncio
async def test_retrying_variants_get_the_user_on_the_fourth_attempt(server: MockServer) -> None:
    """wait_for and asyncio.timeout, each with backoff, get past hang, 500 and 429 to the user."""
    await asyncio.to_thread(server.reset_stats)
    _, by_wait_for, observed = await run_timed(server, "wait_for_retry")
    _, by_timeout, _ = await run_timed(server, "timeout_retry")
    assert by_wait_for == by_timeout
    assert by_timeout["user"]["id"] == SCENARIO.tiny.user_id
    assert by_timeout["attempts"] == len(timeouts.SCRIPT) + 1
    assert (await asyncio.to_thread(server.stats))["total_requests"] == 2 * (
        len(timeouts.SCRIPT) + 1
    )
    w = SCENARIO.tiny
    backoffs = sum(w.backoff_ms / 1000 * 2**i for i in range(len(timeouts.SCRIPT)))
    assert observed["backoff_s"] == pytest.approx(backoffs)


@pytest.mark.asyncio
async def test_429_carries_retry_after_into_the_retry_policy(server: MockServer) -> None:
    """The rate-limited attempt raises RateLimited with the server's Retry-After seconds."""
    async with open_context(server.url, SCENARIO.latency, SCENARIO.tiny) as ctx:
        ratelimited = next(i for i, f in enumerate(timeouts.SCRIPT) if "ratelimit" in f)
        with pytest.raises(timeouts.RateLimited) as caught:
            await timeouts._attempt(ctx, ratelimited)
    assert caught.value.retry_after_s == timeouts.SCRIPT[ratelimited]["ratelimit"]


@pytest.mark.parametrize("clock_step", [0.0, 0.001])
def test_retry_ideal_adds_timeout_backoffs_and_one_latency_per_retry(clock_step: float) -> None:
    """The retry ideal is the first attempt's timeout, the doubling backoffs and three latencies,
    less one loop clock step for each of its four client timers (uvloop's clock is in ms)."""
    w = SCENARIO.workload
    machine = scenarios.Machine(cpu_s={"clock_step": clock_step})
    ideal = SCENARIO.variants["timeout_retry"].ideal(w, 0.02, machine)
    assert ideal == pytest.approx(0.1 + (0.01 + 0.02 + 0.04) + 3 * 0.02 - 4 * clock_step)


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop not installed")
def test_the_clock_step_is_the_run_loops_own() -> None:
    """uvloop's loop clock moves in 1 ms steps (libuv's cached milliseconds), the standard loop's
    far finer: the ideal gives back what the run's own loop lets a timer fire early."""
    import uvloop

    on_uvloop = SCENARIO.measure_machine(SCENARIO.tiny, Site(new_loop=uvloop.new_event_loop))
    assert on_uvloop["clock_step"] == pytest.approx(0.001, rel=0.01)
    assert SCENARIO.measure_machine(SCENARIO.tiny, Site())["clock_step"] < 0.0005
