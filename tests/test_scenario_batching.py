"""The batch endpoint needs a handful of requests where the other variants need one per user."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks.context import open_context
from asyncio_perf_lab.mockserver import MockServer

SCENARIO = scenarios.load("batching")
WORKLOAD = SCENARIO.workload
# K requests are all in flight only if the client can send K within one latency. At the
# scenario's 3 ms a busy 2-core client sent 16 of 20 before the first answer came back, so the
# concurrency checks run at 30 ms (200 sequential round trips: 6 s).
LATENCY = "30ms"


@pytest.fixture(name="stats", scope="module")
def _stats(server: MockServer) -> dict[str, dict[str, Any]]:
    """Each variant run once with the default workload at LATENCY, and the server's stats."""

    async def run_all() -> dict[str, dict[str, Any]]:
        stats = {}
        async with open_context(server.url, LATENCY, WORKLOAD) as ctx:
            for name, variant in SCENARIO.variants.items():
                await asyncio.to_thread(server.reset_stats)
                users = await variant.run(ctx)
                assert [user["id"] for user in users] == list(range(1, WORKLOAD.users + 1))
                stats[name] = await asyncio.to_thread(server.stats)
        return stats

    return asyncio.run(run_all())


def test_batch_endpoint_sends_far_fewer_requests(stats: dict[str, dict[str, Any]]) -> None:
    """The batch endpoint sends ceil(N/batch) requests; every other variant sends one per user."""
    assert stats["batch_endpoint"]["total_requests"] == math.ceil(
        WORKLOAD.users / WORKLOAD.batch_size
    )
    for name in ("sequential", "chunked_gather", "bounded"):
        assert stats[name]["total_requests"] == WORKLOAD.users, name
        assert stats[name]["total_requests"] >= 10 * stats["batch_endpoint"]["total_requests"]


def test_concurrency_is_what_each_variant_promises(stats: dict[str, dict[str, Any]]) -> None:
    """Sequential keeps one request in flight, chunks and the Semaphore keep K, batches all."""
    assert stats["sequential"]["max_in_flight"] == 1
    assert stats["chunked_gather"]["max_in_flight"] == WORKLOAD.concurrency
    assert stats["bounded"]["max_in_flight"] == WORKLOAD.concurrency
    assert stats["batch_endpoint"]["max_in_flight"] == stats["batch_endpoint"]["total_requests"]
