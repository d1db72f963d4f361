"""Environment metadata recorded with every run, so numbers are never read without their context."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.loops import loop_version

REPO_ROOT = Path(__file__).resolve().parent.parent


def git_revision(cwd: Path = REPO_ROOT) -> tuple[str | None, bool | None]:
    """(commit hash, working tree dirty?) or (None, None) outside a git checkout."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return rev, bool(dirty)


def environment(loop: str) -> dict[str, Any]:
    """Python, loop, library versions, CPUs, load and revision of this run."""
    rev, dirty = git_revision()
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "loop": loop,
        "loop_version": loop_version(loop),
        "aiohttp": version("aiohttp"),
        "pyperf": version("pyperf"),
        "cpu_count": os.cpu_count() or 1,
        "load_avg": list(os.getloadavg()),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "git_revision": rev,
        "git_dirty": dirty,
    }
