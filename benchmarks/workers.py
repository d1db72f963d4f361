"""The one place that builds and runs pyperf worker processes (``run`` and ``ab`` time with it).

A variant is timed in fresh processes of ``benchmarks.worker`` in pyperf's worker mode
(``--worker``), one after the other, as pyperf's own master would start them, and their runs are
merged into one pyperf Benchmark. Loops per value and values per process come from one rule,
``Profile.worker_args(call_s)``: the caller only says how long one call takes. The processes of
one timing share its time limit (``benchmarks.deadlines``); a worker past it is stopped with its
whole process group, and a failed worker is named in one line, never pyperf's traceback. ``ab``
runs a side's worker in that side's own tree (``cwd``, ``module``); ``matrix`` runs
``asyncio-lab run`` in each interpreter, so it times through here too.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyperf

from asyncio_perf_lab.benchmarks.deadlines import Limits, human, timing_phase
from asyncio_perf_lab.benchmarks.processes import run_process_group
from asyncio_perf_lab.benchmarks.profiles import Profile
from asyncio_perf_lab.benchmarks.worker import WORKER_MODULE

__all__ = [
    "RunError",
    "WorkerTask",
    "last_words",
    "measure_call_s",
    "time_in_workers",
    "worker_command",
]

DEFAULT_LIMITS = Limits()
FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')


class RunError(RuntimeError):
    """A variant's timed run failed; the message carries the worker's last words."""


@dataclass(frozen=True)
class WorkerTask:
    """What a worker times: one variant against a running mock server, and where it runs."""

    scenario: str
    variant: str
    base_url: str
    latency: str
    workload: Mapping[str, Any]
    loop: str = "asyncio"
    module: str = WORKER_MODULE  # an ab side's own (older trees had `benchmarks.worker`)
    cwd: Path | None = None  # an ab side's tree; None: where the lab was started
    env: Mapping[str, str] | None = None  # None: this process's environment
    who: str = ""  # names the side in messages: "base ", "head "
    options: tuple[str, ...] = field(default=())  # more worker flags (e.g. a scenarios folder)
    python: str | None = None  # an ab side's own interpreter or venv; None: this one

    @property
    def key(self) -> str:
        """``scenario:variant``."""
        return f"{self.scenario}:{self.variant}"


def worker_command(task: WorkerTask, output: Path, *pyperf_args: str) -> list[str]:
    """The command line of one worker process that writes its pyperf JSON to ``output``."""
    return [
        task.python or sys.executable,
        "-m",
        task.module,
        f"--scenario={task.scenario}",
        f"--variant={task.variant}",
        f"--base-url={task.base_url}",
        f"--latency={task.latency}",
        f"--workload={json.dumps(dict(task.workload))}",
        f"--loop={task.loop}",
        *task.options,
        "--worker",
        *pyperf_args,
        "--quiet",
        f"--output={output}",
    ]


def last_words(output: str) -> str:
    """What a failed worker said last, in one line: its last line, and where the error was raised.

    ``ValueError: boom (faulty.py:75 in raises)``: the exception line of a traceback, and the
    last frame it names; without a traceback, the last line alone.
    """
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    if not lines:
        return "it printed nothing"
    frames = [FRAME.match(line) for line in lines]
    last = next((m for m in reversed(frames) if m is not None), None)
    if last is None:
        return lines[-1]
    return f"{lines[-1]} ({Path(last['file']).name}:{last['line']} in {last['func']})"


def run_worker(task: WorkerTask, *pyperf_args: str, timeout_s: float) -> pyperf.Benchmark:
    """One worker process; its pyperf Benchmark, or RunError in one line.

    ``subprocess.TimeoutExpired`` when it runs past ``timeout_s`` (its process group stopped).
    """
    with tempfile.TemporaryDirectory(prefix="lab-worker-") as tmp:
        out = Path(tmp) / "bench.json"
        cmd = worker_command(task, out, *pyperf_args)
        proc = run_process_group(cmd, task.cwd, max(timeout_s, 0.0), task.env)
        if proc.returncode != 0 or not out.exists():
            said = last_words(proc.stderr or proc.stdout or "")
            how = (
                f"killed by {signal.Signals(-proc.returncode).name}"
                if proc.returncode < 0
                else f"exit {proc.returncode}"
            )
            raise RunError(f"{task.who}{task.key} failed in its worker ({how}): {said}")
        return pyperf.Benchmark.load(str(out))


def measure_call_s(task: WorkerTask, profile: Profile, limits: Limits = DEFAULT_LIMITS) -> float:
    """Seconds one call takes, by pyperf's own loop calibration in one worker process."""
    args = ("--calibrate-loops", f"--min-time={profile.min_time}")
    try:
        bench = run_worker(task, *args, timeout_s=limits.cap_s)
    except subprocess.TimeoutExpired:
        raise RunError(
            f"{task.who}{task.key} took over {human(limits.cap_s)} to calibrate its loops; stopped"
        ) from None
    _loops, seconds_per_loop = bench.get_runs()[-1].warmups[-1]  # the last calibration step
    return float(seconds_per_loop)


def time_in_workers(
    task: WorkerTask, profile: Profile, call_s: float, limits: Limits = DEFAULT_LIMITS
) -> pyperf.Benchmark:
    """``profile.processes`` fresh worker processes, sized for a call of ``call_s``, merged.

    All of them together get the timing phase's limit (``benchmarks.deadlines``); past it the
    running worker's process group is stopped and RunError says so with the arithmetic.
    """
    phase = timing_phase(task.key, profile, call_s, "as measured")
    limit_s = limits.limit_s(phase)
    deadline = time.monotonic() + limit_s
    args = profile.worker_args(call_s)
    bench: pyperf.Benchmark | None = None
    try:
        for _ in range(profile.processes):
            run = run_worker(task, *args, timeout_s=deadline - time.monotonic())
            if bench is None:
                bench = run
            else:
                bench.add_runs(run)
    except subprocess.TimeoutExpired:
        raise RunError(
            f"{task.who}{task.key} took over its timing limit of {human(limit_s)} "
            f"(it needs ~{human(phase.needs_s)}: {phase.arithmetic()}); stopped its workers"
        ) from None
    assert bench is not None  # a profile has at least one process
    return bench
