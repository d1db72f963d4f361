"""Run directories: the one way a command makes ``<out>/<name>/`` for what it writes.

``run`` makes ``results/20260101-120000-quick/``, ``ab`` ``results/ab-20260101-120000-quick/``,
``matrix`` ``results/matrix-20260101-120000/``; a name already taken (two runs in one second)
gets ``-2``, ``-3``, ... An unwritable ``--out`` is bad input, reported before any work, and so
is a real folder named ``latest`` in it (where ``run`` keeps a link to its newest run).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from pathlib import Path

from asyncio_perf_lab.reports.errors import UsageError

__all__ = ["check_latest", "check_out_dir", "create_run_dir", "point_latest"]


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


def check_out_dir(out_dir: Path) -> None:
    """Before any work: ``out_dir`` exists (made if need be), is writable, and its ``latest`` is
    not a real folder; else UsageError. A run makes its own folder only once it has results."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write to --out {out_dir}: {exc.strerror or exc}") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to --out {out_dir}: permission denied")
    check_latest(out_dir)


def check_latest(out_dir: Path) -> None:
    """UsageError if ``out_dir/latest`` is a real folder (an artifact download makes one): the
    lab replaces only its own link, never a folder of someone's files."""
    latest = out_dir / "latest"
    if latest.is_dir() and not latest.is_symlink():
        raise UsageError(
            f"--out {out_dir}: {latest} is a real folder, not the link the lab keeps there; "
            "move or delete it, or choose another --out"
        )


def point_latest(out_dir: Path, run_dir: Path) -> None:
    """Make ``out_dir/latest`` point at ``run_dir``, replacing the old link atomically.

    UsageError (one line) if it cannot: ``latest`` became a real folder, or the folder is
    read-only.
    """
    check_latest(out_dir)
    tmp = out_dir / f".latest-{os.getpid()}"
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(run_dir.name)
        os.replace(tmp, out_dir / "latest")
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot point {out_dir / 'latest'} at {run_dir.name}: {exc}") from None
