"""Every variant of every scenario runs (tiny workload) and returns what its siblings return."""

from __future__ import annotations

import inspect
import types

import pytest
from fixtures_results import synthetic_results

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks.context import open_context
from asyncio_perf_lab.mockserver import MockServer
from asyncio_perf_lab.reports.headline import headline
from asyncio_perf_lab.scenarios.calibration import Site


@pytest.mark.asyncio
@pytest.mark.parametrize("name", scenarios.NAMES)
async def test_variants_return_equal_results(name: str, server: MockServer) -> None:
    """Every registered variant runs (tiny workload); a scenario's variants return equal results,
    or, where the scenario says they differ on purpose, not all the same."""
    scenario = scenarios.load(name)
    results = {}
    async with open_context(server.url, scenario.latency, scenario.tiny) as ctx:
        for variant_name, variant in scenario.variants.items():
            results[variant_name] = await variant.run(ctx)
    first_name, first = next(iter(results.items()))
    if not scenario.equal_results:
        assert any(r != first for r in results.values()), (
            f"{name}: EQUAL_RESULTS = False, yet equal"
        )
        return
    for variant_name, result in results.items():
        assert result == first, f"{name}:{variant_name} differs from {name}:{first_name}"


@pytest.mark.parametrize("name", scenarios.NAMES)
def test_scenario_module_follows_the_contract(name: str, server: MockServer) -> None:
    """Each module states its question and lesson, and every variant is documented and typed."""
    scenario = scenarios.load(name)
    assert scenario.title
    assert scenario.question.endswith("?")
    assert len(scenario.lesson) > 40
    assert any(v.anti_pattern for v in scenario.variants.values()), "no anti-pattern to beat"
    assert any(not v.anti_pattern for v in scenario.variants.values()), "no fix to show"
    machine = scenarios.Machine(
        cpu_s=scenario.measure_machine(scenario.tiny, Site(base_url=server.url))
    )
    for variant_name, variant in scenario.variants.items():
        assert inspect.iscoroutinefunction(variant.run), variant_name
        assert inspect.getdoc(variant.run), f"{name}:{variant_name} has no docstring"
        assert variant.label
        assert variant.why
        assert variant.ideal(scenario.tiny, 0.01, machine) > 0, f"{name}:{variant_name} ideal"
        assert variant.ideal_kind in ("floor", "estimate"), f"{name}:{variant_name} ideal_kind"


def test_headline_claims_only_what_the_scenario_teaches() -> None:
    """The stall sentence needs "loop_lag", the speed sentence "time": a scenario teaching neither
    (the ordering puzzles) gets no "N x faster" between unrelated puzzles; an older results file
    without ``teaches`` keeps both sentences."""
    by_name = {s["name"]: s["variants"] for s in synthetic_results()["scenarios"]}
    stall = by_name["cpu_on_the_loop"]
    assert "faster" in headline(stall)
    assert "worst stall" in headline(stall)
    assert "worst stall" not in headline(stall, ("time",))
    assert "faster" not in headline(stall, ("loop_lag",))
    assert headline(by_name["ordering"], scenarios.load("ordering").teaches) == ""
    assert scenarios.load("sequential_vs_gather").teaches == ("time",)


def test_teaches_refuses_an_unknown_claim() -> None:
    """A TEACHES naming a claim the headline cannot make is refused in one line."""
    module = types.ModuleType("made_up")
    for name in ("__doc__", "QUESTION", "LESSON", "LATENCY", "Workload", "TINY", "VARIANTS"):
        setattr(module, name, getattr(scenarios.load("sequential_vs_gather").module, name))
    module.TEACHES = ("speed",)
    with pytest.raises(TypeError, match="TEACHES \\('speed',\\): allowed is a tuple of time"):
        scenarios.from_module(module)
