"""The lab's command line run as a subprocess, the way the tests drive it like a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_lab(*args: str, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``asyncio-lab ARGS`` as a user would run it, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "asyncio_perf_lab.benchmarks", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
