"""The single instrumented run of a variant: loop lag, request spans, server concurrency.

Kept apart from the timed pyperf runs so instruments never slow what is timed. The variant is
run once to warm up (connections, server caches, executor processes), then once under probes.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from benchmarks.context import open_context
from benchmarks.probes.lag import LoopLagProbe
from benchmarks.probes.requests import RequestTracer
from scenarios import Variant


class StatsSource(Protocol):
    def stats(self) -> dict[str, Any]: ...
    def reset_stats(self) -> None: ...


async def probe_variant(
    variant: Variant, base_url: str, latency: str, workload: Any, server: StatsSource
) -> tuple[dict[str, Any], Any]:
    """Run ``variant`` once warm and once under probes; return (probe record, its result)."""
    tracer = RequestTracer()
    async with open_context(base_url, latency, workload, trace_configs=[tracer.config]) as ctx:
        await variant.run(ctx)
        ctx.observations.clear()
        server.reset_stats()
        tracer.reset()
        lag = LoopLagProbe()
        lag.start()
        start = time.perf_counter()
        try:
            result = await variant.run(ctx)
        finally:
            wall = time.perf_counter() - start
            lag.stop()
        stats = server.stats()
        probe = {
            "wall_s": wall,
            "loop_lag": lag.summary(),
            "server": {
                "max_in_flight": stats["max_in_flight"],
                "requests": stats["total_requests"],
                "injected_delay_s": stats["injected_delay_s"],
            },
            "requests": tracer.finished_spans(),
            "blocking": [],
            "observations": dict(ctx.observations),
        }
        return probe, result
