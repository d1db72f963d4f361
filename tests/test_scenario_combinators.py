"""The combinators settle at different moments with different outcomes, and race cancels losers."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import pytest

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks.context import open_context
from asyncio_perf_lab.mockserver import MockServer

SCENARIO = scenarios.load("combinators")
DISCONNECT_POLL_S = 0.5  # how long the server may take to notice the cancelled requests


async def in_flight_after(server: MockServer, within_s: float) -> int:
    """The server's in-flight count, polled until it is 0 or ``within_s`` has passed."""
    deadline = time.monotonic() + within_s
    while True:
        in_flight = (await asyncio.to_thread(server.stats))["in_flight"]
        if in_flight == 0 or time.monotonic() >= deadline:
            return in_flight
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_race_cancels_the_losers(server: MockServer) -> None:
    """The race leaves both losers running when it settles; after its clean-up they are gone:
    server in-flight drops to 0."""
    # Healthy replicas far slower than the poll: only cancellation can empty the server in time.
    workload = dataclasses.replace(SCENARIO.workload, fast_ms=3000, slow_ms=5000)
    async with open_context(server.url, SCENARIO.latency, workload) as ctx:
        await asyncio.to_thread(server.reset_stats)
        outcome = await SCENARIO.variants["race"].run(ctx)
        assert await in_flight_after(server, DISCONNECT_POLL_S) == 0
        stats = await asyncio.to_thread(server.stats)
    assert outcome == {"user": None, "answered_by": None, "failures_seen": ["broken"]}
    assert stats["max_in_flight"] == 3, "all three replicas were asked at once"
    assert ctx.observations["left_running"] == 2, "read when wait() returned, before the cancel"


@pytest.mark.asyncio
async def test_first_success_skips_the_failure_and_cancels_the_slow_replica(
    server: MockServer,
) -> None:
    """Promise.any answers from the fast replica, and the slow one is cancelled at once."""
    workload = dataclasses.replace(SCENARIO.workload, slow_ms=5000)
    async with open_context(server.url, SCENARIO.latency, workload) as ctx:
        outcome = await SCENARIO.variants["first_success"].run(ctx)
        assert await in_flight_after(server, DISCONNECT_POLL_S) == 0
    assert outcome["answered_by"] == "fast"
    assert outcome["user"]["id"] == SCENARIO.workload.user_id
    assert outcome["failures_seen"] == ["broken"]
    assert ctx.observations["left_running"] == 1, "the slow replica, until it was cancelled"


@pytest.mark.asyncio
async def test_settled_leaves_nothing_running(server: MockServer) -> None:
    """allSettled returns only once every replica has answered: nothing is left running."""
    async with open_context(server.url, SCENARIO.latency, SCENARIO.tiny) as ctx:
        await SCENARIO.variants["gather_settled"].run(ctx)
        assert (await asyncio.to_thread(server.stats))["in_flight"] == 0
    assert ctx.observations["left_running"] == 0


@pytest.mark.asyncio
async def test_gather_fails_fast_but_leaves_its_siblings_running(server: MockServer) -> None:
    """gather raises with the 503 at once while the two healthy requests are still running."""
    async with open_context(server.url, SCENARIO.latency, SCENARIO.tiny) as ctx:
        outcome = await SCENARIO.variants["gather_all"].run(ctx)
    assert outcome == {"user": None, "answered_by": None, "failures_seen": ["broken"]}
    assert ctx.observations["left_running"] == 2


async def timed(server: MockServer, name: str) -> tuple[float, Any]:
    async with open_context(server.url, SCENARIO.latency, SCENARIO.workload) as ctx:
        start = time.perf_counter()
        result = await SCENARIO.variants[name].run(ctx)
        return time.perf_counter() - start, result


@pytest.mark.asyncio
async def test_settled_waits_for_the_slowest_and_any_for_the_fastest(server: MockServer) -> None:
    """allSettled costs the slowest replica, any the fastest healthy one (ideal ratio 5)."""
    settled_s, settled = await timed(server, "gather_settled")
    any_s, first = await timed(server, "first_success")
    assert settled_s / any_s > 2  # margin for a loaded machine
    assert settled["user"] == first["user"]
    assert settled["failures_seen"] == ["broken"]
    w = SCENARIO.workload
    assert settled_s / (w.slow_ms / 1000) > 0.95, "cannot settle before the slowest replica"
