"""Start the mock API as its own process, wait for its readiness line, and always stop it.

The server runs in a separate process so a client variant that blocks its own loop can never
stall the server. ``MockServer`` is the one launcher of the lab::

    with MockServer(latency="50ms", seed=1) as server:      # or: async with MockServer() as ...
        ... server.url ...                                   # http://127.0.0.1:PORT
        server.stats()

No orphans: the context manager stops the process on normal exit, on exceptions and on
KeyboardInterrupt (SIGTERM, then SIGKILL after a grace period), and the server itself exits when
its stdin reaches EOF, which happens when the launching process dies, even by SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from asyncio_perf_lab.mockserver.limits import raise_open_files_limit

REPO_ROOT = Path(__file__).resolve().parent.parent
READY = re.compile(rb"listening on (http://\S+)")
STOP_GRACE_S = 5.0
STDERR_TAIL_LINES = 20
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never proxied


class MockServerError(RuntimeError):
    """The server process could not be started (it died, or was not ready in time)."""


class ServerProcess:
    """A server child process behind a readiness line ``... listening on http://HOST:PORT``."""

    def __init__(
        self, argv: Sequence[str], name: str = "server", startup_timeout: float = 10.0
    ) -> None:
        self.argv = list(argv)
        self.name = name
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._url: str | None = None
        self._lock = threading.RLock()
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        if self._url is None:
            raise MockServerError(f"{self.name} is not running")
        return self._url

    @property
    def pid(self) -> int | None:
        """The process id while the process runs (for tests that check nothing is left behind)."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> Self:
        """Launch the process and block until it prints its readiness line."""
        with self._lock:
            if self._stopping.is_set() or self._proc is not None:
                raise MockServerError(f"{self.name} was already started; use a new instance")
            raise_open_files_limit()  # the child inherits the raised soft limit
            # A file, not a pipe, so a chatty child never blocks; closed in stop().
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
            try:
                self._proc = subprocess.Popen(
                    self.argv,
                    cwd=REPO_ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=self._stderr,
                    bufsize=0,
                )
                self._url = self._wait_ready(self._proc)
            except BaseException:
                self.stop()
                raise
        return self

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> str:
        assert proc.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while True:
                if match := READY.search(buffer):
                    return match[1].decode().rstrip("/")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise MockServerError(
                        f"{self.name} was not ready within {self.startup_timeout:g}s"
                        f"{self._stderr_tail()}"
                    )
                if self._stopping.is_set():
                    raise MockServerError(f"{self.name} was stopped while starting")
                if selector.select(min(remaining, 0.05)):
                    chunk = os.read(proc.stdout.fileno(), 4096)
                    if not chunk:  # stdout closed: the process is exiting
                        try:
                            code = proc.wait(timeout=2)
                        except subprocess.TimeoutExpired:
                            code = None
                        raise MockServerError(
                            f"{self.name} exited (code {code}) before it was ready"
                            f"{self._stderr_tail()}"
                        )
                    buffer += chunk

    def failure(self, answer_within_s: float = 2.0) -> str | None:
        """Why the running server can no longer serve a run, in one line; None while it can.

        It died (its exit code and last stderr line), or it is alive but does not answer
        ``GET /health`` within ``answer_within_s`` (stopped, or its loop blocked).
        """
        with self._lock:
            proc, url = self._proc, self._url
            if proc is None or url is None:
                return None
            code = proc.poll()
            if code is not None:
                how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
                return f"the {self.name} died ({how}); {self._last_stderr_line()}"
        try:
            with _NO_PROXY.open(f"{url}/health", timeout=answer_within_s) as resp:
                resp.read()
        except OSError as exc:
            reason = getattr(exc, "reason", exc)
            return (
                f"the {self.name} (pid {proc.pid}) stopped answering: GET /health got no "
                f"answer within {answer_within_s:g} s ({reason})"
            )
        return None

    def _last_stderr_line(self) -> str:
        if self._stderr is None:
            return "its stderr was empty"
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - 4096))  # the tail is enough for a last line
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        return f"its last stderr line: {lines[-1].strip()}" if lines else "its stderr was empty"

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        if not lines:
            return "; its stderr was empty"
        return "; its stderr:\n" + "\n".join(lines[-STDERR_TAIL_LINES:])

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after a grace period) and reap it; idempotent."""
        self._stopping.set()
        with self._lock:
            proc, self._proc, self._url = self._proc, None, None
            try:
                if proc is not None:
                    _terminate(proc)
            finally:
                if proc is not None:
                    for pipe in (proc.stdin, proc.stdout):
                        if pipe is not None:
                            pipe.close()
                if self._stderr is not None:
                    self._stderr.close()
                    self._stderr = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        try:
            await asyncio.to_thread(self.start)
        except BaseException:
            # Cancelled while the start thread still runs: stop waits for it, then cleans up.
            await asyncio.to_thread(self.stop)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, wait, SIGKILL: the process is gone and reaped when this returns, even on Ctrl-C."""
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.send_signal(signal.SIGCONT)  # a stopped server handles SIGTERM only once woken
            proc.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class MockServer(ServerProcess):
    """The mock API in its own process: ``with MockServer(latency="50ms") as s: s.url``.

    ``routes``: a user's routes TOML file (``mockserver.routes``), served beside the built-ins.
    """

    def __init__(
        self,
        latency: str = "0ms",
        seed: int | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 10.0,
        routes: str | os.PathLike[str] | None = None,
    ) -> None:
        argv = [
            sys.executable,
            "-m",
            "asyncio_perf_lab.mockserver",
            "--port",
            "0",
            "--latency",
            latency,
        ]
        if seed is not None:
            argv += ["--seed", str(seed)]
        if routes is not None:
            # Absolute: the server runs in the lab's directory, not the caller's.
            argv += ["--routes", str(Path(routes).resolve())]
        argv += ["--watch-stdin", *extra_args]  # extra_args last: a later --port wins
        super().__init__(argv, name="mockserver", startup_timeout=startup_timeout)
        self.latency = latency
        self.seed = seed
        self.routes = routes

    def stats(self) -> dict[str, Any]:
        """``GET /stats`` (sync, for set-up code and probes outside the timed section)."""
        with _NO_PROXY.open(f"{self.url}/stats", timeout=10) as resp:
            return json.loads(resp.read())

    def reset_stats(self, loop_lag: bool = False) -> None:
        """``POST /stats/reset``: zero the counters, restart the seeded streams; ``loop_lag``:
        sample the server loop's lag in the new window."""
        query = "?loop_lag=1" if loop_lag else ""
        request = urllib.request.Request(f"{self.url}/stats/reset{query}", data=b"", method="POST")
        with _NO_PROXY.open(request, timeout=10) as resp:
            resp.read()
