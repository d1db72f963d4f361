"""The ordering puzzles record the callback order each Python version really produces."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.scenarios import ordering
from asyncio_perf_lab.scenarios.calibration import Site

ROOT = Path(__file__).resolve().parent.parent
LAZY_TASK = ["sync end", "task start", "task end"]
EAGER_TASK = ["task start", "sync end", "task end"]


def expected_orders(version: tuple[int, int]) -> dict[str, list[str]]:
    """The order asyncio produces for each puzzle under Python ``version``."""
    return {
        "call_soon": ["sync end", "soon 1", "timer", "soon 2"],
        "call_later_0": ["sync end", "timer 1", "timer 2", "micro"],
        "sleep_0": ["soon", "after await", "timer"],
        "future_callbacks": ["coro start", "after await", "sync end", "then"],
        "create_task": LAZY_TASK,
        "eager_task": EAGER_TASK if version >= (3, 12) else LAZY_TASK,
    }


# Runs every puzzle on a fresh loop with the standard library alone (scenarios.core imports
# aiohttp only for type checking), so interpreters without aiohttp installed can run it.
RUN_PUZZLES = """
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
from asyncio_perf_lab.scenarios import ordering
from asyncio_perf_lab.scenarios.calibration import Site
orders = {name: asyncio.run(v.run(None)) for name, v in ordering.VARIANTS.items()}
print(json.dumps({"version": list(sys.version_info[:2]), "orders": orders}))
"""

OTHER_VERSIONS = ("3.12", "3.13")


def find_python(version: str) -> str | None:
    """A working interpreter for ``version`` under pyenv or on PATH, or None."""
    candidates = [
        str(p) for p in sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python"))
    ]
    candidates.append(shutil.which(f"python{version}") or "")
    for candidate in filter(None, candidates):
        # A pyenv shim exists even when that version is not active; it then exits non-zero.
        probe = subprocess.run([candidate, "-c", "pass"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return candidate
    return None


@pytest.mark.asyncio
@pytest.mark.parametrize("name", list(ordering.VARIANTS))
async def test_each_puzzle_records_the_expected_order(name: str) -> None:
    """Under the running interpreter each puzzle returns asyncio's real order for its version."""
    order = await ordering.VARIANTS[name].run(None)
    assert order == expected_orders(sys.version_info[:2])[name]


@pytest.mark.parametrize("version", ["running", *OTHER_VERSIONS])
def test_puzzles_record_the_expected_order_under_each_python(version: str) -> None:
    """Run with only the stdlib under 3.11/3.12/3.13, each puzzle records its version's order."""
    python = sys.executable if version == "running" else find_python(version)
    if python is None:
        pytest.skip(f"no Python {version} found here")
    proc = subprocess.run(
        [python, "-c", RUN_PUZZLES, str(ROOT)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    version = tuple(seen["version"])
    assert seen["orders"] == expected_orders(version), f"Python {version}"


@pytest.mark.asyncio
async def test_eager_task_on_this_python_matches_its_availability() -> None:
    """The eager puzzle matches JavaScript exactly when the interpreter has eager_task_factory."""
    order = await ordering.eager_task(None)
    assert (order == ordering.JS_TWINS["eager_task"]["js_order"]) is ordering.EAGER_AVAILABLE


@pytest.mark.asyncio
@pytest.mark.parametrize("name", list(ordering.VARIANTS))
async def test_js_twin_uses_the_same_labels_and_says_whether_orders_match(name: str) -> None:
    """Each JS twin logs the same labels; its explanation says Same/Differs truthfully."""
    twin = ordering.JS_TWINS[name]
    order = await ordering.VARIANTS[name].run(None)
    assert sorted(twin["js_order"]) == sorted(order)
    # The explanations speak of 3.12+ (eager tasks exist); 3.11's fallback is explained in text.
    same = expected_orders((3, 12))[name] == twin["js_order"]
    assert twin["explanation"].startswith("Same" if same else "Differs"), twin["explanation"]


@pytest.mark.asyncio
async def test_eager_task_restores_the_loops_task_factory() -> None:
    """The eager puzzle sets the task factory only for its own create_task and restores it."""
    loop = asyncio.get_running_loop()
    before = loop.get_task_factory()
    await ordering.eager_task(None)
    assert loop.get_task_factory() is before


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop not installed")
def test_calibration_measures_the_runs_own_loop() -> None:
    """A loop turn calibrated on uvloop costs less than one on the standard loop (the ideal of a
    uvloop run is uvloop's, not the standard loop's)."""
    import uvloop

    scenario = scenarios.load("ordering")
    on = {"asyncio": Site(), "uvloop": Site(new_loop=uvloop.new_event_loop)}
    turns = {name: [] for name in on}
    for _ in range(2):  # interleaved, so a busy moment of the machine hits both
        for name, site in on.items():
            turns[name].append(scenario.measure_machine(scenario.tiny, site)["loop_turn"])
    assert min(turns["uvloop"]) < 0.9 * min(turns["asyncio"]), turns
