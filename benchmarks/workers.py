"""The one place that builds and runs pyperf worker processes (``run`` and ``ab`` time with it).

A variant is timed in fresh processes of ``benchmarks.worker`` in pyperf's worker mode
(``--worker``), one after the other, as pyperf's own master would start them, and their runs are
merged into one pyperf Benchmark. Loops per value and values per process come from one rule,
``Profile.worker_args(call_s)``: the caller only says how long one call takes. ``ab`` runs a
side's worker in that side's own tree (``cwd``, ``module``); ``matrix`` runs ``asyncio-lab run``
in each interpreter, so it times through here too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyperf

from asyncio_perf_lab.benchmarks.processes import run_process_group
from asyncio_perf_lab.benchmarks.profiles import Profile
from asyncio_perf_lab.benchmarks.worker import WORKER_MODULE

__all__ = [
    "WORKER_TIMEOUT_S",
    "RunError",
    "WorkerTask",
    "measure_call_s",
    "time_in_workers",
    "worker_command",
]

WORKER_TIMEOUT_S = 900  # one worker process; bounded so a hung variant cannot stall CI


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


def run_worker(task: WorkerTask, *pyperf_args: str) -> pyperf.Benchmark:
    """One worker process; its pyperf Benchmark, or RunError with its last lines."""
    with tempfile.TemporaryDirectory(prefix="lab-worker-") as tmp:
        out = Path(tmp) / "bench.json"
        cmd = worker_command(task, out, *pyperf_args)
        try:
            proc = run_process_group(cmd, task.cwd, WORKER_TIMEOUT_S, task.env)
        except subprocess.TimeoutExpired:
            raise RunError(f"{task.who}{task.key} took over {WORKER_TIMEOUT_S}s; stopped") from None
        if proc.returncode != 0 or not out.exists():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise RunError(f"{task.who}{task.key} failed (exit {proc.returncode}):\n{tail}")
        return pyperf.Benchmark.load(str(out))


def measure_call_s(task: WorkerTask, profile: Profile) -> float:
    """Seconds one call takes, by pyperf's own loop calibration in one worker process."""
    bench = run_worker(task, "--calibrate-loops", f"--min-time={profile.min_time}")
    _loops, seconds_per_loop = bench.get_runs()[-1].warmups[-1]  # the last calibration step
    return float(seconds_per_loop)


def time_in_workers(task: WorkerTask, profile: Profile, call_s: float) -> pyperf.Benchmark:
    """``profile.processes`` fresh worker processes, sized for a call of ``call_s``, merged."""
    args = profile.worker_args(call_s)
    bench = run_worker(task, *args)
    for _ in range(profile.processes - 1):
        bench.add_runs(run_worker(task, *args))
    return bench
