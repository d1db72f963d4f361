"""Builds the Context a variant runs in: one session and one pair of executors per worker."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from asyncio_perf_lab.scenarios import Context

CONNECTOR_LIMIT = (
    1000  # aiohttp's default of 100 would cap every scenario at 100 requests in flight
)
THREAD_WORKERS = 8
PROCESS_WORKERS = os.cpu_count() or 1


def make_session(trace_configs: list[aiohttp.TraceConfig] | None = None) -> aiohttp.ClientSession:
    """The shared client session: keep-alive, a connector tuned for 1000 concurrent requests."""
    connector = aiohttp.TCPConnector(limit=CONNECTOR_LIMIT, limit_per_host=0)
    return aiohttp.ClientSession(
        connector=connector,
        trace_configs=trace_configs,
        timeout=aiohttp.ClientTimeout(total=120),
    )


@asynccontextmanager
async def open_context(
    base_url: str,
    latency: str,
    workload: Any,
    trace_configs: list[aiohttp.TraceConfig] | None = None,
) -> AsyncIterator[Context]:
    """Yield a ready Context and close its session and executors afterwards, whatever happens."""
    # forkserver: forking a process that already runs threads is unsafe (and warns on 3.12+).
    process_pool = ProcessPoolExecutor(
        PROCESS_WORKERS, mp_context=multiprocessing.get_context("forkserver")
    )
    thread_pool = ThreadPoolExecutor(THREAD_WORKERS, thread_name_prefix="lab")
    try:
        async with make_session(trace_configs) as session:
            yield Context(
                session=session,
                base_url=base_url,
                latency=latency,
                workload=workload,
                thread_pool=thread_pool,
                process_pool=process_pool,
            )
    finally:
        thread_pool.shutdown(wait=True, cancel_futures=True)
        process_pool.shutdown(wait=True, cancel_futures=True)
