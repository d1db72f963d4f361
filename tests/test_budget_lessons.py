"""Every budget catches the regression its scenario teaches.

A budgeted variant names its ``regression``: the sibling that does the same job, with the same
workload, the anti-pattern way (process_pool falling back to threads, chunked work without its
yields). One real quick run times each budgeted variant and its regression in pyperf workers;
each budget must be blown by the regression's *fastest* value against the variant's ideal, so no
budget can pass the mistake it exists to catch.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from lab_cli import run_lab

from asyncio_perf_lab import scenarios

BUDGETED = [
    (s.name, name, v.budget, v.regression)
    for s in scenarios.all_scenarios()
    for name, v in s.variants.items()
    if v.budget is not None
]
IDS = [f"{scenario}:{variant}" for scenario, variant, _, _ in BUDGETED]


@pytest.mark.parametrize(("scenario", "variant", "budget", "regression"), BUDGETED, ids=IDS)
def test_each_budget_names_its_regression(
    scenario: str, variant: str, budget: float, regression: str | None
) -> None:
    """A budgeted variant names a sibling of its scenario as the regression its budget catches."""
    siblings = set(scenarios.load(scenario).variants) - {variant}
    assert regression in siblings, f"{scenario}:{variant} regression {regression!r}: {siblings}"


@pytest.fixture(name="quick_run", scope="module")
def _quick_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """One quick run of every budgeted variant and its regression: variant records by key."""
    wanted = sorted(
        {f"{s}:{v}" for s, v, _, _ in BUDGETED} | {f"{s}:{r}" for s, _, _, r in BUDGETED}
    )
    out = tmp_path_factory.mktemp("budget-lessons")
    proc = run_lab(
        "run", *wanted, "--profile", "quick", "--no-report", "--out", str(out), timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((out / "latest" / "results.json").read_text())
    return {f"{s['name']}:{v['name']}": v for s in doc["scenarios"] for v in s["variants"]}


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize(("scenario", "variant", "budget", "regression"), BUDGETED, ids=IDS)
def test_the_regression_blows_the_budget(
    quick_run: dict[str, dict[str, Any]],
    scenario: str,
    variant: str,
    budget: float,
    regression: str,
) -> None:
    """The fix's workload done the anti-pattern way is over the fix's budget, even at its fastest,
    and the regression is a worse way by its own ideal too."""
    ideal_s = quick_run[f"{scenario}:{variant}"]["ideal_s"]
    worse = quick_run[f"{scenario}:{regression}"]
    assert worse["ideal_s"] > ideal_s, f"{regression} is no worse than {variant} by its ideal"
    fastest_s = min(worse["values"])
    ratio = fastest_s / ideal_s
    assert ratio > budget, (
        f"{scenario}:{regression} at {fastest_s * 1e3:.1f} ms is {ratio:.2f}x the ideal of "
        f"{variant} ({ideal_s * 1e3:.1f} ms): within its budget {budget}x, which so cannot catch it"
    )
