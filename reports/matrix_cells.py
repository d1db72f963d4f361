"""The cells of an interpreter/loop matrix and the numbers that compare them, from files alone.

A matrix is ``matrix.json`` (written by ``asyncio-lab matrix``: which cells were asked for and
what became of them, missing interpreters included) plus each cell's results.json; or, without a
manifest, any results files (each one a cell). The figures that travel between machines and
interpreters are ratios: a variant's median over the anti-pattern's median *of the same run*, and
each cell's medians over the first cell's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncio_perf_lab.reports import headline
from asyncio_perf_lab.reports.errors import ResultsFileError
from asyncio_perf_lab.reports.results_file import load_results, read_json

__all__ = [
    "MANIFEST_KIND",
    "MatrixCell",
    "against_baseline",
    "cells_from_results",
    "is_manifest",
    "load_matrix",
    "relative_to_anti",
    "scenario_of",
    "scenarios_in_order",
    "variants_in_order",
]

MANIFEST_KIND = "asyncio-perf-lab/matrix"
MANIFEST_SCHEMA = 1


@dataclass(frozen=True)
class MatrixCell:
    """One (Python, loop) cell: its outcome and, when it ran, its results document."""

    python: str
    loop: str
    status: str  # ok | partial (some variants left out) | missing | unavailable | failed
    detail: str = ""
    results: Mapping[str, Any] | None = None
    report_href: str | None = None  # the run's own report.html, relative to the matrix page
    wall_s: float | None = None
    verdict: str = ""  # "reference", or the summary of its A/B against the reference cell
    comparison: Mapping[str, Any] | None = None  # that A/B's comparison.json

    @property
    def name(self) -> str:
        """``3.12-uvloop``: the cell's short name, also its folder in a matrix run."""
        return f"{self.python}-{self.loop}"

    @property
    def label(self) -> str:
        """``Python 3.12.1 · uvloop 0.21.0`` from the results file, else the requested names."""
        if self.results is None:
            return f"Python {self.python} · {self.loop}"
        env = self.results["run"]["env"]
        loop = self.results["run"]["loop"]
        version = f" {env['loop_version']}" if env.get("loop_version") else ""
        return f"{env['implementation']} {env['python']} · {loop}{version}"


def read_manifest(path: Path) -> dict[str, Any]:
    """A matrix.json's data, checked for the kind, schema and cell list this lab reads."""
    data = read_json(path, "matrix file")
    if not isinstance(data, dict) or data.get("kind") != MANIFEST_KIND:
        raise ResultsFileError(f"{path}: not a matrix file (no kind {MANIFEST_KIND!r})")
    if not isinstance(data.get("schema"), int) or data["schema"] > MANIFEST_SCHEMA:
        raise ResultsFileError(f"{path}: matrix schema {data.get('schema')!r} is not readable")
    if not isinstance(data.get("cells"), list):
        raise ResultsFileError(f"{path}: no list of cells")
    return data


def is_manifest(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a readable JSON file that declares itself a matrix manifest."""
    try:
        data = read_json(path)
    except ResultsFileError:
        return False
    return isinstance(data, dict) and data.get("kind") == MANIFEST_KIND


def load_matrix(manifest_path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[MatrixCell]]:
    """The manifest and its cells, each ok cell's results file loaded (a bad one: failed)."""
    manifest_path = Path(manifest_path)
    manifest = read_manifest(manifest_path)
    base = manifest_path.parent
    cells = []
    for entry in manifest["cells"]:
        status, detail, results, href = entry["status"], entry.get("detail") or "", None, None
        if status in ("ok", "partial"):
            try:
                results = load_results(base / entry["results"])
            except (ResultsFileError, KeyError, TypeError) as exc:
                status, detail = "failed", f"results unreadable: {exc}"
            else:
                report = (base / entry["results"]).parent / "report.html"
                href = str(report.relative_to(base)) if report.exists() else None
        cells.append(
            MatrixCell(
                python=str(entry["python"]),
                loop=str(entry["loop"]),
                status=status,
                detail=detail,
                results=results,
                report_href=href,
                wall_s=entry.get("wall_s"),
                verdict=str(entry.get("verdict") or ""),
                comparison=_comparison(base, entry.get("comparison")),
            )
        )
    return manifest, cells


def _comparison(base: Path, relative: str | None) -> Mapping[str, Any] | None:
    """A cell's A/B comparison.json (None when absent or unreadable: the page says no verdict)."""
    if not relative:
        return None
    try:
        data = read_json(base / relative, "comparison file")
    except ResultsFileError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("variants"), list) else None


def cells_from_results(paths: Sequence[str | os.PathLike[str]]) -> list[MatrixCell]:
    """A cell per results file (Python and loop read from the file itself)."""
    cells = []
    for path in paths:
        results = load_results(path)
        run = results["run"]
        version = ".".join(run["env"]["python"].split(".")[:2])
        cells.append(MatrixCell(version, run["loop"], "ok", results=results, wall_s=run["wall_s"]))
    return cells


def relative_to_anti(scenario: Mapping[str, Any]) -> dict[str, tuple[float, float | None]]:
    """variant name -> (median, median / the run's anti-pattern median, None without one)."""
    variants = scenario["variants"]
    anti = headline.baseline(variants)
    anti_median = headline.median(anti) if anti is not None else 0.0
    return {
        v["name"]: (headline.median(v), headline.median(v) / anti_median if anti_median else None)
        for v in variants
    }


def scenarios_in_order(cells: Sequence[MatrixCell]) -> list[Mapping[str, Any]]:
    """One scenario record per name (the first cell's copy for titles), in first-seen order."""
    seen: dict[str, Mapping[str, Any]] = {}
    for cell in cells:
        for scenario in cell.results["scenarios"] if cell.results else []:
            seen.setdefault(scenario["name"], scenario)
    return list(seen.values())


def variants_in_order(cells: Sequence[MatrixCell], name: str) -> list[Mapping[str, Any]]:
    """One record per variant of scenario ``name`` across the cells, in first-seen order."""
    seen: dict[str, Mapping[str, Any]] = {}
    for cell in cells:
        for scenario in cell.results["scenarios"] if cell.results else []:
            if scenario["name"] == name:
                for variant in scenario["variants"]:
                    seen.setdefault(variant["name"], variant)
    return list(seen.values())


def scenario_of(cell: MatrixCell, name: str) -> Mapping[str, Any] | None:
    """Scenario ``name`` of a cell that ran, or None when that run lacks it."""
    assert cell.results is not None
    return next((s for s in cell.results["scenarios"] if s["name"] == name), None)


def against_baseline(
    cells: Sequence[MatrixCell],
) -> list[tuple[MatrixCell, list[float]]]:
    """For each ran cell, every shared variant's median / the first ran cell's median."""
    ran = [c for c in cells if c.results is not None]
    if not ran:
        return []
    medians = [
        {
            (s["name"], v["name"]): headline.median(v)
            for s in c.results["scenarios"]
            for v in s["variants"]
        }
        for c in ran
    ]
    base = medians[0]
    return [
        (cell, [m[k] / base[k] for k in m if k in base and base[k] > 0])
        for cell, m in zip(ran, medians, strict=True)
    ]
