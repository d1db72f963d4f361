"""Shared fixtures of the mock server tests: one launched server and a client session per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import pytest_asyncio

from mockserver import MockServer, raise_open_files_limit


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
