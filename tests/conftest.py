"""Shared fixtures: launched mock servers and a client session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import pytest_asyncio

from asyncio_perf_lab.mockserver import MockServer, raise_open_files_limit


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
