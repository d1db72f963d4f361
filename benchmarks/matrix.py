"""``asyncio-lab matrix``: the same quick run under several Pythons and event loops.

For each Python asked for (``--pythons 3.11,3.12,3.13``) the interpreter is looked up: the one
running this command if it is that version, else ``python3.X`` on PATH (pyenv shims that cannot
run it are skipped), else ``$PYENV_ROOT`` / ``~/.pyenv`` / ``/root/.pyenv`` ``versions/3.X.*``.
Every other interpreter gets its own venv, ``.venv-matrix/3.X``, created on first use and filled
from pyproject.toml the way the Makefile fills ``.venv`` (all dependencies and extras, one
``pip install -r``, an ``.installed-stamp`` newer than pyproject.toml means reuse). Then each
(Python, loop) cell runs ``asyncio-lab run --profile quick --loop L`` in that
interpreter, one after the other (the cells share the machine, so never at once), writing its own
results.json under ``results/matrix-<id>/<python>-<loop>/``.

``matrix.json`` lists every cell with its status: ``ok``, ``missing`` (no such interpreter),
``unavailable`` (uvloop cannot be installed or imported there) or ``failed`` (the run broke).
Only a failed cell, or no cell at all succeeding, makes the exit code 1: missing interpreters are
reported, not fatal. ``reports.matrix`` builds ``matrix.html`` from matrix.json and the results
files alone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from asyncio_perf_lab.benchmarks.environment import REPO_ROOT
from asyncio_perf_lab.reports.errors import UsageError

MANIFEST_KIND = "asyncio-perf-lab/matrix"
MANIFEST_SCHEMA = 1
VENV_ROOT = REPO_ROOT / ".venv-matrix"
PYENV_ROOTS = (os.environ.get("PYENV_ROOT"), "~/.pyenv", "/root/.pyenv")
PROBE_TIMEOUT_S = 20.0
VENV_TIMEOUT_S = 120.0
INSTALL_TIMEOUT_S = 1200.0
RUN_TIMEOUT_S = 3600.0  # one cell's whole quick run; bounded so a hung cell cannot stall the rest
MAX_EXCLUDED = 3  # variants a cell may leave out (each costs a rerun) before it counts as failed
FAILED_VARIANT = re.compile(r"run failed: (\w+:\w+) (?:failed|took)")
VERSION_CODE = "import sys; print('%d.%d.%d' % sys.version_info[:3])"

Runner = Callable[..., subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class Interpreter:
    """A Python found on this machine: its X.Y, full version, and where it is."""

    version: str  # "3.12"
    full_version: str  # "3.12.1"
    executable: str
    current: bool = False  # the interpreter running this command (its venv is the lab's own)


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

    @property
    def name(self) -> str:
        """The cell's directory and label: ``3.12-uvloop``."""
        return f"{self.python}-{self.loop}"

    def as_dict(self) -> dict[str, Any]:
        """The cell's entry in matrix.json."""
        return {
            "python": self.python,
            "loop": self.loop,
            "status": self.status,
            "detail": self.detail,
            "executable": self.executable,
            "results": self.results,
            "wall_s": self.wall_s,
        }


@dataclass
class MatrixConfig:
    """A validated matrix request."""

    pythons: list[str]
    loops: list[str]
    profile: str = "quick"
    targets: list[str] = field(default_factory=list)
    out_dir: Path = field(default_factory=lambda: REPO_ROOT / "results")
    venv_root: Path = VENV_ROOT
    created: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )


def _run(cmd: Sequence[str], timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd), capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )


def _version_key(path: str) -> tuple[int, ...]:
    match = re.search(r"/versions/(\d+)\.(\d+)\.(\d+)", path)
    return tuple(int(x) for x in match.groups()) if match else (0,)


def candidates(version: str, search_path: str | None = None) -> list[str]:
    """Executables that may be Python ``version``: PATH first, then pyenv's newest patch first."""
    found = []
    # Every match on PATH, not only the first: a pyenv shim that cannot run the version (it
    # says "command not found") may come before a real interpreter.
    for folder in (search_path or os.environ.get("PATH", "")).split(os.pathsep):
        exe = Path(folder or ".") / f"python{version}"
        if exe.is_file() and os.access(exe, os.X_OK):
            found.append(str(exe))
    for root in PYENV_ROOTS:
        if not root:
            continue
        pattern = f"{Path(root).expanduser()}/versions/{version}.*/bin/python{version}"
        found += sorted(glob.glob(pattern), key=_version_key, reverse=True)
    return list(dict.fromkeys(found))


def find_interpreter(
    version: str, search_path: str | None = None, run: Runner = _run
) -> Interpreter | None:
    """The interpreter of ``version`` (X.Y), or None when none here runs as that version."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        full = ".".join(str(part) for part in sys.version_info[:3])
        return Interpreter(version, full, sys.executable, current=True)
    for exe in candidates(version, search_path):
        try:
            proc = run([exe, "-c", VERSION_CODE], timeout=PROBE_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired):
            continue
        full = proc.stdout.strip()
        if proc.returncode == 0 and full.startswith(f"{version}."):
            return Interpreter(version, full, exe)
    return None


def requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> tuple[list[str], list[str]]:
    """(all requirements, those of the uvloop extra): what the Makefile installs into .venv."""
    project = tomllib.loads(pyproject.read_text())["project"]
    extras = project.get("optional-dependencies", {})
    everything = list(project["dependencies"]) + [d for ds in extras.values() for d in ds]
    return everything, list(extras.get("uvloop", []))


def ensure_venv(
    interpreter: Interpreter,
    venv_root: Path = VENV_ROOT,
    pyproject: Path = REPO_ROOT / "pyproject.toml",
    run: Runner = _run,
) -> tuple[str, str]:
    """(python of a ready venv for ``interpreter``, a note); raises RuntimeError if none can be.

    Reused when its ``.installed-stamp`` is newer than pyproject.toml, like the Makefile's rule.
    If the full install fails it is retried without the uvloop extra (noted: that Python's
    uvloop cell is then reported unavailable, not fatal).
    """
    if interpreter.current:
        return interpreter.executable, "the running interpreter and its venv"
    venv = venv_root / interpreter.version
    python = venv / "bin" / "python"
    stamp = venv / ".installed-stamp"
    if python.exists() and stamp.exists() and stamp.stat().st_mtime >= pyproject.stat().st_mtime:
        return str(python), f"reused {venv}"
    if not python.exists():
        proc = run([interpreter.executable, "-m", "venv", str(venv)], timeout=VENV_TIMEOUT_S)
        if proc.returncode != 0:
            raise RuntimeError(f"python -m venv {venv} failed: {_tail(proc)}")
        (venv / ".gitignore").write_text("*\n")  # a venv is never source: git and ruff skip it
    everything, uvloop = requirements(pyproject)
    note = f"created {venv}"
    for attempt in (everything, [r for r in everything if r not in uvloop]):
        listing = venv / "requirements.txt"
        listing.write_text("\n".join(attempt) + "\n")
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        proc = run([*pip, "-r", str(listing)], timeout=INSTALL_TIMEOUT_S)
        if proc.returncode == 0:
            stamp.touch()
            if attempt is not everything:
                note += "; uvloop could not be installed"
            return str(python), note
    raise RuntimeError(f"pip install into {venv} failed: {_tail(proc)}")


def _tail(proc: subprocess.CompletedProcess[str], lines: int = 3) -> str:
    text = (proc.stderr or proc.stdout or "").strip().splitlines()
    return " | ".join(text[-lines:]) or f"exit {proc.returncode}"


def has_module(python: str, module: str, run: Runner = _run) -> bool:
    """Whether ``python`` can import ``module``."""
    try:
        return run([python, "-c", f"import {module}"], timeout=PROBE_TIMEOUT_S).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def expand(targets: Sequence[str]) -> list[str]:
    """The targets as explicit ``scenario:variant`` specs (all of them when empty)."""
    from asyncio_perf_lab.benchmarks.selection import select

    return [f"{sel.scenario.name}:{v}" for sel in select(list(targets)) for v in sel.variants]


def _run_logged(cmd: list[str], log: IO[str]) -> int | None:
    """Run ``cmd`` with its output in ``log``; its exit code, or None when it was stopped."""
    log.write(" ".join(cmd) + "\n")
    log.flush()
    # Own session: on a timeout the whole group (pyperf workers, mock server) is stopped.
    proc = subprocess.Popen(
        cmd,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        return proc.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _stop_group(proc)
        return None
    except BaseException:  # Ctrl-C: leave no workers or mock server behind
        _stop_group(proc)
        raise


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
    targets, excluded = list(config.targets), []
    started = time.perf_counter()
    with open(cell_dir / "run.log", "w", encoding="utf-8") as log:
        while True:
            offset = log.tell()
            code = _run_logged([*base, *targets], log)
            if code in (0, None) or len(excluded) >= MAX_EXCLUDED:
                break
            log.flush()
            with open(cell_dir / "run.log", encoding="utf-8", errors="replace") as reread:
                reread.seek(offset)
                match = FAILED_VARIANT.search(reread.read())
            if match is None or match[1] in excluded:
                break
            excluded.append(match[1])
            targets = [spec for spec in expand(config.targets) if spec not in excluded]
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


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the run's process group, SIGKILL it if it lingers, and reap the run."""
    for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


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
            "wall_s": wall,
            "cells": [cell.as_dict() for cell in cells],
        },
    )


def prepare_matrix_dir(out_dir: Path) -> Path:
    """``out_dir/matrix-<timestamp>``, new; an unwritable place is bad input."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"matrix-{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = out_dir / f"matrix-{stamp}-{suffix}"
    try:
        path.mkdir(parents=True)
    except OSError as exc:
        raise UsageError(f"cannot write to --out {out_dir}: {exc.strerror or exc}") from None
    return path


def run_matrix(
    config: MatrixConfig, say: Callable[[str], None] = print, find: Callable = find_interpreter
) -> tuple[Path, list[Cell]]:
    """Find interpreters, prepare venvs, run every cell; return matrix.json's path and cells."""
    matrix_dir = prepare_matrix_dir(config.out_dir)
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
    manifest = write_manifest(matrix_dir, config, cells, time.perf_counter() - started)
    return manifest, cells
