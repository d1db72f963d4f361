"""pytest-benchmark suite: every scenario variant, timed on a loop the suite owns.

pytest-benchmark cannot time coroutines, so each benchmark is a sync test that drives the
suite's loop; the coroutine object is built in ``setup`` so only its execution is timed. Use
``pytest benchmarks/ --benchmark-autosave`` and later ``--benchmark-compare-fail=median:10%``.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks.context import open_context
from asyncio_perf_lab.mockserver import MockServer

TARGETS = [f"{s.name}:{v}" for s in scenarios.all_scenarios() for v in s.variants]


@pytest.mark.parametrize("target", TARGETS)
def bench_variant(
    benchmark, loop: asyncio.AbstractEventLoop, server: MockServer, target: str, request
) -> None:
    """Time one variant's coroutine, warm, on the suite's loop against the mock server."""
    name, variant_name = target.split(":")
    scenario = scenarios.load(name)
    variant = scenario.variants[variant_name]
    tiny = request.config.getoption("--lab-workload") == "tiny"
    workload = scenario.tiny if tiny else scenario.workload
    stack = AsyncExitStack()
    ctx = loop.run_until_complete(
        stack.enter_async_context(open_context(server.url, scenario.latency, workload))
    )
    try:
        benchmark.extra_info.update(scenario=name, variant=variant_name, latency=scenario.latency)
        result = benchmark.pedantic(
            loop.run_until_complete,
            setup=lambda: ((variant.run(ctx),), {}),
            rounds=request.config.getoption("--lab-rounds"),
            warmup_rounds=1,
        )
        assert result is not None
    finally:
        loop.run_until_complete(stack.aclose())
