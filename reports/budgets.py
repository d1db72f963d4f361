"""Budgets: each variant may cap its measured median as a multiple of its ideal time.

The ratio median/ideal is scale-free: a slow or loaded machine stretches both the latency the mock
server injects and the time the variant needs for it only a little, so the same budget holds on a
laptop and on a shared CI runner. A gather turned back into sequential awaits costs the *sum* of
the latencies instead of the max and blows a 1.5x budget by 3-10x on any machine. Variants with no
budget (None) or an ideal of 0 are not gated.

This is the one place the rule is written: the report page shows it, ``run --check-budgets``
enforces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["BudgetCheck", "budget_check", "check_budgets", "over_budget"]


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
        """Whether the variant is over its budget (exactly at it is within: a budget is a cap)."""
        return self.ratio > self.budget

    def describe(self) -> str:
        """One line naming the variant and its figure, e.g. ``... 3.02x ideal > budget 1.5x``."""
        verdict = "OVER budget" if self.over else "within budget"
        return (
            f"{self.key}: {self.ratio:.2f}x ideal (median {self.median_s * 1e3:.1f} ms, "
            f"ideal {self.ideal_s * 1e3:.1f} ms), {verdict} {self.budget:g}x"
        )


def budget_check(variant: Mapping[str, Any], scenario: str = "") -> BudgetCheck | None:
    """A variant record's budget check, or None when it is not gated (no budget, or ideal 0)."""
    budget, ideal = variant.get("budget"), variant["ideal_s"]
    if budget is None or ideal <= 0:
        return None
    return BudgetCheck(
        key=f"{scenario}:{variant['name']}",
        label=variant["label"],
        budget=budget,
        median_s=variant["stats"]["median"],
        ideal_s=ideal,
    )


def check_budgets(results: Mapping[str, Any]) -> list[BudgetCheck]:
    """Every gated variant of a results document, in file order."""
    checks = (
        budget_check(variant, scenario["name"])
        for scenario in results["scenarios"]
        for variant in scenario["variants"]
    )
    return [check for check in checks if check is not None]


def over_budget(results: Mapping[str, Any]) -> list[BudgetCheck]:
    """The variants over their budget (empty: the run passes the budget gate)."""
    return [check for check in check_budgets(results) if check.over]
