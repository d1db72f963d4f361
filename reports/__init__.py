"""How runs are shown and judged: pure functions of files.

- the results file: ``results_file`` (schema, load/validate, atomic write), ``errors``;
- the numbers: ``stats`` (the one statistics module), ``units`` (how numbers read);
- the judgement: ``gate`` and ``mannwhitney`` (the regression gate), ``budgets``;
- the pages: ``pages`` (one Jinja environment, one way to write), ``report_*`` and ``build``
  (the report), ``compare_page``, ``matrix_*``, ``trend``; charts in ``chart_style`` and
  ``charts_*``.

The page builders below are imported on first use, so reading or writing a results file never
pays for matplotlib and Jinja2.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncio_perf_lab.reports.build import build_readme_chart, build_report
    from asyncio_perf_lab.reports.compare_page import build_compare_page
    from asyncio_perf_lab.reports.matrix_page import build_matrix_page
    from asyncio_perf_lab.reports.trend import build_trend

_HOME = {
    "build_report": "build",
    "build_readme_chart": "build",
    "build_compare_page": "compare_page",
    "build_matrix_page": "matrix_page",
    "build_trend": "trend",
}
__all__ = [
    "build_compare_page",
    "build_matrix_page",
    "build_readme_chart",
    "build_report",
    "build_trend",
]


def __getattr__(name: str) -> Any:
    """Resolve the public page builders on first use (PEP 562)."""
    if name in _HOME:
        return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
