"""Requests from any asyncio client are seen at the transport level, with their wait."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

import aiohttp
import pytest

from asyncio_perf_lab.benchmarks.chrome_trace import check_trace
from asyncio_perf_lab.benchmarks.probes.transports import TransportProbe
from asyncio_perf_lab.mockserver import MockServer
from tests.lab_cli import run_lab

LATENCY_MS = 60


async def raw_get(url: str, path: str) -> bytes:
    """One HTTP/1.1 GET over a bare asyncio.open_connection: no HTTP client library at all."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    body = await reader.read()
    writer.close()
    await writer.wait_closed()
    return body


@pytest.mark.asyncio
async def test_raw_open_connection_request_is_seen_with_its_wait(server: MockServer) -> None:
    """A raw open_connection GET is one exchange: its request line, task, line, and wait."""
    path = f"/users/1?latency={LATENCY_MS}ms"
    with TransportProbe() as probe:
        body = await raw_get(server.url, path)
    assert body.startswith(b"HTTP/1.1 200")
    (request,) = probe.exchanges()
    assert request["label"] == f"GET {path}"
    assert request["task"] == asyncio.current_task().get_name()
    assert request["where"].endswith("test_transports.py:25")  # the writer.write line
    assert request["read_bytes"] == len(body)
    # The server holds the answer LATENCY_MS: the wait cannot be shorter than that.
    assert request["wait_s"] >= LATENCY_MS / 1000 * 0.95
    assert request["end_s"] - request["start_s"] >= request["wait_s"]


@pytest.mark.asyncio
async def test_a_kept_alive_connection_splits_into_one_exchange_per_request(
    server: MockServer,
) -> None:
    """Two aiohttp requests on one kept-alive connection are two exchanges, one connection."""
    with TransportProbe() as probe:
        async with aiohttp.ClientSession() as session:
            for n in (1, 2):
                async with session.get(f"{server.url}/users/{n}") as response:
                    await response.read()
    labels = [r["label"] for r in probe.exchanges()]
    assert labels == ["GET /users/1", "GET /users/2"]
    assert len(probe.connections) == 1
    assert [r["new_connection"] for r in probe.exchanges()] == [True, False]


@pytest.mark.asyncio
async def test_uninstall_restores_create_connection_and_sees_nothing_more(
    server: MockServer,
) -> None:
    """After the probe leaves, the loop's create_connection is its own and nothing is recorded."""
    loop = asyncio.get_running_loop()
    with TransportProbe() as probe:
        assert "create_connection" in vars(loop)
    assert "create_connection" not in vars(loop)
    await raw_get(server.url, "/health")
    assert probe.exchanges() == []


def test_raw_request_shows_up_in_the_trace_with_its_wait(
    tmp_path: Path, server: MockServer
) -> None:
    """``trace --script`` of a raw open_connection GET lists it with its wait, in text and trace."""
    script = tmp_path / "raw.py"
    port = server.url.rsplit(":", 1)[1]
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio

            async def main():
                reader, writer = await asyncio.open_connection("127.0.0.1", {port})
                writer.write(b"GET /users/7?latency={LATENCY_MS}ms HTTP/1.1\\r\\nHost: x\\r\\n"
                             b"Connection: close\\r\\n\\r\\n")
                await reader.read()
                writer.close()
            """
        )
    )
    out = tmp_path / "raw.json"
    proc = run_lab("trace", "--script", str(script), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "1 requests seen at the transport level" in proc.stdout
    assert f"GET /users/7?latency={LATENCY_MS}ms" in proc.stdout
    trace = json.loads(out.read_text())
    assert check_trace(trace) == []
    events = [e for e in trace["traceEvents"] if e.get("cat") == "transport"]
    begin = {e["name"]: e["ts"] for e in events if e["ph"] == "b"}
    end = {e["name"]: e["ts"] for e in events if e["ph"] == "e"}
    assert f"GET /users/7?latency={LATENCY_MS}ms (transport)" in begin
    wait_us = end["wait"] - begin["wait"]
    assert wait_us >= LATENCY_MS * 1000 * 0.95
    assert events[0]["args"]["where"] == f"{script}:6"
