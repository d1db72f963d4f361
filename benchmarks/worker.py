"""pyperf entry script for one variant: ``... worker --scenario S ...``.

pyperf re-runs this script in fresh worker processes, passing our settings back as command-line
arguments (workers inherit almost no environment). Each worker builds one event loop and one
Context (session, executors) on its first call and keeps them warm; only the variant's coroutine
is inside the timer. A worker is never left behind by its runner (``guard_worker_group``).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import ctypes
import json
import os
import select
import signal
import sys
import time
from contextlib import AsyncExitStack
from typing import Any

import pyperf

OUR_ARGS = ("scenario", "variant", "base_url", "latency", "workload", "loop", "scenarios")

WORKER_MODULE = "asyncio_perf_lab.benchmarks.worker"  # what `python -m` runs in a worker


class WarmVariant:
    """One loop and one Context per worker, built lazily so the pyperf master builds none."""

    def __init__(self, args: argparse.Namespace) -> None:
        # Imported here, not at the top: the pyperf master process never needs them.
        from asyncio_perf_lab import scenarios
        from asyncio_perf_lab.benchmarks.context import open_context
        from asyncio_perf_lab.benchmarks.loops import new_event_loop

        scenario = scenarios.load(args.scenario, args.scenarios)
        workload = type(scenario.workload)(**json.loads(args.workload))
        self.run = scenario.variants[args.variant].run
        self.loop = new_event_loop(args.loop)
        asyncio.set_event_loop(self.loop)
        self.stack = AsyncExitStack()
        self.ctx = self.loop.run_until_complete(
            self.stack.enter_async_context(open_context(args.base_url, args.latency, workload))
        )
        atexit.register(self.close)

    async def timed(self, loops: int) -> float:
        run, ctx = self.run, self.ctx
        start = time.perf_counter()
        for _ in range(loops):
            await run(ctx)
        return time.perf_counter() - start

    def close(self) -> None:
        self.loop.run_until_complete(self.stack.aclose())
        self.loop.close()


_warm: WarmVariant | None = None


def time_variant(loops: int, args: argparse.Namespace) -> float:
    """pyperf's time function: seconds for ``loops`` awaits of the variant on the warm loop."""
    global _warm
    if _warm is None:
        _warm = WarmVariant(args)
    return _warm.loop.run_until_complete(_warm.timed(loops))


PR_SET_PDEATHSIG = 1  # prctl option: a signal this process gets when its parent dies


def guard_worker_group() -> None:
    """Fork a guard that kills this worker's process group when the process that started it dies.

    The runner starts each worker in a process group of its own and stops that group itself on
    a timeout, an error, Ctrl-C or SIGTERM. Only a runner killed by SIGKILL cannot; then the
    guard, watching the runner through a pidfd, kills the group: the worker, its process pool
    and forkserver. The guard dies with the worker (PR_SET_PDEATHSIG), so it never outlives it.
    Linux only; called before any thread exists, so the fork is safe.
    """
    if not sys.platform.startswith("linux"):
        return
    runner, worker = os.getppid(), os.getpid()
    if os.fork() != 0:
        return
    try:  # the guard: never returns, never flushes the worker's buffers, never runs its atexit
        os.closerange(0, 1 << 16)  # hold none of the worker's pipes open after it exits
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == worker:  # else the worker exited before the line above
            if runner != 1:  # 1: the runner was gone before the worker even started
                with contextlib.suppress(ProcessLookupError):  # already gone
                    select.select([os.pidfd_open(runner)], [], [])  # readable once it exits
            # Only a group the worker leads is ours to kill (the runner's start_new_session).
            if os.getpgid(0) == worker:
                os.killpg(worker, signal.SIGKILL)
            else:
                os.kill(worker, signal.SIGKILL)
    finally:
        os._exit(0)


def add_cmdline_args(cmd: list[str], args: argparse.Namespace) -> None:
    """Hand our settings to each worker process on its command line."""
    for name in OUR_ARGS:
        if getattr(args, name) is not None:
            cmd.append(f"--{name.replace('_', '-')}={getattr(args, name)}")


def main() -> None:
    runner = pyperf.Runner(program_args=("-m", WORKER_MODULE), add_cmdline_args=add_cmdline_args)
    parser = runner.argparser
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--latency", required=True, help="empty: send none (routes decide)")
    parser.add_argument("--workload", required=True, help="workload fields as JSON")
    parser.add_argument("--loop", default="asyncio")
    parser.add_argument("--scenarios", default=None, help="a user's scenario folder")
    args = runner.parse_args()
    if args.worker:
        guard_worker_group()
    metadata: dict[str, Any] = {
        "scenario": args.scenario,
        "variant": args.variant,
        "latency": args.latency or "per route",  # pyperf refuses empty metadata
        "event_loop": args.loop,
    }
    runner.bench_time_func(f"{args.scenario}:{args.variant}", time_variant, args, metadata=metadata)


if __name__ == "__main__":
    main()
