"""Run directories: the one way a command makes ``<out>/<name>/`` for what it writes.

``run`` makes ``results/20260101-120000-quick/``, ``ab`` ``results/ab-20260101-120000-quick/``,
``matrix`` ``results/matrix-20260101-120000/``; a name already taken (two runs in one second)
gets ``-2``, ``-3``, ... An unwritable ``--out`` is bad input, reported before any work.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from asyncio_perf_lab.reports.errors import UsageError

__all__ = ["create_run_dir", "point_latest"]


def create_run_dir(out_dir: Path, prefix: str = "", profile: str | None = None) -> Path:
    """Create and return ``out_dir/<prefix><YYYYmmdd-HHMMSS>[-<profile>][-N]``, new and empty."""
    name = prefix + dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    if profile is not None:
        name += f"-{profile}"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for suffix in range(1, 1000):
            path = out_dir / (name if suffix == 1 else f"{name}-{suffix}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return path
    except OSError as exc:
        raise UsageError(f"cannot write to --out {out_dir}: {exc.strerror or exc}") from None
    raise UsageError(f"cannot write to --out {out_dir}: 999 runs named {name} already")


def point_latest(out_dir: Path, run_dir: Path) -> None:
    """Make ``out_dir/latest`` point at ``run_dir``, replacing the old link atomically."""
    tmp = out_dir / f".latest-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, out_dir / "latest")
