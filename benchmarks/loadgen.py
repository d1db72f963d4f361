"""Open-loop load against the mock API, with what the client and the server saw.

A thin layer: the generator itself is ``scenarios.loadgen`` (the ``server_load`` scenario uses it
too, so there is one implementation). This adds a mock server of its own (or a loopback URL of one
already running) and the lab's client session, and collects throughput, latency from each
request's intended start, errors, the generator's own schedule slip, and the server's max
in-flight and loop lag. The command is ``asyncio-lab loadgen`` (``benchmarks/commands/loadgen.py``).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from asyncio_perf_lab.benchmarks.context import make_session
from asyncio_perf_lab.mockserver import MockServer
from asyncio_perf_lab.scenarios.loadgen import open_loop

__all__ = ["measure_load"]


async def _server_json(session: Any, base_url: str, method: str, path: str) -> dict[str, Any]:
    async with session.request(method, f"{base_url}{path}") as resp:
        resp.raise_for_status()
        return await resp.json()


async def measure_load(
    path: str, requests: int, rate: float, timeout_s: float, url: str | None = None
) -> dict[str, Any]:
    """Start (or reach ``url``) the server, send the load once, return client and server figures."""
    async with AsyncExitStack() as stack:
        base_url = url or (await stack.enter_async_context(MockServer())).url
        session = await stack.enter_async_context(make_session())
        await _server_json(session, base_url, "POST", "/stats/reset?loop_lag=1")
        path = path if path.startswith("/") else f"/{path}"
        result = await open_loop(
            session, base_url + path, requests=requests, rate=rate, timeout_s=timeout_s
        )
        server = await _server_json(session, base_url, "GET", "/stats?loop_lag=1")
    return {
        "client": result.summary(),
        "error_kinds": result.error_kinds,
        "server": {
            "max_in_flight": server["max_in_flight"],
            "requests": server["total_requests"],
            "loop_lag": server.get("loop_lag"),
        },
    }
