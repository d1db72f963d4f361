"""Shared fixtures: launched mock servers, a client session, one real quick run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from asyncio_perf_lab.mockserver import MockServer, raise_open_files_limit
from tests.lab_cli import run_lab


@pytest.fixture(name="server", scope="module")
def _server() -> Iterator[MockServer]:
    """One mock server (no default latency) per test module; scenarios set their own."""
    raise_open_files_limit()  # scenarios open up to 1000 sockets on each side
    with MockServer() as server:
        yield server


@pytest.fixture(name="mock_server", scope="session")
def _mock_server() -> Iterator[MockServer]:
    raise_open_files_limit()
    with MockServer(seed=1) as server:
        yield server


@pytest_asyncio.fixture(name="http")
async def _http() -> AsyncIterator[aiohttp.ClientSession]:
    # limit=0: no connector cap, so a test's concurrency is what it asks for, not aiohttp's 100.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        yield session


@pytest.fixture(name="quick_run", scope="session")
def _quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real quick run via the CLI, its results.json: shared by the runner's and the report's
    tests, as one run answers both (about 28 s; it was run twice).

    A staircase (sequential_vs_gather), a loop blocked by CPU (blocking_cpu) and microsecond-long
    variants that return different results on purpose (ordering).
    """
    out = tmp_path_factory.mktemp("quick-run")
    targets = ("sequential_vs_gather", "blocking_cpu", "ordering")
    proc = run_lab("run", *targets, "--profile", "quick", "--out", str(out), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    path = Path(proc.stdout.strip().splitlines()[-1])
    assert path.name == "results.json"
    return path
