"""pytest plugin ``asyncio_perf_lab``: time your own coroutines, against a mock of your API.

Registered through the ``pytest11`` entry point when the lab is installed. A thin layer of
options and fixtures over ``benchmarks.async_benchmark``:

- ``async_benchmark(fn, *args, **kwargs)``: times ``fn``'s coroutine with pytest-benchmark on a
  warm loop the plugin owns (``--lab-loop asyncio|uvloop``), returns its result, and adds loop
  lag, requests and the server's max in flight to ``extra_info``. For plain ``def`` tests.
- ``mock_api`` (session): the lab's mock server in its own process, with the routes of
  ``--lab-routes FILE`` (or the ini option ``lab_routes``); ``.url``, ``.stats()``, ``.reset()``.
- ``lab_event_loop`` (session): that warm loop, for untimed set-up on it
  (``lab_event_loop.run_until_complete(open_session())``).

Importing this module costs only pytest and the standard library: the server, aiohttp and the
probes load when a fixture asks for them.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from asyncio_perf_lab.benchmarks.async_benchmark import AsyncBenchmark, LabLoop
    from asyncio_perf_lab.mockserver import MockServer

LOOPS = ("asyncio", "uvloop")
ROUTES_INI = "lab_routes"
LAB_LOOP: pytest.StashKey[LabLoop] = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("asyncio-perf-lab", "asyncio-perf-lab: time coroutines")
    group.addoption(
        "--lab-loop",
        choices=LOOPS,
        default="asyncio",
        help="event loop async_benchmark times on (default asyncio)",
    )
    group.addoption(
        "--lab-routes",
        metavar="FILE",
        default=None,
        help=f"routes TOML for mock_api, beside the built-in fake API (ini: {ROUTES_INI})",
    )
    parser.addini(ROUTES_INI, type="paths", help="routes TOML for mock_api (--lab-routes wins)")


def routes_file(config: pytest.Config) -> Path | None:
    """The routes file asked for: ``--lab-routes`` (from the working directory), else the ini's."""
    given = config.getoption("--lab-routes")
    if given:
        return Path(given).resolve()
    paths = config.getini(ROUTES_INI)
    return Path(paths[0]) if paths else None


def pytest_configure(config: pytest.Config) -> None:
    """Check a routes file at start-up: a bad one is one line and no test runs."""
    path = routes_file(config)
    if path is None:
        return
    from asyncio_perf_lab.mockserver import RoutesError, load_routes

    try:
        load_routes(path)
    except RoutesError as exc:
        raise pytest.UsageError(str(exc)) from None


class MockApi:
    """``mock_api``: the mock server of this session, by URL, with its /stats."""

    def __init__(self, server: MockServer) -> None:
        self._server = server
        self.url: str = server.url
        self.routes: Path | None = server.routes and Path(server.routes)

    def stats(self) -> dict[str, Any]:
        """``GET /stats``: requests per route, in flight now, max in flight, injected delay."""
        return self._server.stats()

    def reset(self) -> None:
        """``POST /stats/reset``: start a new window of counters."""
        self._server.reset_stats()


@pytest.fixture(name="mock_api", scope="session")
def _mock_api(request: pytest.FixtureRequest) -> Iterator[MockApi]:
    """The lab's mock server (built-in fake API + your routes) in its own process."""
    from asyncio_perf_lab.mockserver import MockServer, raise_open_files_limit

    raise_open_files_limit()
    with MockServer(routes=routes_file(request.config)) as server:
        yield MockApi(server)


@pytest.fixture(name="lab_event_loop", scope="session")
def _lab_event_loop(request: pytest.FixtureRequest) -> Iterator[asyncio.AbstractEventLoop]:
    """The warm loop async_benchmark times on; created once, closed at the session's end."""
    from asyncio_perf_lab.benchmarks.async_benchmark import LabLoop
    from asyncio_perf_lab.benchmarks.loops import available_loops

    name = request.config.getoption("--lab-loop")
    if name not in available_loops():
        pytest.fail(f"--lab-loop {name} is not installed here; pip install uvloop", pytrace=False)
    lab_loop = LabLoop(name)
    request.config.stash[LAB_LOOP] = lab_loop
    try:
        yield lab_loop.loop
    finally:
        del request.config.stash[LAB_LOOP]
        lab_loop.close()


@pytest.fixture(name="async_benchmark")
def _async_benchmark(request: pytest.FixtureRequest) -> AsyncBenchmark:
    """Time a coroutine function: ``result = async_benchmark(fetch, url)`` in a plain def test."""
    from asyncio_perf_lab.benchmarks.async_benchmark import (
        INSIDE_ASYNC_TEST,
        AsyncBenchmark,
        loop_running,
    )

    if inspect.iscoroutinefunction(request.function) or loop_running():
        pytest.fail(INSIDE_ASYNC_TEST, pytrace=False)
    # Asked for only now, so a refused async test leaves pytest-benchmark's fixture unused.
    benchmark = request.getfixturevalue("benchmark")
    request.getfixturevalue("lab_event_loop")
    server = request.getfixturevalue("mock_api") if "mock_api" in request.fixturenames else None
    return AsyncBenchmark(benchmark, request.config.stash[LAB_LOOP], server)
