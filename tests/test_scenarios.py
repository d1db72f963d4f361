"""Every variant of every scenario runs (tiny workload) and returns what its siblings return."""

from __future__ import annotations

import inspect

import pytest

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks.context import open_context
from asyncio_perf_lab.mockserver import MockServer

RAN: set[str] = set()


@pytest.mark.asyncio
@pytest.mark.parametrize("name", scenarios.NAMES)
async def test_variants_return_equal_results(name: str, server: MockServer) -> None:
    """All variants of a scenario do the same work: their results compare equal."""
    scenario = scenarios.load(name)
    results = {}
    async with open_context(server.url, scenario.latency, scenario.tiny) as ctx:
        for variant_name, variant in scenario.variants.items():
            results[variant_name] = await variant.run(ctx)
            RAN.add(f"{name}:{variant_name}")
    first_name, first = next(iter(results.items()))
    assert first is not None
    if not scenario.equal_results:
        pytest.skip(f"{name} shows different behaviour per variant on purpose (EQUAL_RESULTS)")
    for variant_name, result in results.items():
        assert result == first, f"{name}:{variant_name} differs from {name}:{first_name}"


def test_every_variant_was_smoke_run() -> None:
    """The smoke test above really ran every registered variant (none skipped or deselected)."""
    expected = {f"{s.name}:{v}" for s in scenarios.all_scenarios() for v in s.variants}
    assert expected - RAN == set()


@pytest.mark.parametrize("name", scenarios.NAMES)
def test_scenario_module_follows_the_contract(name: str) -> None:
    """Each module states its question and lesson, and every variant is documented and typed."""
    scenario = scenarios.load(name)
    assert scenario.title
    assert scenario.question.endswith("?")
    assert len(scenario.lesson) > 40
    assert any(v.anti_pattern for v in scenario.variants.values()), "no anti-pattern to beat"
    assert any(not v.anti_pattern for v in scenario.variants.values()), "no fix to show"
    cpu_s = scenario.calibrate(scenario.tiny) if scenario.calibrate else {}
    machine = scenarios.Machine(cpu_s=cpu_s)
    for variant_name, variant in scenario.variants.items():
        assert inspect.iscoroutinefunction(variant.run), variant_name
        assert inspect.getdoc(variant.run), f"{name}:{variant_name} has no docstring"
        assert variant.label
        assert variant.why
        assert variant.ideal(scenario.tiny, 0.01, machine) > 0, f"{name}:{variant_name} ideal"
