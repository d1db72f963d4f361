"""The pytest plugin as a user meets it: their project, their coroutines, pytest in a subprocess.

Each test writes a small user project to ``tmp_path`` (a module of coroutines, its tests, a routes
file, a pytest config in strict asyncio mode with warnings as errors) and runs
``python -m pytest`` on it. The plugin is there because the lab is installed, as it would be for
the user.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

LATENCY_MS = 50

SHOP = '''
import asyncio

import aiohttp


async def fetch_cart(base_url: str, cart_id: int) -> dict:
    """One request to the mock of our API."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base_url}/carts/{cart_id}") as resp:
            return await resp.json()


async def fetch_carts(base_url: str, ids: list[int]) -> list[dict]:
    """Every cart at once."""
    async with aiohttp.ClientSession() as session:

        async def one(cart_id: int) -> dict:
            async with session.get(f"{base_url}/carts/{cart_id}") as resp:
                return await resp.json()

        return list(await asyncio.gather(*(one(i) for i in ids)))
'''

TESTS = '''
import pytest

from shop import fetch_cart, fetch_carts


def test_fetch_cart(async_benchmark, mock_api):
    """One cart."""
    cart = async_benchmark(fetch_cart, mock_api.url, 7)
    assert cart == {"cart": "7", "items": 3}


def test_fetch_carts(async_benchmark, mock_api):
    """Three carts."""
    carts = async_benchmark(fetch_carts, mock_api.url, ids=[1, 2, 3])
    assert [c["cart"] for c in carts] == ["1", "2", "3"]


@pytest.mark.asyncio
async def test_pytest_asyncio_still_runs_async_tests(mock_api):
    """Strict-mode pytest-asyncio keeps working beside the plugin."""
    assert (await fetch_cart(mock_api.url, 1))["cart"] == "1"
'''

ROUTES = f"""
[[route]]
path = "/carts/{{cart_id}}"
latency = "{LATENCY_MS}ms"
json = {{ cart = "{{cart_id}}", items = 3 }}
"""

CONFIG = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
filterwarnings = error
lab_routes = routes.toml
"""


def user_project(root: Path, tests: str = TESTS) -> Path:
    """A user's project: shop.py, test_shop.py, routes.toml and pytest.ini."""
    (root / "shop.py").write_text(SHOP)
    (root / "test_shop.py").write_text(tests)
    (root / "routes.toml").write_text(ROUTES)
    (root / "pytest.ini").write_text(CONFIG)
    return root


def pytest_in(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pytest ARGS`` in the user's project, as they would run it."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--benchmark-max-time=0.5",
            *args,
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=180,
    )


def benchmarks_of(path: Path) -> dict[str, dict[str, Any]]:
    """pytest-benchmark's JSON, by test name."""
    return {b["name"]: b for b in json.loads(path.read_text())["benchmarks"]}


@pytest.fixture(name="first_run", scope="module")
def _first_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's project after its first pytest run: JSON written and the run autosaved (the
    baseline the compare test's second run is held against)."""
    project = user_project(tmp_path_factory.mktemp("shop"))
    proc = pytest_in(project, "--benchmark-autosave", "--benchmark-json=out.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return project


def test_a_50ms_request_measures_at_least_50ms_with_stats_and_extra_info_in_the_json(
    first_run: Path,
) -> None:
    """Execution is timed (mean >= the route's 50 ms, not a coroutine's creation), and the JSON
    holds pytest-benchmark's stats plus the probe's extra_info."""
    found = benchmarks_of(first_run / "out.json")
    one = found["test_fetch_cart"]
    assert one["stats"]["min"] >= LATENCY_MS / 1000
    assert one["stats"]["mean"] >= LATENCY_MS / 1000
    assert one["stats"]["rounds"] >= 5
    assert {"median", "stddev", "iqr", "ops"} <= set(one["stats"])
    info = one["extra_info"]
    assert info["loop"] == "asyncio"
    assert info["requests"] == 1
    assert info["server_requests"] == 1
    assert info["server_max_in_flight"] == 1
    assert 0 <= info["loop_lag_p99_ms"] <= info["loop_lag_max_ms"]
    three = found["test_fetch_carts"]
    # Overlapped: three 50 ms requests take about one latency, and the server saw all 3 at once.
    assert LATENCY_MS / 1000 <= three["stats"]["median"] < 2 * LATENCY_MS / 1000
    assert three["extra_info"]["requests"] == 3
    assert three["extra_info"]["server_max_in_flight"] == 3


def test_lab_loop_uvloop_times_on_uvloop(tmp_path: Path) -> None:
    """``--lab-loop uvloop`` runs the timed coroutine on uvloop, and extra_info says so."""
    pytest.importorskip("uvloop")
    project = user_project(tmp_path)
    proc = pytest_in(
        project,
        "--lab-loop",
        "uvloop",
        "-k",
        "fetch_cart and not carts",
        "--benchmark-json=out.json",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    one = benchmarks_of(project / "out.json")["test_fetch_cart"]
    assert one["extra_info"]["loop"] == "uvloop"
    assert one["stats"]["min"] >= LATENCY_MS / 1000


def test_a_real_code_change_that_slows_the_code_fails_compare_fail(
    first_run: Path, tmp_path: Path
) -> None:
    """Serializing the gather in shop.py fails the next run's --benchmark-compare-fail=mean:10%."""
    project = tmp_path / "shop"  # a copy: the first run's project stays as it was for the others
    shutil.copytree(first_run, project, ignore=shutil.ignore_patterns("__pycache__"))
    shop = project / "shop.py"
    overlapped = "return list(await asyncio.gather(*(one(i) for i in ids)))"
    assert overlapped in shop.read_text()
    shop.write_text(shop.read_text().replace(overlapped, "return [await one(i) for i in ids]"))
    second = pytest_in(
        project,
        "-k",
        "fetch_carts",
        "--benchmark-compare",
        "--benchmark-compare-fail=mean:10%",
        "--benchmark-json=after.json",
    )
    assert second.returncode == 1, second.stdout + second.stderr
    assert "Performance has regressed" in second.stdout + second.stderr
    before = benchmarks_of(project / "out.json")["test_fetch_carts"]["stats"]["mean"]
    after = benchmarks_of(project / "after.json")["test_fetch_carts"]["stats"]["mean"]
    assert after > 2.5 * before  # three latencies in a row instead of one


def test_inside_an_async_test_it_says_in_one_line_why_it_cannot_run(tmp_path: Path) -> None:
    """async_benchmark in an async def test fails at set-up with one line saying why."""
    tests = (
        "import pytest\n\nfrom shop import fetch_cart\n\n\n@pytest.mark.asyncio\n"
        "async def test_in_async(async_benchmark, mock_api):\n"
        "    async_benchmark(fetch_cart, mock_api.url, 1)\n"
    )
    project = user_project(tmp_path, tests)
    proc = pytest_in(project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if "cannot run inside an async def" in line]
    assert lines, proc.stdout
    assert "make the test a plain def" in lines[0]
    assert "Traceback" not in proc.stdout
    assert "PytestBenchmarkWarning" not in proc.stdout


def test_a_bad_lab_routes_file_stops_pytest_with_one_line(tmp_path: Path) -> None:
    """--lab-routes with a bad file stops before any test, naming the file, route and field."""
    project = user_project(tmp_path)
    bad = project / "bad.toml"
    bad.write_text('[[route]]\npath = "/carts/{id}"\nlatency = "soon"\n')
    proc = pytest_in(project, "--lab-routes", str(bad))
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR
    assert f"{bad}: route 1 (/carts/{{id}}): latency: bad latency 'soon'" in proc.stderr
    assert "passed" not in proc.stdout
