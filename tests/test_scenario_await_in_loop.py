"""The server sees exactly the concurrency each await_in_loop variant promises."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks.context import open_context
from asyncio_perf_lab.mockserver import MockServer

SCENARIO = scenarios.load("await_in_loop")
WORKLOAD = dataclasses.replace(SCENARIO.workload, items=8, limit=3)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("variant", "in_flight"),
    [
        ("for_loop", 1),
        ("gather", WORKLOAD.items),
        ("bounded", WORKLOAD.limit),
        ("as_completed", WORKLOAD.items),
    ],
)
async def test_server_max_in_flight_matches_the_variant(
    server: MockServer, variant: str, in_flight: int
) -> None:
    """The for loop sends one request at a time, gather all N, the Semaphore exactly K."""
    async with open_context(server.url, SCENARIO.latency, WORKLOAD) as ctx:
        await asyncio.to_thread(server.reset_stats)
        await SCENARIO.variants[variant].run(ctx)
        stats = await asyncio.to_thread(server.stats)
    assert stats["max_in_flight"] == in_flight
    assert stats["total_requests"] == WORKLOAD.items


@pytest.mark.asyncio
async def test_as_completed_returns_users_in_input_order(server: MockServer) -> None:
    """Under latencies that reorder completions, as_completed still returns users in id order."""
    async with open_context(server.url, "uniform:5ms..60ms", WORKLOAD) as ctx:
        users = await SCENARIO.variants["as_completed"].run(ctx)
    assert [user["id"] for user in users] == list(range(1, WORKLOAD.items + 1))
