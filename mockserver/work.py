"""Server-side work for the "1000 users" scenario: the ``/work/*`` endpoints, CPU burnt on the
loop or in a process pool.

``burn_cpu`` counts CPU time of its own thread, not wall time, so "10 ms of work" stays 10 ms of
work on a busy machine (it just takes longer to get through).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, Protocol

from aiohttp import web

from asyncio_perf_lab.mockserver.params import number

MAX_ASYNC_SLEEP_MS = 60_000
MAX_BLOCKING_MS = 10_000  # blocking the loop longer would also stall shutdown


def burn_cpu(ms: float) -> float:
    """Spin until this thread has used ``ms`` milliseconds of CPU time; return the ms used."""
    start = time.thread_time()
    end = start + ms / 1000
    x = 0
    while time.thread_time() < end:
        for i in range(200):  # a little arithmetic between clock reads, like real work
            x = (x + i * i) % 1_000_003
    return (time.thread_time() - start) * 1000


def _exit_on_eof(lifeline: Connection) -> None:
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv_bytes()  # the server never sends: this returns only by raising at EOF
    os._exit(0)


def watch_lifeline(lifeline: Connection) -> None:
    """Pool initializer: exit when the server's end of ``lifeline`` closes (even by SIGKILL).

    Without it a killed server leaves its workers behind: they wait on the task queue, whose
    write end they hold themselves, and the forkserver stays up while they do.
    """
    threading.Thread(
        target=_exit_on_eof, args=(lifeline,), name="watch-server", daemon=True
    ).start()


class WorkPool:
    """A process pool started on first use, so servers that never offload never pay for it."""

    def __init__(self, workers: int | None = None) -> None:
        self._workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None
        self._lifeline: tuple[Connection, Connection] | None = None

    def get(self) -> ProcessPoolExecutor:
        """The pool, created now if this is the first offloaded request."""
        if self._pool is None:
            # forkserver: forking the server after a to_thread call (large.json) is unsafe.
            method = (
                "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else None
            )
            context = multiprocessing.get_context(method)
            # Workers get the read end; only this process holds the write end. The read end stays
            # open here too, because workers start on demand and each one needs a copy.
            reader, writer = context.Pipe(duplex=False)
            self._lifeline = (reader, writer)
            self._pool = ProcessPoolExecutor(
                self._workers, mp_context=context, initializer=watch_lifeline, initargs=(reader,)
            )
        return self._pool

    def close(self) -> None:
        """Stop the workers without waiting for queued work, so shutdown stays prompt."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._lifeline is not None:
            for end in self._lifeline:
                end.close()
            self._lifeline = None


class _HasPool(Protocol):
    pool: WorkPool


def _work_ms(request: web.Request, high: int) -> float:
    return number("ms", request.query.get("ms"), 0, high, f"milliseconds 0..{high}")


def _work_result(ms: float) -> dict[str, Any]:
    # The same body for every kind of work, so client variants that use different kinds compare.
    return {"work_ms": int(ms) if ms.is_integer() else ms}


async def work_async_sleep(api: _HasPool, request: web.Request) -> dict[str, Any]:
    """Wait ``ms`` without blocking: the loop serves others meanwhile."""
    ms = _work_ms(request, MAX_ASYNC_SLEEP_MS)
    await asyncio.sleep(ms / 1000)
    return _work_result(ms)


async def work_blocking_sleep(api: _HasPool, request: web.Request) -> dict[str, Any]:
    """Block the whole loop for ``ms`` with time.sleep, on purpose: the anti-pattern."""
    ms = _work_ms(request, MAX_BLOCKING_MS)
    time.sleep(ms / 1000)
    return _work_result(ms)


async def work_cpu(api: _HasPool, request: web.Request) -> dict[str, Any]:
    """Burn ``ms`` of CPU on the loop: every other request waits for it."""
    ms = _work_ms(request, MAX_BLOCKING_MS)
    burn_cpu(ms)
    return _work_result(ms)


async def work_cpu_offloaded(api: _HasPool, request: web.Request) -> dict[str, Any]:
    """Burn ``ms`` of CPU in a worker process: the loop stays free."""
    ms = _work_ms(request, MAX_BLOCKING_MS)
    await asyncio.get_running_loop().run_in_executor(api.pool.get(), burn_cpu, ms)
    return _work_result(ms)
