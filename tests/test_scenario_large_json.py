"""A large parse stalls the loop when run on the loop or in a thread, but not in a child process."""

from __future__ import annotations

import pytest

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks.context import open_context
from asyncio_perf_lab.benchmarks.probes.lag import LoopLagProbe
from asyncio_perf_lab.mockserver import MockServer
from asyncio_perf_lab.scenarios import Context, Variant

SCENARIO = scenarios.load("large_json")


async def max_lag_ms(variant: Variant, ctx: Context) -> float:
    """The worst loop lag while ``variant`` runs (a stall in its last step counts too)."""
    async with LoopLagProbe() as probe:
        await variant.run(ctx)
    return probe.summary()["max_ms"]


@pytest.mark.asyncio
async def test_every_variant_returns_the_same_summary(server: MockServer) -> None:
    """With the default 8 MiB body, all parsers and places agree on the summary."""
    async with open_context(server.url, SCENARIO.latency, SCENARIO.workload) as ctx:
        results = {name: await v.run(ctx) for name, v in SCENARIO.variants.items()}
    first = results["on_loop"]
    assert first["records"] > 10_000
    assert all(result == first for result in results.values()), results


@pytest.mark.asyncio
async def test_on_loop_parse_stalls_the_loop_far_longer_than_the_process_pool(
    server: MockServer,
) -> None:
    """resp.json() on the loop shows a max loop lag at least 5x the process-pool summary's."""
    async with open_context(server.url, SCENARIO.latency, SCENARIO.workload) as ctx:
        pool = SCENARIO.variants["process_pool_summary"]
        await pool.run(ctx)  # warm: the workers are started and have imported the scenario
        on_loop = await max_lag_ms(SCENARIO.variants["on_loop"], ctx)
        # Best of three: one OS preemption of this process is not the variant's stall.
        in_pool = min([await max_lag_ms(pool, ctx) for _ in range(3)])
    assert on_loop >= 5 * in_pool, f"on_loop {on_loop:.1f} ms vs process pool {in_pool:.1f} ms"


@pytest.mark.asyncio
async def test_to_thread_does_not_shorten_the_stall(server: MockServer) -> None:
    """to_thread(json.loads) stalls the loop about as long as the parse on the loop (the GIL)."""
    async with open_context(server.url, SCENARIO.latency, SCENARIO.workload) as ctx:
        await SCENARIO.variants["to_thread"].run(ctx)
        on_loop = await max_lag_ms(SCENARIO.variants["on_loop"], ctx)
        in_thread = await max_lag_ms(SCENARIO.variants["to_thread"], ctx)
    assert in_thread >= 0.4 * on_loop, f"to_thread {in_thread:.1f} ms vs on_loop {on_loop:.1f} ms"
