"""Virtualenvs the lab runs in: the one way to create one and fill it from requirement sets.

Two callers, one builder (``fill_venv``):

- ``matrix`` gives each Python version its own venv (``interpreters.ensure_venv``), refilled when
  pyproject.toml is newer than its stamp, like the Makefile's ``.venv``;
- ``ab --base-requirements FILE`` / ``--head-requirements FILE`` gets a venv per requirement set
  (``cached_venv``): ``~/.cache/asyncio-perf-lab/venvs/<hash>``, the hash taken over the creating
  interpreter, the file's text and the lab's own requirements, so the same set is built once and
  reused by every later A/B (``$XDG_CACHE_HOME`` moves the cache).

The lab itself is not installed into a cached venv: each A/B side runs its workers with its own
tree as the working directory, where ``python -m asyncio_perf_lab...`` imports that tree's code
(see ``asyncio_perf_lab/__init__.py``). A copy installed into a venv shared by many A/Bs would be
one tree's code, stale for the next; the requirement sets are what the venv is for.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "CACHE_ROOT",
    "VenvError",
    "cached_venv",
    "fill_venv",
    "lab_requirements",
    "runtime_requirements",
    "venv_python",
]

CACHE_ROOT = (
    Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "asyncio-perf-lab" / "venvs"
)
VENV_TIMEOUT_S = 120.0
INSTALL_TIMEOUT_S = 1200.0
STAMP = ".installed-stamp"

Runner = Callable[..., subprocess.CompletedProcess[str]]


class VenvError(RuntimeError):
    """A venv could not be created or filled; the message carries pip's last lines."""


def _run(cmd: Sequence[str], timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd), capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )


def _tail(proc: subprocess.CompletedProcess[str], lines: int = 3) -> str:
    text = (proc.stderr or proc.stdout or "").strip().splitlines()
    return " | ".join(text[-lines:]) or f"exit {proc.returncode}"


def venv_python(venv: Path) -> Path:
    """The interpreter of ``venv``."""
    return venv / "bin" / "python"


def lab_requirements(pyproject: Path) -> tuple[list[str], list[str]]:
    """(every requirement with every extra, those of the uvloop extra) of a lab pyproject.toml."""
    project = tomllib.loads(pyproject.read_text())["project"]
    extras = project.get("optional-dependencies", {})
    everything = list(project["dependencies"]) + [d for ds in extras.values() for d in ds]
    return everything, list(extras.get("uvloop", []))


def runtime_requirements(pyproject: Path) -> list[str]:
    """What a lab tree needs to time variants: its dependencies and its uvloop extra (no dev);
    none when the tree has no readable pyproject.toml (then the requirement set is all)."""
    try:
        project = tomllib.loads(pyproject.read_text())["project"]
        extras = project.get("optional-dependencies", {})
        return list(project.get("dependencies", [])) + list(extras.get("uvloop", []))
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError):
        return []


def fill_venv(
    creator: str,
    venv: Path,
    requirements: Sequence[str],
    files: Sequence[Path] = (),
    optional: Sequence[str] = (),
    run: Runner = _run,
) -> str:
    """Create ``venv`` with ``creator`` (if needed) and pip-install the requirements; a note.

    ``requirements`` are lines, ``files`` requirement files passed as ``-r`` (their pins and the
    lines are resolved together, so a pin that conflicts with the lab fails here). If that fails
    and ``optional`` is not empty it is retried without those (noted). Raises VenvError.
    """
    python = venv_python(venv)
    if not python.exists():
        try:
            proc = run([creator, "-m", "venv", str(venv)], timeout=VENV_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise VenvError(f"python -m venv {venv} failed: {exc}") from None
        if proc.returncode != 0:
            raise VenvError(f"python -m venv {venv} failed: {_tail(proc)}")
        (venv / ".gitignore").write_text("*\n")  # a venv is never source: git and ruff skip it
    attempts = [list(requirements)]
    if optional:
        attempts.append([r for r in requirements if r not in optional])
    for attempt in attempts:
        listing = venv / "requirements.txt"
        listing.write_text("\n".join(attempt) + "\n")
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        extra = [arg for path in files for arg in ("-r", str(path))]
        try:
            proc = run([*pip, "-r", str(listing), *extra], timeout=INSTALL_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise VenvError(f"pip install into {venv} failed: {exc}") from None
        if proc.returncode == 0:
            (venv / STAMP).touch()
            return "" if attempt is attempts[0] else "uvloop could not be installed"
    raise VenvError(f"pip install into {venv} failed: {_tail(proc)}")


def venv_key(creator_version: str, requirements: Sequence[str], files: Sequence[Path]) -> str:
    """The cache key of a venv: the creating Python, the requirement lines and files' text."""
    digest = hashlib.sha256(creator_version.encode())
    for line in requirements:
        digest.update(b"\0line\0" + line.encode())
    for path in files:
        digest.update(b"\0file\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def cached_venv(
    creator: str,
    creator_version: str,
    requirements: Sequence[str],
    files: Sequence[Path],
    root: Path = CACHE_ROOT,
    run: Runner = _run,
) -> tuple[str, str]:
    """(python of the venv for this requirement set, a note): reused when already built."""
    venv = root / venv_key(creator_version, requirements, files)
    if venv_python(venv).exists() and (venv / STAMP).exists():
        return str(venv_python(venv)), f"reused {venv}"
    venv.parent.mkdir(parents=True, exist_ok=True)
    fill_venv(creator, venv, requirements, files, run=run)
    return str(venv_python(venv)), f"built {venv}"
