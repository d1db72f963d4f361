"""pyperf entry script for one variant: ``... worker --scenario S ...``.

pyperf re-runs this script in fresh worker processes, passing our settings back as command-line
arguments (workers inherit almost no environment). Each worker builds one event loop and one
Context (session, executors) on its first call and keeps them warm; only the variant's coroutine
is inside the timer.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
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
    metadata: dict[str, Any] = {
        "scenario": args.scenario,
        "variant": args.variant,
        "latency": args.latency or "per route",  # pyperf refuses empty metadata
        "event_loop": args.loop,
    }
    runner.bench_time_func(f"{args.scenario}:{args.variant}", time_variant, args, metadata=metadata)


if __name__ == "__main__":
    main()
