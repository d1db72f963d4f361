"""The matrix: the same quick run under several Pythons and event loops (``asyncio-lab matrix``).

For each Python asked for (``--pythons 3.11,3.12,3.13``) an interpreter and a venv are found or
made (``benchmarks.interpreters``). Then each (Python, loop) cell runs ``asyncio-lab run
--profile quick --loop L`` in that interpreter, one after the other (the cells share the machine,
so never at once), writing its own results.json under ``results/matrix-<id>/<python>-<loop>/``.

Then each cell that ran is A/B'd against a reference cell (``--reference``, default the first
that ran) in one interleaved job (``benchmarks.matrix_ab``), so the page can say which variants
got slower or faster, with p-values, not only numbers from separate runs.

``matrix.json`` lists every cell with its status: ``ok``, ``missing`` (no such interpreter),
``unavailable`` (uvloop cannot be installed or imported there) or ``failed`` (the run broke).
Only a failed cell, or no cell at all succeeding, makes the exit code 1: missing interpreters are
reported, not fatal. This module only orchestrates: ``reports.matrix`` builds ``matrix.html`` from
matrix.json and the results files alone.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.environment import REPO_ROOT
from asyncio_perf_lab.benchmarks.interpreters import (
    VENV_ROOT,
    ensure_venv,
    find_interpreter,
    has_module,
)
from asyncio_perf_lab.benchmarks.processes import run_logged
from asyncio_perf_lab.benchmarks.run_dirs import create_run_dir

MANIFEST_KIND = "asyncio-perf-lab/matrix"
MANIFEST_SCHEMA = 1
RUN_TIMEOUT_S = 3600.0  # one cell's whole quick run; bounded so a hung cell cannot stall the rest
MAX_EXCLUDED = 3  # variants a cell may leave out (each costs a rerun) before it counts as failed
FAILED_VARIANT = re.compile(r"run failed: (\w+:\w+) (?:failed|took)")


@dataclass
class Cell:
    """One (Python, loop) combination of the matrix and what became of it."""

    python: str
    loop: str
    status: str = "pending"  # ok | partial | missing | unavailable | failed
    detail: str = ""
    executable: str | None = None
    results: str | None = None  # path of results.json, relative to the matrix directory
    wall_s: float | None = None
    verdict: str = ""  # "reference", or the A/B against it: its summary line
    comparison: str | None = None  # that A/B's comparison.json, relative to the matrix directory

    @property
    def name(self) -> str:
        """The cell's directory and label: ``3.12-uvloop``."""
        return f"{self.python}-{self.loop}"

    def as_dict(self) -> dict[str, Any]:
        """The cell's entry in matrix.json: every field."""
        return asdict(self)


@dataclass
class MatrixConfig:
    """A validated matrix request."""

    pythons: list[str]
    loops: list[str]
    profile: str = "quick"
    targets: list[str] = field(default_factory=list)
    out_dir: Path = field(default_factory=lambda: REPO_ROOT / "results")
    scenarios: Path | None = None  # a user's scenario folder, passed to every cell's run
    routes: Path | None = None  # a user's routes file, likewise
    venv_root: Path = VENV_ROOT
    reference: str | None = None  # the cell every other is A/B'd against; None: the first ran
    judge: bool = True  # False: figures only, no A/B against the reference
    created: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )


def expand(targets: Sequence[str], folder: Path | None = None) -> list[str]:
    """The targets as explicit ``scenario:variant`` specs (all of them when empty)."""
    from asyncio_perf_lab.benchmarks.selection import select

    chosen = select(list(targets), folder)
    return [f"{sel.scenario.name}:{v}" for sel in chosen for v in sel.variants]


def run_cell(cell: Cell, python: str, config: MatrixConfig, matrix_dir: Path) -> None:
    """Run the profile in ``python`` with ``cell.loop``; fill in the cell's outcome.

    A variant that fails under this interpreter or loop (the runner names it) is left out and
    the rest is run again, at most ``MAX_EXCLUDED`` times: the cell is then ``partial``, with
    the left-out variants named, instead of losing every other scenario's numbers.
    """
    cell_dir = matrix_dir / cell.name
    cell_dir.mkdir(parents=True, exist_ok=True)
    base = [
        python,
        "-m",
        "asyncio_perf_lab.benchmarks",
        "run",
        "--profile",
        config.profile,
        "--loop",
        cell.loop,
    ]
    base += ["--out", str(cell_dir)]
    if config.scenarios is not None:
        base += ["--scenarios", str(config.scenarios)]
    if config.routes is not None:
        base += ["--routes", str(config.routes)]
    targets, excluded = list(config.targets), []
    started = time.perf_counter()
    with open(cell_dir / "run.log", "w", encoding="utf-8") as log:
        while True:
            offset = log.tell()
            code = run_logged([*base, *targets], log, REPO_ROOT, RUN_TIMEOUT_S)
            if code in (0, None) or len(excluded) >= MAX_EXCLUDED:
                break
            log.flush()
            with open(cell_dir / "run.log", encoding="utf-8", errors="replace") as reread:
                reread.seek(offset)
                match = FAILED_VARIANT.search(reread.read())
            if match is None or match[1] in excluded:
                break
            excluded.append(match[1])
            every = expand(config.targets, config.scenarios)
            targets = [spec for spec in every if spec not in excluded]
            if not targets:
                break
            log.write(f"\n# {match[1]} failed: running the rest again without it\n")
    cell.wall_s = time.perf_counter() - started
    results = cell_dir / "latest" / "results.json"
    if code == 0 and results.exists():
        cell.results = str(results.resolve().relative_to(matrix_dir.resolve()))
        cell.status = "partial" if excluded else "ok"
        if excluded:
            cell.detail = (
                f"without {', '.join(excluded)}, which failed here; see {cell.name}/run.log"
            )
        return
    cell.status = "failed"
    if code is None:
        cell.detail = f"stopped after {RUN_TIMEOUT_S:.0f} s; see {cell.name}/run.log"
    else:
        lines = (cell_dir / "run.log").read_text(errors="replace").strip().splitlines()
        last = next((line for line in reversed(lines) if line.strip()), "")
        cell.detail = f"exit {code}: {last[:200]}; see {cell.name}/run.log"


def write_manifest(matrix_dir: Path, config: MatrixConfig, cells: list[Cell], wall: float) -> Path:
    """matrix.json: the request and every cell's outcome (written after each cell)."""
    from asyncio_perf_lab.reports.results_file import write_json_atomic

    return write_json_atomic(
        matrix_dir / "matrix.json",
        {
            "schema": MANIFEST_SCHEMA,
            "kind": MANIFEST_KIND,
            "id": matrix_dir.name,
            "created": config.created,
            "profile": config.profile,
            "pythons": config.pythons,
            "loops": config.loops,
            "targets": config.targets,
            "reference": next(
                (c.name for c in cells if c.verdict == "reference"), config.reference
            ),
            "wall_s": wall,
            "cells": [cell.as_dict() for cell in cells],
        },
    )


def run_matrix(
    config: MatrixConfig, say: Callable[[str], None] = print, find: Callable = find_interpreter
) -> tuple[Path, list[Cell]]:
    """Find interpreters, prepare venvs, run every cell; return matrix.json's path and cells."""
    matrix_dir = create_run_dir(config.out_dir, "matrix-")
    started = time.perf_counter()
    cells = [Cell(python, loop) for python in config.pythons for loop in config.loops]
    pythons: dict[str, str | None] = {}
    for version in config.pythons:
        row = [c for c in cells if c.python == version]
        interpreter = find(version)
        if interpreter is None:
            pythons[version] = None
            for cell in row:
                cell.status, cell.detail = "missing", f"no Python {version} found"
            say(f"{version}: missing (not on PATH, not under a pyenv versions directory)")
            continue
        try:
            python, note = ensure_venv(interpreter, config.venv_root)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            pythons[version] = None
            for cell in row:
                cell.status, cell.detail = "failed", f"no venv for {interpreter.executable}: {exc}"
            say(f"{version}: venv failed: {exc}")
            continue
        pythons[version] = python
        say(f"{version}: Python {interpreter.full_version} at {interpreter.executable} ({note})")
        for cell in row:
            cell.executable = python
            if cell.loop != "asyncio" and not has_module(python, cell.loop):
                cell.status = "unavailable"
                cell.detail = f"{cell.loop} is not importable in Python {interpreter.full_version}"
    manifest = write_manifest(matrix_dir, config, cells, 0.0)
    for cell in cells:
        python = pythons.get(cell.python)
        if cell.status != "pending" or python is None:
            continue
        say(f"{cell.name}: running the {config.profile} profile ...")
        run_cell(cell, python, config, matrix_dir)
        say(f"{cell.name}: {cell.status} in {cell.wall_s:.0f} s {cell.detail}".rstrip())
        manifest = write_manifest(matrix_dir, config, cells, time.perf_counter() - started)
    if config.judge:
        from asyncio_perf_lab.benchmarks.matrix_ab import judge_cells

        judge_cells(cells, config, matrix_dir, say)
    manifest = write_manifest(matrix_dir, config, cells, time.perf_counter() - started)
    return manifest, cells
