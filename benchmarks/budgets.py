"""Budgets: each variant may cap its measured median as a multiple of its ideal time.

The ratio median/ideal is scale-free: a slow or loaded machine stretches both the latency the mock
server injects and the time the variant needs for it only a little, so the same budget holds on a
laptop and on a shared CI runner. A gather turned back into sequential awaits costs the *sum* of
the latencies instead of the max and blows a 1.5x budget by 3-10x on any machine. Variants with no
budget (None) or an ideal of 0 are not gated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncio_perf_lab.reports.errors import UsageError


@dataclass(frozen=True)
class BudgetCheck:
    """One gated variant: its measured/ideal figure against its budget."""

    key: str  # scenario:variant
    label: str
    budget: float
    median_s: float
    ideal_s: float

    @property
    def ratio(self) -> float:
        """Measured median over the ideal time (1.0 = at the physical limit)."""
        return self.median_s / self.ideal_s

    @property
    def over(self) -> bool:
        """Whether the variant is over its budget."""
        return self.ratio > self.budget

    def describe(self) -> str:
        """One line naming the variant and its figure, e.g. ``... 3.02x ideal > budget 1.5x``."""
        verdict = "OVER budget" if self.over else "within budget"
        return (
            f"{self.key}: {self.ratio:.2f}x ideal (median {self.median_s * 1e3:.1f} ms, "
            f"ideal {self.ideal_s * 1e3:.1f} ms), {verdict} {self.budget:g}x"
        )


def check_budgets(results: Mapping[str, Any]) -> list[BudgetCheck]:
    """Every variant of a results dict that declares a budget and has a positive ideal time."""
    return [
        BudgetCheck(
            key=f"{scenario['name']}:{variant['name']}",
            label=variant["label"],
            budget=variant["budget"],
            median_s=variant["stats"]["median"],
            ideal_s=variant["ideal_s"],
        )
        for scenario in results["scenarios"]
        for variant in scenario["variants"]
        if variant.get("budget") is not None and variant["ideal_s"] > 0
    ]


def over_budget(results: Mapping[str, Any]) -> list[BudgetCheck]:
    """The variants over their budget (empty: the run passes the budget gate)."""
    return [check for check in check_budgets(results) if check.over]


def enforce_budgets(results_path: Path, console: Any) -> int:
    """``run --check-budgets``: print each variant over budget with its figure; exit 1 if any."""
    from asyncio_perf_lab.reports.results_file import ResultsFileError, load_results

    try:
        results = load_results(results_path)
    except ResultsFileError as exc:
        raise UsageError(str(exc)) from None
    checks = check_budgets(results)
    over = [check for check in checks if check.over]
    for check in over:
        console.print(f"[red]over budget:[/] {check.describe()}", highlight=False)
    console.print(
        f"budgets: {len(checks) - len(over)} of {len(checks)} gated variants within budget"
        + (f", {len(over)} over -> exit 1" if over else ""),
        highlight=False,
    )
    return 1 if over else 0
