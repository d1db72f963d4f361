"""The connector limit caps concurrency at 100 unless tuned; one session reuses its connections."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import time
from typing import Any

import aiohttp
import pytest

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks.context import open_context
from asyncio_perf_lab.mockserver import MockServer, parse_latency
from asyncio_perf_lab.scenarios import connections

SCENARIO = scenarios.load("connections")
# Long enough that the client has sent all 1000 requests before the first one is answered.
CONCURRENCY_PROOF_LATENCY = "600ms"


async def measure(
    server: MockServer, name: str, latency: str, workload: Any, warm: bool = False
) -> dict[str, Any]:
    """Run one variant (after one untimed call if ``warm``): seconds, server stats, result size."""
    async with open_context(server.url, latency, workload) as ctx:
        if warm:  # as in the benchmark's workers: the shared session's pool is already filled
            await SCENARIO.variants[name].run(ctx)
        await asyncio.to_thread(server.reset_stats)
        start = time.perf_counter()
        result = await SCENARIO.variants[name].run(ctx)
        elapsed = time.perf_counter() - start
    stats = await asyncio.to_thread(server.stats)
    return {"s": elapsed, "max_in_flight": stats["max_in_flight"], "n": len(result), **stats}


@pytest.fixture(name="default_limit_run", scope="module")
def _default_limit_run(server: MockServer) -> dict[str, Any]:
    return asyncio.run(measure(server, "default_limit", SCENARIO.latency, SCENARIO.workload))


def test_default_limit_caps_the_server_at_100_in_flight(default_limit_run: dict) -> None:
    """With aiohttp's default connector, 1000 concurrent requests reach the server 100 at a time."""
    assert SCENARIO.workload.requests == 1000
    assert default_limit_run["total_requests"] == default_limit_run["n"] == 1000
    assert default_limit_run["max_in_flight"] == connections.AIOHTTP_DEFAULT_LIMIT == 100


@pytest.mark.asyncio
async def test_tuned_shared_session_has_all_1000_in_flight(server: MockServer) -> None:
    """The shared session (limit 1000) puts all 1000 requests in flight at the server at once."""
    run = await measure(server, "shared_session", CONCURRENCY_PROOF_LATENCY, SCENARIO.workload)
    assert run["total_requests"] == run["n"] == 1000
    assert run["max_in_flight"] == 1000


@pytest.mark.asyncio
async def test_default_limit_pays_ten_round_trips_the_tuned_session_one(
    server: MockServer, default_limit_run: dict
) -> None:
    """The default limit cannot beat ten round trips; the warm tuned session finishes far sooner."""
    waves = SCENARIO.workload.requests / connections.AIOHTTP_DEFAULT_LIMIT
    ten_round_trips_s = waves * parse_latency(SCENARIO.latency).nominal_s
    assert default_limit_run["s"] / ten_round_trips_s > 0.95
    shared = await measure(server, "shared_session", SCENARIO.latency, SCENARIO.workload, True)
    # Ideal ratio about 5 with the client's CPU counted; margins for a loaded 2-core machine.
    assert default_limit_run["s"] / shared["s"] > 1.5


class ConnectionCounter:
    """Counts new connections (connect phases) of the sessions that carry ``config``."""

    def __init__(self) -> None:
        self.created = 0
        self.config = aiohttp.TraceConfig()
        self.config.on_connection_create_end.append(self._created)

    async def _created(self, session: Any, ctx: Any, params: Any) -> None:
        self.created += 1


@pytest.mark.asyncio
async def test_shared_session_reuses_keep_alive_connections(server: MockServer) -> None:
    """Warm, the shared session opens no connection at all; a session per request opens N."""
    counter = ConnectionCounter()
    workload = dataclasses.replace(SCENARIO.tiny, requests=50)
    async with open_context(server.url, SCENARIO.latency, workload, [counter.config]) as ctx:
        await SCENARIO.variants["shared_session"].run(ctx)
        warm_up = counter.created
        await SCENARIO.variants["shared_session"].run(ctx)
        reused = counter.created - warm_up
        await SCENARIO.variants["session_per_request"].run(ctx)
        per_request = counter.created - warm_up - reused
    assert warm_up == 50
    assert reused == 0
    assert per_request == 50


def test_default_limit_constant_matches_aiohttp() -> None:
    """The ideal's limit of 100 is what a plain aiohttp.TCPConnector() really gets."""
    limit = inspect.signature(aiohttp.TCPConnector).parameters["limit"].default
    assert limit == connections.AIOHTTP_DEFAULT_LIMIT
