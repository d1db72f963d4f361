"""Debounce and throttle cut the requests of a keystroke burst and still answer the full query."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks.context import open_context
from asyncio_perf_lab.mockserver import MockServer, parse_latency

SCENARIO = scenarios.load("debounce_throttle")


async def run_variant(server: MockServer, name: str) -> dict[str, Any]:
    """Run one variant with the default workload; its result, observations and server stats."""
    async with open_context(server.url, SCENARIO.latency, SCENARIO.workload) as ctx:
        await asyncio.to_thread(server.reset_stats)
        result = await SCENARIO.variants[name].run(ctx)
        stats = await asyncio.to_thread(server.stats)
        return {"result": result, "observed": dict(ctx.observations), "stats": stats}


@pytest.fixture(name="runs", scope="module")
def _runs(server: MockServer) -> dict[str, dict[str, Any]]:
    async def all_variants() -> dict[str, dict[str, Any]]:
        return {name: await run_variant(server, name) for name in SCENARIO.variants}

    return asyncio.run(all_variants())


def test_every_variant_answers_the_full_query(runs: dict[str, dict[str, Any]]) -> None:
    """Whatever the control, the answer shown last is the search for the whole typed query."""
    query = SCENARIO.workload.query
    for name, run in runs.items():
        assert run["result"]["q"] == query, name
        assert run["result"]["results"], f"{name}: the full query should match some users"


def test_requests_sent_per_variant(runs: dict[str, dict[str, Any]]) -> None:
    """The server sees one request per key unchecked, one debounced, one per window throttled."""
    w = SCENARIO.workload
    typing_s = (len(w.query) - 1) * w.key_interval_ms / 1000
    windows = math.ceil(typing_s / (w.throttle_ms / 1000))
    seen = {name: run["stats"]["total_requests"] for name, run in runs.items()}
    assert seen["no_control"] == len(w.query)
    assert seen["debounce"] == 1
    # Leading edge plus one trailing edge per window; timer drift may merge or split one window.
    assert windows <= seen["throttle"] <= windows + 2
    assert seen["throttle"] < seen["no_control"]
    for name, run in runs.items():
        assert run["observed"]["requests_sent"] == seen[name], name


def test_debounce_pays_the_pause_in_latency(runs: dict[str, dict[str, Any]]) -> None:
    """After the last key, debounce answers later than no control by about the debounce pause."""
    w = SCENARIO.workload
    after = {name: run["observed"]["final_answer_after_last_key_s"] for name, run in runs.items()}
    latency_s = parse_latency(SCENARIO.latency).nominal_s  # the one request after the last key
    ideal_ratio = (w.debounce_ms / 1000 + latency_s) / latency_s  # 3.4 with the defaults
    assert after["debounce"] / after["no_control"] > ideal_ratio / 2
    # The throttle's trailing edge comes within one window (< the debounce pause + latency).
    assert after["throttle"] < after["debounce"] * 1.2


@pytest.mark.asyncio
async def test_throttle_leaves_no_timer_behind(server: MockServer) -> None:
    """After the throttled burst, no window timer of the throttle is left on the loop."""
    loop = asyncio.get_running_loop()
    async with open_context(server.url, SCENARIO.latency, SCENARIO.tiny) as ctx:
        await SCENARIO.variants["throttle"].run(ctx)
        timers = [h for h in loop._scheduled if not h.cancelled()]
        assert not any("_window_end" in repr(h) for h in timers)
