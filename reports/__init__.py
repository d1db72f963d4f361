"""How runs are shown and judged: results file in, self-contained HTML report out.

``build_report`` is imported lazily so that reading or writing a results file
(``reports.results_file``) never pays for matplotlib and Jinja2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncio_perf_lab.reports.build import ReportError, build_readme_chart, build_report

__all__ = ["ReportError", "build_readme_chart", "build_report"]


def __getattr__(name: str) -> Any:
    """Resolve the public API on first use (PEP 562)."""
    if name in __all__:
        from asyncio_perf_lab.reports import build

        return getattr(build, name)
    raise AttributeError(f"module 'reports' has no attribute {name!r}")
