"""Pythons for the matrix: finding an interpreter of a version, and a venv to run the lab in.

For each Python asked for (``3.12``) the interpreter is looked up: the one running this command if
it is that version, else ``python3.X`` on PATH (pyenv shims that cannot run it are skipped), else
``$PYENV_ROOT`` / ``~/.pyenv`` / ``/root/.pyenv`` ``versions/3.X.*``. Every other interpreter gets
its own venv, ``.venv-matrix/3.X``, created on first use and filled from pyproject.toml the way the
Makefile fills ``.venv`` (all dependencies and extras, one ``pip install -r``, an
``.installed-stamp`` newer than pyproject.toml means reuse).
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.environment import REPO_ROOT
from asyncio_perf_lab.benchmarks.venvs import STAMP, fill_venv, lab_requirements, venv_python

__all__ = ["Interpreter", "ensure_venv", "find_interpreter", "has_module", "requirements"]

VENV_ROOT = REPO_ROOT / ".venv-matrix"
PYENV_ROOTS = (os.environ.get("PYENV_ROOT"), "~/.pyenv", "/root/.pyenv")
PROBE_TIMEOUT_S = 20.0
VERSION_CODE = "import sys; print('%d.%d.%d' % sys.version_info[:3])"

Runner = Callable[..., subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class Interpreter:
    """A Python found on this machine: its X.Y, full version, and where it is."""

    version: str  # "3.12"
    full_version: str  # "3.12.1"
    executable: str
    current: bool = False  # the interpreter running this command (its venv is the lab's own)


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
    return lab_requirements(pyproject)


def ensure_venv(
    interpreter: Interpreter,
    venv_root: Path = VENV_ROOT,
    pyproject: Path = REPO_ROOT / "pyproject.toml",
    run: Runner = _run,
) -> tuple[str, str]:
    """(python of a ready venv for ``interpreter``, a note); raises RuntimeError if none can be.

    Reused when its ``.installed-stamp`` is newer than pyproject.toml, like the Makefile's rule.
    If the full install fails it is retried without the uvloop extra (noted: that Python's
    uvloop cell is then reported unavailable, not fatal). ``benchmarks.venvs`` builds it.
    """
    if interpreter.current:
        return interpreter.executable, "the running interpreter and its venv"
    venv = venv_root / interpreter.version
    python = venv_python(venv)
    stamp = venv / STAMP
    if python.exists() and stamp.exists() and stamp.stat().st_mtime >= pyproject.stat().st_mtime:
        return str(python), f"reused {venv}"
    everything, uvloop = requirements(pyproject)
    note = fill_venv(interpreter.executable, venv, everything, optional=uvloop, run=run)
    return str(python), f"created {venv}" + (f"; {note}" if note else "")


def has_module(python: str, module: str, run: Runner = _run) -> bool:
    """Whether ``python`` can import ``module``."""
    try:
        return run([python, "-c", f"import {module}"], timeout=PROBE_TIMEOUT_S).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
