"""Server-side work for the "1000 users" scenario: CPU burnt on the loop or in a process pool.

``burn_cpu`` counts CPU time of its own thread, not wall time, so "10 ms of work" stays 10 ms of
work on a busy machine (it just takes longer to get through).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.connection import Connection


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
