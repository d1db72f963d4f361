"""Connections, writes and reads at the asyncio transport level: requests from any asyncio client.

aiohttp's TraceConfig sees only aiohttp sessions that carry it. Every asyncio client (aiohttp,
httpx through anyio, a raw ``asyncio.open_connection``) opens its sockets with
``loop.create_connection``, so ``TransportProbe`` wraps that method (on the standard loop class,
restored after) and, on each transport it returns, the instance's ``write``/``writelines`` and
its protocol's ``data_received``/``buffer_updated``/``eof_received``. A connection's traffic is
cut into exchanges: a write after a read starts the next one (HTTP/1.1 request, response). Each
exchange keeps the task and the user line that wrote it, when its first and last bytes came
back, and, when its first bytes look like HTTP, the request line ("GET /users/1").

uvloop's transports are C objects with no Python methods to wrap: there the probe sees nothing
and ``unseen()`` says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from asyncio_perf_lab.benchmarks.probes.locations import locate, snapshot

__all__ = ["Connection", "Exchange", "TransportProbe"]

_LOOP_CLASS = asyncio.base_events.BaseEventLoop
_HTTP_METHODS = (b"GET", b"POST", b"PUT", b"PATCH", b"DELETE", b"HEAD", b"OPTIONS")
MAX_CONNECTIONS = 10_000  # beyond this, new connections are counted, not recorded


@dataclass
class Exchange:
    """One write-then-read round on a connection; times in seconds since the probe's ``t0``."""

    start_s: float
    task: str | None
    where: str | None
    stack: tuple[str, ...]
    request: str | None
    sent_bytes: int = 0
    first_read_s: float | None = None
    last_read_s: float | None = None
    read_bytes: int = 0

    @property
    def wait_s(self) -> float | None:
        """From the request's first byte out to the response's first byte in."""
        return None if self.first_read_s is None else self.first_read_s - self.start_s


@dataclass
class Connection:
    """A connection made by ``loop.create_connection`` and the exchanges on it."""

    id: int
    peer: str
    local: str | None
    task: str | None
    where: str | None
    start_s: float
    connected_s: float | None = None
    closed_s: float | None = None
    error: str | None = None
    exchanges: list[Exchange] = field(default_factory=list)


def _caller() -> tuple[str | None, str | None, tuple[str, ...]]:
    """(task name, user line, user stack) of the code calling into the transport right now.

    The stack stops at the task's own coroutine: the frames below it (the loop, the runner, the
    program's entry script) are the same for every request and never its line.
    """
    task = asyncio.current_task()
    stack = snapshot(sys._getframe(2))
    top = getattr(task.get_coro(), "cr_code", None) if task is not None else None
    for n, (code, _) in enumerate(stack):
        if code is top:
            stack = stack[: n + 1]
            break
    loc = locate(stack)
    name = task.get_name() if task is not None else None
    if loc is None:
        return name, None, ()
    return name, loc.where, loc.stack


def _request_line(data: bytes) -> str | None:
    """ "GET /path" when ``data`` starts an HTTP/1 request, else None."""
    if not data.startswith(_HTTP_METHODS):
        return None
    line = data[:300].split(b"\r\n", 1)[0].split(b" ")
    if len(line) < 2:
        return None
    return f"{line[0].decode('ascii', 'replace')} {line[1].decode('ascii', 'replace')}"


def _address(addr: Any) -> str | None:
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr) if addr else None


def _peer(host: Any, port: Any, transport: Any) -> str:
    peer = _address(transport.get_extra_info("peername")) if transport is not None else None
    return peer or (f"{host}:{port}" if host is not None else "?")


class TransportProbe:
    """Records client connections of one standard loop while installed (a context manager)."""

    def __init__(self, t0: float | None = None) -> None:
        self.t0 = time.perf_counter() if t0 is None else t0
        self.connections: list[Connection] = []
        self.dropped = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.supported = True
        self._saved: Any = None
        self._by_local: dict[str, Connection] = {}

    def __enter__(self) -> TransportProbe:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    # Times are kept as perf_counter() readings and made relative to ``t0`` only when read, so a
    # caller may move ``t0`` (to the start of a recording) after connections were made.
    _now = staticmethod(time.perf_counter)

    def install(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Wrap ``create_connection`` of ``loop`` (default: the running loop) until uninstall."""
        loop = loop or asyncio.get_running_loop()
        self.loop = loop
        if not isinstance(loop, _LOOP_CLASS):
            self.supported = False
            return
        probe = self
        original = type(loop).create_connection

        async def create_connection(self: Any, *args: Any, **kwargs: Any) -> Any:
            if len(probe.connections) >= MAX_CONNECTIONS:
                probe.dropped += 1
                return await original(self, *args, **kwargs)
            return await probe._connect(original, self, *args, **kwargs)

        # An instance attribute shadows the class's method for this loop only.
        self._saved = original
        loop.create_connection = create_connection.__get__(loop)  # type: ignore[method-assign]

    def uninstall(self) -> None:
        """Stop recording new connections (idempotent); wrapped transports keep reporting."""
        if self.loop is not None and self._saved is not None:
            self.loop.__dict__.pop("create_connection", None)
            self._saved = None

    async def _connect(self, original: Any, loop: Any, *args: Any, **kwargs: Any) -> Any:
        host = args[1] if len(args) > 1 else kwargs.get("host")
        port = args[2] if len(args) > 2 else kwargs.get("port")
        task, where, _ = _caller()
        conn = Connection(
            len(self.connections), _peer(host, port, None), None, task, where, self._now()
        )
        self.connections.append(conn)
        try:
            transport, protocol = await original(loop, *args, **kwargs)
        except BaseException as exc:
            conn.closed_s = self._now()
            conn.error = type(exc).__name__
            raise
        conn.connected_s = self._now()
        conn.peer = _peer(host, port, transport)
        conn.local = _address(transport.get_extra_info("sockname"))
        if conn.local is not None:
            self._by_local[conn.local] = conn
        self._wrap(conn, transport, protocol)
        return transport, protocol

    def _wrap(self, conn: Connection, transport: Any, protocol: Any) -> None:
        probe = self
        write, writelines = transport.write, transport.writelines

        def on_write(data: Any) -> None:
            size = len(data)
            last = conn.exchanges[-1] if conn.exchanges else None
            if last is None or last.first_read_s is not None:
                task, where, stack = _caller()
                head = bytes(data[:300]) if size else b""
                conn.exchanges.append(
                    Exchange(probe._now(), task, where, stack, _request_line(head))
                )
            conn.exchanges[-1].sent_bytes += size

        def on_read(size: int) -> None:
            if not conn.exchanges:
                return  # the server spoke first (a banner): no request to attach it to
            now = probe._now()
            last = conn.exchanges[-1]
            if last.first_read_s is None:
                last.first_read_s = now
            last.last_read_s = now
            last.read_bytes += size

        def traced_write(data: Any) -> None:
            on_write(data)
            write(data)

        def traced_writelines(chunks: Any) -> None:
            chunks = list(chunks)
            on_write(b"".join(chunks))
            writelines(chunks)

        closed = protocol.connection_lost

        def connection_lost(exc: BaseException | None) -> None:
            conn.closed_s = probe._now()
            closed(exc)

        # Instance attributes shadow the classes' methods for this one connection only; an
        # object with __slots__ refuses them, and that side of it goes unrecorded.
        wraps = [
            (transport, "write", traced_write),
            (transport, "writelines", traced_writelines),
            (protocol, "connection_lost", connection_lost),
        ]
        for name, size_of in (("data_received", len), ("buffer_updated", int)):
            inner = getattr(protocol, name, None)
            if inner is not None:
                wraps.append((protocol, name, _reading(inner, size_of, on_read)))
        for obj, name, wrapper in wraps:
            with contextlib.suppress(AttributeError):
                setattr(obj, name, wrapper)

    def exchanges(self) -> list[dict[str, Any]]:
        """Every exchange as a request record: start (connect included), end, wait, task, line."""
        out = []
        t0 = self.t0
        for conn in self.connections:
            for n, ex in enumerate(conn.exchanges):
                connect_s = (conn.connected_s - conn.start_s) if n == 0 and conn.connected_s else 0
                start = conn.start_s if n == 0 else ex.start_s
                end = ex.last_read_s if ex.last_read_s is not None else conn.closed_s
                out.append(
                    {
                        "connection": conn.id,
                        "peer": conn.peer,
                        "label": ex.request or f"{ex.sent_bytes} bytes to {conn.peer}",
                        "start_s": round(start - t0, 6),
                        "sent_s": round(ex.start_s - t0, 6),
                        "end_s": round((end if end is not None else start) - t0, 6),
                        "connect_s": round(connect_s, 6),
                        "wait_s": None if ex.wait_s is None else round(ex.wait_s, 6),
                        "sent_bytes": ex.sent_bytes,
                        "read_bytes": ex.read_bytes,
                        "task": ex.task,
                        "where": ex.where or (conn.where if n == 0 else None),
                        "stack": list(ex.stack),
                        "new_connection": n == 0,
                        "answered": ex.first_read_s is not None,
                    }
                )
        out.sort(key=lambda r: r["start_s"])
        return out

    def request_for(self, local: str | None) -> str | None:
        """The last request sent on the open connection from ``local`` ("host:port"), if any."""
        conn = self._by_local.get(local) if local is not None else None
        if conn is None or conn.closed_s is not None:
            return None
        return conn.exchanges[-1].request if conn.exchanges else "connected"

    def unseen(self) -> list[str]:
        """What this probe could not see, one sentence each."""
        notes = []
        if not self.supported:
            notes.append(
                f"{type(self.loop).__module__}.{type(self.loop).__name__} has C transports: "
                "connections, reads and writes are not seen at the transport level"
            )
        if self.dropped:
            notes.append(f"{self.dropped} connections past {MAX_CONNECTIONS} were not recorded")
        return notes


def _reading(inner: Any, size_of: Any, on_read: Any) -> Any:
    def received(data: Any) -> Any:
        on_read(size_of(data))
        return inner(data)

    return received
