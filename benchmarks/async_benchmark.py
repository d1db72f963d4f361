"""``async_benchmark``: time a coroutine function through pytest-benchmark, on a warm loop.

pytest-benchmark times plain callables, so each timed call is a *sync* function that runs one
fresh coroutine to completion on the plugin's event loop: ``loop.run_until_complete(fn(...))``.
The loop is created once per session, outside every timer. pytest-benchmark does the rest
(rounds, calibration, stats, ``--benchmark-json``/``-autosave``/``-compare-fail``). After the
timing, one separate, untimed call runs under probes and fills ``benchmark.extra_info``: the
loop's lag (a timer chain), the requests of aiohttp sessions created during the call (a
TraceConfig) and, when the test uses ``mock_api``, what the server saw (requests, max in flight).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import pytest

from asyncio_perf_lab.benchmarks.loops import new_event_loop

__all__ = ["INSIDE_ASYNC_TEST", "AsyncBenchmark", "LabLoop", "loop_running"]

INSIDE_ASYNC_TEST = (
    "async_benchmark cannot run inside an async def test: it times on its own warm event loop, "
    "and a loop is already running this test; make the test a plain def"
)
FLOOR_CALLS = 200  # empty coroutines run to measure what one timed call costs by itself


class StatsSource(Protocol):
    """The mock server as the probe reads it (``mock_api``)."""

    def stats(self) -> dict[str, Any]: ...
    def reset(self) -> None: ...


class LabLoop:
    """The plugin's event loop: one per session, warm, closed cleanly at the end."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop = new_event_loop(name)
        self._floor_s: float | None = None

    def floor_s(self) -> float:
        """The fastest a timed call can be: ``run_until_complete`` of an empty coroutine (min)."""
        if self._floor_s is None:
            best = float("inf")
            for _ in range(FLOOR_CALLS):
                start = time.perf_counter()
                self.loop.run_until_complete(_nothing())
                best = min(best, time.perf_counter() - start)
            self._floor_s = best
        return self._floor_s

    def close(self) -> None:
        """Cancel what is left, finish async generators and the default executor, close."""
        loop = self.loop
        try:
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


async def _nothing() -> None:
    return None


class AsyncBenchmark:
    """``async_benchmark(fn, *args, **kwargs)``: time ``fn``'s coroutine, return its result."""

    def __init__(self, benchmark: Any, lab_loop: LabLoop, server: StatsSource | None) -> None:
        self._benchmark = benchmark
        self._lab_loop = lab_loop
        self._server = server

    @property
    def extra_info(self) -> dict[str, Any]:
        """pytest-benchmark's ``extra_info`` of this test (saved in its JSON)."""
        return self._benchmark.extra_info

    def __call__(
        self, fn: Callable[..., Coroutine[Any, Any, Any]], /, *args: Any, **kwargs: Any
    ) -> Any:
        """Time ``fn(*args, **kwargs)`` from its first step to completion; its result."""
        if loop_running():
            pytest.fail(INSIDE_ASYNC_TEST, pytrace=False)
        if not (inspect.iscoroutinefunction(fn) or _async_callable(fn)):
            raise TypeError(
                f"async_benchmark times coroutine functions; {fn!r} is not an async def "
                "(time sync code with the benchmark fixture)"
            )
        run = self._lab_loop.loop.run_until_complete

        def one_call() -> Any:
            return run(fn(*args, **kwargs))  # a fresh coroutine each call: it runs only once

        result = self._benchmark(one_call)
        if self._benchmark.enabled:
            self.extra_info.update(self._probe(fn, args, kwargs))
        return result

    def _probe(
        self, fn: Callable[..., Coroutine[Any, Any, Any]], args: tuple, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """One untimed call under the probes: loop lag, requests, the server's concurrency."""
        from asyncio_perf_lab.benchmarks.probes.lag import LoopLagProbe
        from asyncio_perf_lab.benchmarks.probes.requests import RequestTracer, trace_new_sessions

        lab_loop = self._lab_loop
        floor_s = lab_loop.floor_s()
        lag = LoopLagProbe()
        tracer = RequestTracer()

        async def probed() -> None:
            async with lag:
                await fn(*args, **kwargs)

        if self._server is not None:
            self._server.reset()  # sync HTTP: before the loop runs, never inside the call
        with trace_new_sessions(tracer):
            lab_loop.loop.run_until_complete(probed())
        summary = lag.summary()
        info: dict[str, Any] = {
            "loop": lab_loop.name,
            "loop_lag_p99_ms": round(summary["p99_ms"], 3),
            "loop_lag_max_ms": round(summary["max_ms"], 3),
            "requests": len(tracer.spans),
            "call_floor_us": round(floor_s * 1e6, 2),
        }
        if self._server is not None:
            stats = self._server.stats()
            info["server_requests"] = stats["total_requests"]
            info["server_max_in_flight"] = stats["max_in_flight"]
        return info


def loop_running() -> bool:
    """Whether this thread is inside a running event loop (an async test, say)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _async_callable(fn: Any) -> bool:
    call = getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    return call is not None and inspect.iscoroutinefunction(call)
