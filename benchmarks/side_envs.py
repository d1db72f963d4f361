"""The environment of an A/B side: which Python its processes run, with which packages and loop.

``ab --base-python PY --head-python PY`` runs each side in its own interpreter or virtualenv,
``--base-requirements FILE`` / ``--head-requirements FILE`` in a cached venv built from a
requirement set (``benchmarks.venvs``), ``--base-loop`` / ``--head-loop`` on its own event loop.
Whatever a side runs in is checked at the door, each problem one line naming the flag:

- the interpreter must exist (a path, a command on PATH, or ``3.12`` found as ``matrix`` finds
  it) and be Python >= 3.11 (checked while parsing);
- it must import the lab's runtime dependencies (aiohttp, pyperf, orjson) and the side's loop.

What each side ran with is read *from that interpreter* (not from this process) and recorded:
Python, implementation, executable, loop and its version, aiohttp, uvloop, pyperf, orjson, and
the requirement file and cached venv when one was used.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.interpreters import VERSION_CODE, find_interpreter
from asyncio_perf_lab.benchmarks.venvs import (
    VenvError,
    cached_venv,
    runtime_requirements,
    venv_key,
)
from asyncio_perf_lab.reports.errors import UsageError

__all__ = [
    "MIN_PYTHON",
    "EnvRequest",
    "SideEnv",
    "check_python",
    "prepare_env",
    "probe",
]

MIN_PYTHON = (3, 11)
NEEDED = ("aiohttp", "pyperf", "orjson")  # what a worker and the scenario registry import
PROBE_TIMEOUT_S = 60.0

# Run by the side's interpreter: which of the lab's packages it has, and whether its loop imports.
PROBE_SCRIPT = """
import importlib, importlib.metadata as md, json, platform, sys
needed, loop = sys.argv[1].split(","), sys.argv[2]
out = {"python": platform.python_version(), "implementation": platform.python_implementation(),
       "executable": sys.executable, "missing": [], "loop": loop, "loop_version": None}
for name in needed + ([loop] if loop != "asyncio" else []):
    try:
        importlib.import_module(name)
    except Exception as exc:
        out["missing"].append(name + " (" + type(exc).__name__ + ")")
for name in ("aiohttp", "uvloop", "pyperf", "orjson"):
    try:
        out[name] = md.version(name)
    except md.PackageNotFoundError:
        out[name] = None
if loop != "asyncio":
    out["loop_version"] = out.get(loop)
json.dump(out, sys.stdout)
"""


@dataclass(frozen=True)
class EnvRequest:
    """What the command line asked for one side: interpreter, requirement set, loop."""

    python: str | None = None  # executable (checked by ``check_python``); None: this one
    requirements: Path | None = None
    loop: str = "asyncio"

    def describe(self) -> str:
        """A short phrase for the side's name: ``python3.12, uvloop`` (empty when default)."""
        parts = [Path(self.python).name if self.python else "", self.loop]
        if self.requirements:
            parts.append(self.requirements.name)
        return ", ".join(p for p in parts if p)


@dataclass
class SideEnv:
    """The environment a side's processes really run in, as its own interpreter reports it."""

    python: str  # the executable every process of the side starts
    loop: str
    facts: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """``.venv: CPython 3.12.1, uvloop 0.21.0, aiohttp 3.9.5`` (where: the folder above bin)."""
        version = self.facts.get("loop_version")
        loop = f"{self.loop} {version}" if version else self.loop
        path = Path(self.python)
        where = path.parent.parent.name if path.parent.name == "bin" else str(path)
        return (
            f"{where}: {self.facts.get('implementation', 'Python')} "
            f"{self.facts.get('python', '?')}, {loop}, aiohttp {self.facts.get('aiohttp') or '?'}"
        )


def _version(executable: str) -> tuple[int, ...] | None:
    """X.Y.Z of ``executable`` (it runs a one-liner any Python can run), None if it cannot run."""
    try:
        proc = subprocess.run(
            [executable, "-c", VERSION_CODE],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", proc.stdout.strip())
    return tuple(int(part) for part in match.groups()) if proc.returncode == 0 and match else None


def check_python(text: str) -> str:
    """An interpreter named by path, command or ``3.X``, of a version the lab supports.

    Returns its path (a venv's ``bin/python`` stays as given: resolving the link would leave the
    venv). Anything else raises ValueError with one line: no such interpreter, one that does not
    run, or a version below 3.11.
    """
    if re.fullmatch(r"3\.\d{1,2}", text):
        found = find_interpreter(text)
        if found is None:
            raise ValueError(f"{text}: no Python {text} found (not on PATH, not under pyenv)")
        executable = found.executable
    elif os.sep in text:
        executable = os.path.abspath(text)
        if not (os.path.isfile(executable) and os.access(executable, os.X_OK)):
            raise ValueError(f"{text}: no such interpreter (not an executable file)")
    else:
        which = shutil.which(text)
        if which is None:
            raise ValueError(f"{text}: no such interpreter on PATH")
        executable = which
    version = _version(executable)
    if version is None:
        raise ValueError(f"{text}: does not run as a Python interpreter")
    if version[:2] < MIN_PYTHON:
        shown = ".".join(map(str, version))
        raise ValueError(f"{text} is Python {shown}; the lab needs Python >= 3.11")
    return executable


def probe(python: str, loop: str, cwd: Path, env: dict[str, str], what: str) -> dict[str, Any]:
    """What ``python`` has (run in the side's tree); UsageError if it lacks the lab's needs."""
    try:
        proc = subprocess.run(
            [python, "-c", PROBE_SCRIPT, ",".join(NEEDED), loop],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
        facts = json.loads(proc.stdout) if proc.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        raise UsageError(f"{what}: cannot inspect {python}: {exc}") from None
    if facts is None:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"{what}: cannot inspect {python}: {last}")
    missing = [m for m in facts["missing"] if m.split()[0] in NEEDED]
    if missing:
        flag = f"--{what.split()[0]}-requirements"
        raise UsageError(
            f"{what}: {python} (Python {facts['python']}) lacks the lab's dependencies: "
            f"{', '.join(missing)}; use a venv that has them, or {flag} FILE"
        )
    if facts.pop("missing"):
        raise UsageError(
            f"{what}: loop {loop} is not importable in {python} (Python {facts['python']})"
        )
    return facts


def prepare_env(
    request: EnvRequest,
    tree: Path,
    env: dict[str, str],
    what: str,
    say: Any = None,
) -> SideEnv:
    """The side's interpreter (a cached venv first, when a requirement set asks for one), checked.

    The venv holds the requirement file's pins resolved together with the side tree's own
    dependencies (pyproject.toml and its uvloop extra), so a pin the lab cannot run with fails
    here, in one line.
    """
    python = request.python or sys.executable
    venv_note = None
    if request.requirements is not None:
        creator_version = probe_version_text(python)
        runtime = runtime_requirements(tree / "pyproject.toml")
        if say is not None:
            key = venv_key(f"{python} {creator_version}", runtime, [request.requirements])
            say(f"{what}: virtualenv for {request.requirements} ({key}) ...")
        try:
            python, venv_note = cached_venv(
                python, f"{python} {creator_version}", runtime, [request.requirements]
            )
        except VenvError as exc:
            raise UsageError(f"{what}: {request.requirements}: {exc}") from None
    facts = probe(python, request.loop, tree, env, what)
    if request.requirements is not None:
        facts["requirements"] = str(request.requirements)
        facts["venv"] = str(Path(python).parent.parent)
        facts["venv_note"] = venv_note
    return SideEnv(python, request.loop, facts)


def probe_version_text(python: str) -> str:
    """``3.12.1`` of ``python`` (already checked to run)."""
    version = _version(python)
    return ".".join(map(str, version)) if version else "?"
