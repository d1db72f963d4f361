"""The single instrumented run of a variant: loop lag, callbacks, blocking lines, request spans,
server concurrency.

Kept apart from the timed pyperf runs so instruments never slow what is timed. The variant is
run once to warm up (connections, server caches, executor processes), then once inside a
``ProbeSession``. Asyncio debug mode is never switched on.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from asyncio_perf_lab.benchmarks.context import open_context
from asyncio_perf_lab.benchmarks.probes.overhead import calibrate, estimate
from asyncio_perf_lab.benchmarks.probes.session import ProbeSession
from asyncio_perf_lab.scenarios import Variant


class StatsSource(Protocol):
    def stats(self) -> dict[str, Any]: ...
    def reset_stats(self) -> None: ...


async def probe_variant(
    variant: Variant,
    base_url: str,
    latency: str,
    workload: Any,
    server: StatsSource,
    *,
    session: ProbeSession | None = None,
    warm: bool = True,
) -> tuple[dict[str, Any], Any]:
    """Run ``variant`` once warm and once under probes; return (probe record, its result).

    Pass ``session`` to keep the ProbeSession (``trace`` turns it into a Chrome trace).
    ``warm=False`` skips the warm call, for calls whose floor is seconds long: their warm-up
    (connects, pool start) is a small share of the call, and a warm call would double the probe;
    the record then has no ``warm_wall_s``.
    """
    probes = session if session is not None else ProbeSession()
    costs = await calibrate()
    async with open_context(
        base_url, latency, workload, trace_configs=[probes.requests.config]
    ) as ctx:
        warm_wall = None
        if warm:
            start = time.perf_counter()
            await variant.run(ctx)
            warm_wall = time.perf_counter() - start
        ctx.observations.clear()
        server.reset_stats()
        async with probes:
            start = time.perf_counter()
            try:
                result = await variant.run(ctx)
            finally:
                wall = time.perf_counter() - start
        stats = server.stats()
        probe = {
            "wall_s": wall,
            "loop_lag": probes.lag.summary(),
            "server": {
                "max_in_flight": stats["max_in_flight"],
                "requests": stats["total_requests"],
                "injected_delay_s": stats["injected_delay_s"],
            },
            "requests": probes.request_spans(),
            "blocking": probes.blocking(),
            "blocking_threshold_ms": probes.threshold_s * 1e3,
            "callbacks": probes.callback_timeline(),
            "overhead": estimate(probes, wall, costs),
            "observations": dict(ctx.observations),
        }
        if warm_wall is not None:
            probe["warm_wall_s"] = warm_wall
        return probe, result
