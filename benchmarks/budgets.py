"""``run --check-budgets``: load the run's results, print each variant over budget, exit 0 or 1.

The rule itself (median/ideal against the budget) is ``reports.budgets``; this is its console.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from asyncio_perf_lab.reports.budgets import check_budgets
from asyncio_perf_lab.reports.results_file import load_results

__all__ = ["enforce_budgets"]


def enforce_budgets(results_path: Path, console: Any) -> int:
    """Print each variant over budget with its figure and a tally; 1 if any is over, else 0.

    A bad results file raises ``ResultsFileError`` (a ``UsageError``: one line, exit 2).
    """
    checks = check_budgets(load_results(results_path))
    over = [check for check in checks if check.over]
    for check in over:
        console.print(f"[red]over budget:[/] {check.describe()}", highlight=False)
    console.print(
        f"budgets: {len(checks) - len(over)} of {len(checks)} gated variants within budget"
        + (f", {len(over)} over -> exit 1" if over else ""),
        highlight=False,
    )
    return 1 if over else 0
