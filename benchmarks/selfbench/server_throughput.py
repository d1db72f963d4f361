"""How fast is the mock server? Requests/s of ``/users/1`` (no latency) vs a bare aiohttp handler.

Both servers run as their own processes, started the same way (``mockserver.launcher``, the same
``mockserver.server.serve`` settings), and are measured in one run, interleaved. Each round starts
a fresh pair of processes (a process's hash seed and memory layout alone can move an identical
twin by several percent; the median over rounds averages that luck out, as pyperf's worker
processes do) and alternates SLICES short slices of each (A B, B A, ...), so drift in the
machine's load hits both alike; the round's ratio is the median of its slice pairs. The client
(this process) and both servers share one CPU: client and server take turns instead of waking
each other across CPUs, so req/s follows what each request costs in CPU. The client keeps
CONCURRENCY keep-alive connections busy, each sending the next request as soon as the previous
answer is in, and speaks minimal HTTP/1.1 over asyncio protocols rather than using aiohttp's
client, which costs about as much CPU per request as the server and would dilute the difference.
Prints per-round req/s, the ratio mock/bare (target >= 0.90; the headline is the median over
rounds) and each server's CPU time per request.
Usage: ``make bench-server ARGS="--rounds 6 --seconds 2"`` (``asyncio-lab selfbench server``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from rich.table import Table

from asyncio_perf_lab.benchmarks.commands.common import Parser, console
from asyncio_perf_lab.mockserver.launcher import MockServer, ServerProcess
from asyncio_perf_lab.reports.stats import median

PATH = "/users/1"
CONCURRENCY = 32
ROUNDS = 6
SECONDS = 2.0
SLICES = 10  # per round and server: short alternating slices see the same machine load
WARMUP_S = 0.5
MAX_ROUNDS = 20
MAX_SECONDS = 10.0
TARGET = 0.90


class _KeepAlive(asyncio.Protocol):
    """One keep-alive connection: while a slice runs, each response triggers the next request."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.buffer = b""
        self.responses = 0
        self.errors = 0
        self.stop_at = 0.0
        self.idle: asyncio.Future[None] | None = None
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def run_until(self, stop_at: float) -> asyncio.Future[None]:
        """Start sending; the returned future completes with the first response after stop_at."""
        assert self.transport is not None
        self.stop_at = stop_at
        self.idle = self.loop.create_future()
        self.transport.write(self.request)
        return self.idle

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            start = head.find(b"content-length:") + len(b"content-length:")
            stop = head.find(b"\r\n", start)
            total = end + 4 + int(head[start : stop if stop >= 0 else end])
            if len(self.buffer) < total:
                return
            if not self.buffer.startswith(b"HTTP/1.1 200"):
                self.errors += 1
            self.buffer = self.buffer[total:]
            self.responses += 1
            assert self.transport is not None
            assert self.idle is not None
            if self.loop.time() < self.stop_at:
                self.transport.write(self.request)
            elif not self.idle.done():
                self.idle.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.idle is not None and not self.idle.done():
            self.idle.set_exception(ConnectionError(f"server closed the connection: {exc}"))


class Client:
    """CONCURRENCY keep-alive connections to one server, driven in timed slices."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.request = f"GET {PATH} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode()
        self.conns: list[_KeepAlive] = []

    async def connect(self) -> None:
        """Open the connections (outside any timed slice)."""
        loop = asyncio.get_running_loop()
        for _ in range(CONCURRENCY):
            _, proto = await loop.create_connection(
                lambda: _KeepAlive(self.request), self.host, self.port
            )
            self.conns.append(proto)

    async def slice(self, seconds: float) -> tuple[int, float]:
        """Keep every connection busy for ``seconds``; return (responses, elapsed seconds)."""
        before = sum(c.responses for c in self.conns)
        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        stop_at = loop.time() + seconds
        await asyncio.wait_for(asyncio.gather(*(c.run_until(stop_at) for c in self.conns)), 30)
        elapsed = time.perf_counter() - start
        if errors := sum(c.errors for c in self.conns):
            raise RuntimeError(f"{errors} responses were not 200 from {self.host}:{self.port}")
        return sum(c.responses for c in self.conns) - before, elapsed

    def close(self) -> None:
        """Close every connection."""
        for conn in self.conns:
            if conn.transport is not None:
                conn.transport.close()


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds a process has used so far (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Side:
    """One server's share of a round: requests, wall seconds, CPU seconds, per-slice rates."""

    client: Client
    pid: int | None
    responses: int = 0
    elapsed: float = 0.0
    cpu: float | None = 0.0
    rates: list[float] = field(default_factory=list)

    async def slice(self, seconds: float) -> None:
        """Run one slice and add it to the round's totals."""
        before = cpu_seconds(self.pid)
        n, elapsed = await self.client.slice(seconds)
        after = cpu_seconds(self.pid)
        self.responses += n
        self.elapsed += elapsed
        self.rates.append(n / elapsed)
        if self.cpu is not None and before is not None and after is not None:
            self.cpu += after - before
        else:
            self.cpu = None

    @property
    def rps(self) -> float:
        """Requests per second over the round's slices."""
        return self.responses / self.elapsed

    @property
    def cpu_us_per_request(self) -> float | None:
        """Server CPU microseconds per request (None where /proc is missing)."""
        return None if self.cpu is None else self.cpu / self.responses * 1e6


@dataclass
class Round:
    """Both servers over one round; ``ratio`` is the median of the slice-pair ratios."""

    mock: Side
    bare: Side

    @property
    def ratio(self) -> float:
        """Mock/bare req/s: the median over slice pairs, so one noisy slice cannot swing it."""
        return median([m / b for m, b in zip(self.mock.rates, self.bare.rates, strict=True)])


async def measure_round(mock: ServerProcess, bare: ServerProcess, seconds: float) -> Round:
    """One round: warm both servers up, then SLICES alternating slices of each."""
    mock_client, bare_client = Client(mock.url), Client(bare.url)
    try:
        await mock_client.connect()
        await bare_client.connect()
        await mock_client.slice(WARMUP_S)
        await bare_client.slice(WARMUP_S)
        result = Round(Side(mock_client, mock.pid), Side(bare_client, bare.pid))
        for k in range(SLICES):
            # Alternate who goes first, so a trend in the machine's load hits both alike.
            pair = (result.mock, result.bare) if k % 2 == 0 else (result.bare, result.mock)
            for side in pair:
                await side.slice(seconds / SLICES)
        return result
    finally:
        mock_client.close()
        bare_client.close()


def pin(*pids: int | None) -> str:
    """Put this process and the servers on one CPU, where the OS allows; say what was done.

    Across CPUs every request is a cross-CPU wake-up whose cost depends on timing luck (how many
    requests each wake-up finds waiting), and two identical servers differed by 30%. On one CPU
    client and server simply take turns, so req/s follows the CPU each request costs.
    """
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity here)"
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    for pid in pids:
        if pid is not None:
            for task in Path(f"/proc/{pid}/task").iterdir():  # every thread, not just the main one
                os.sched_setaffinity(int(task.name), {cpu})
    return f"client and servers pinned to CPU {cpu}"


def _us(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def main(argv: list[str] | None = None, prog: str = "asyncio-lab selfbench server") -> int:
    """Run the interleaved rounds, print the table and the median ratio; 0 if measured."""
    parser = Parser(
        prog=prog,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"1..{MAX_ROUNDS} (default 6)")
    parser.add_argument(
        "--seconds", type=float, default=SECONDS, help=f"per server per round, 0.5..{MAX_SECONDS}"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= MAX_ROUNDS:
        parser.error(f"--rounds {args.rounds} is out of range (allowed: 1..{MAX_ROUNDS})")
    if not 0.5 <= args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds {args.seconds} is out of range (allowed: 0.5..{MAX_SECONDS})")
    bare_argv = [
        sys.executable,
        "-m",
        "asyncio_perf_lab.benchmarks.selfbench.bare_server",
        "--watch-stdin",
    ]
    out = console(stderr=False)
    table = Table(
        title=f"GET {PATH}: mock server vs bare aiohttp handler, {CONCURRENCY} keep-alive "
        f"connections, no latency; each round: fresh processes, {SLICES} alternating slices each"
    )
    columns = (
        "round",
        "mock req/s",
        "bare req/s",
        "mock/bare",
        "mock CPU µs/req",
        "bare CPU µs/req",
    )
    for column in columns:
        table.add_column(column, justify="right")
    rounds: list[Round] = []
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    placement = ""
    try:
        for i in range(args.rounds):
            # Fresh processes every round: a process's hash seed and memory layout alone move its
            # req/s against an identical twin, and the median over rounds averages that luck out
            # (pyperf spawns many worker processes for the same reason).
            with ExitStack() as stack:
                servers = [MockServer(latency="0ms"), ServerProcess(bare_argv, name="bare")]
                for server in servers if i % 2 == 0 else servers[::-1]:
                    stack.enter_context(server)
                mock, bare = servers
                placement = pin(mock.pid, bare.pid)
                result = asyncio.run(measure_round(mock, bare, args.seconds))
            if affinity is not None:
                os.sched_setaffinity(0, affinity)  # launch the next pair unpinned
            rounds.append(result)
            table.add_row(
                str(len(rounds)),
                f"{result.mock.rps:,.0f}",
                f"{result.bare.rps:,.0f}",
                f"{result.ratio:.3f}",
                _us(result.mock.cpu_us_per_request),
                _us(result.bare.cpu_us_per_request),
            )
    finally:
        if affinity is not None:
            os.sched_setaffinity(0, affinity)
    ratio = median([r.ratio for r in rounds])
    cpu = [(r.mock.cpu_us_per_request, r.bare.cpu_us_per_request) for r in rounds]
    mock_cpu = median([m for m, _ in cpu]) if all(m for m, _ in cpu) else None
    bare_cpu = median([b for _, b in cpu]) if all(b for _, b in cpu) else None
    table.add_row(
        "median",
        f"{median([r.mock.rps for r in rounds]):,.0f}",
        f"{median([r.bare.rps for r in rounds]):,.0f}",
        f"{ratio:.3f}",
        _us(mock_cpu),
        _us(bare_cpu),
        style="bold",
    )
    out.print(table)
    out.print(placement)
    verdict = "meets" if ratio >= TARGET else "misses"
    out.print(
        f"throughput ratio mock/bare (median of rounds): {ratio:.3f}, "
        f"{verdict} the target >= {TARGET}"
    )
    if mock_cpu and bare_cpu:
        out.print(
            f"server CPU per request, bare/mock: {bare_cpu / mock_cpu:.3f} "
            "(the servers' own cost, without the client's share of the CPU)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
