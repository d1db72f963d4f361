"""Fixtures of the pytest-benchmark suite: one mock server and one event loop the suite owns."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from asyncio_perf_lab.benchmarks.loops import new_event_loop
from asyncio_perf_lab.mockserver import MockServer, raise_open_files_limit


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("asyncio-perf-lab")
    group.addoption(
        "--lab-workload",
        choices=("default", "tiny"),
        default="default",
        help="scenario workload size (tiny: smoke-run every variant in seconds)",
    )
    # --lab-loop comes from the lab's pytest plugin (benchmarks/pytest_plugin.py), installed with it
    group.addoption("--lab-rounds", type=int, default=5, help="timed rounds per variant")


@pytest.fixture(name="server", scope="session")
def _server() -> Iterator[MockServer]:
    raise_open_files_limit()
    with MockServer() as server:
        yield server


@pytest.fixture(name="loop", scope="session")
def _loop(request: pytest.FixtureRequest) -> Iterator[asyncio.AbstractEventLoop]:
    loop = new_event_loop(request.config.getoption("--lab-loop"))
    yield loop
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
