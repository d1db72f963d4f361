"""Child processes in a process group of their own, always stopped with everything they started.

A pyperf worker or a matrix cell's ``asyncio-lab run`` starts processes of its own (a mock server,
workers). On a timeout or Ctrl-C the whole group is stopped: SIGTERM, then SIGKILL if it lingers,
so no orphan keeps timing or serving after us.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

__all__ = ["run_logged", "run_process_group", "stop_group"]

GRACE_S = 10.0  # between SIGTERM and SIGKILL


def stop_group(proc: subprocess.Popen[Any], grace_s: float = GRACE_S) -> None:
    """SIGTERM ``proc``'s process group, SIGKILL it if it lingers, and reap ``proc``."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def run_process_group(
    cmd: list[str],
    cwd: Path | None,
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` with its output captured; on a timeout (raised) or Ctrl-C stop its group."""
    with subprocess.Popen(
        cmd,
        cwd=cwd,
        env=None if env is None else dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except BaseException:
            stop_group(proc)
            raise
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def run_logged(cmd: list[str], log: IO[str], cwd: Path | None, timeout: float) -> int | None:
    """Run ``cmd`` with its output appended to ``log``; its exit code, None when it timed out."""
    log.write(" ".join(cmd) + "\n")
    log.flush()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(proc)
        return None
    except BaseException:  # Ctrl-C: leave no workers or mock server behind
        stop_group(proc)
        raise
