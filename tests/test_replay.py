"""``replay`` records the real loop: its printed order is the run's; its queues explain it."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import io
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks.cli import main
from asyncio_perf_lab.benchmarks.replay.export import recording_to_json, step_order
from asyncio_perf_lab.benchmarks.replay.recorder import Recorder
from asyncio_perf_lab.benchmarks.replay.run import replay_coroutine, replay_variant
from asyncio_perf_lab.scenarios import ordering
from tests.lab_cli import run_lab
from tests.test_scenario_ordering import expected_orders

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "docs" / "examples" / "article_puzzle.py"
STEP_KEYS = {"i", "t_ms", "running", "task", "stack", "ready", "timers", "io", "stdout"}


def load_main(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"lab_example_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def replayed(func: Any, **kwargs: Any) -> dict[str, Any]:
    """Replay ``func`` on a fresh standard loop and return the replay JSON."""

    async def go() -> Any:
        return await replay_coroutine(func, name="main()", echo=False, **kwargs)

    replay = asyncio.run(go())
    return recording_to_json(replay.recorder, meta={}, notes=replay.notes, overhead=replay.overhead)


def test_article_puzzle_replay_prints_what_the_real_run_prints() -> None:
    """The article's puzzle in asyncio: the replay's printed order equals a plain run's."""
    main_func = load_main(ARTICLE)
    real = io.StringIO()
    with contextlib.redirect_stdout(real):
        asyncio.run(main_func())
    data = replayed(main_func)
    assert step_order(data) == real.getvalue().split()
    assert step_order(data) == ["1", "7", "3", "4", "2", "5", "6"]


def test_first_call_later_0_waited_behind_callbacks_already_in_the_ready_queue() -> None:
    """print(2), the first call_later(0), ran after the two call_soon callbacks queued before it."""
    data = replayed(load_main(ARTICLE))
    steps = data["steps"]
    first_timer = next(s for s in steps if s["running"] == "print(2)")
    waited = first_timer["waited"]
    assert waited["how"] == "timer"
    assert waited["behind"] == ["print(3)", "main.<locals>.print_4_then_time_6()"]
    # When the timer came due it joined the ready queue behind those two, in the same turn.
    joined = steps[waited["ready_since"]]
    assert joined["running"] == "print(3)"
    assert joined["ready"][:2] == ["main.<locals>.print_4_then_time_6()", "print(2)"]
    assert joined["this_turn"] >= 2
    # The two call_soon callbacks were already queued by the step that set the timer.
    setter = steps[waited["queued_at"]]
    assert "print(2)" in setter["timers_added"]
    assert setter["queued"] == ["print(3)", "main.<locals>.print_4_then_time_6()"]
    # While the main step ran, the timer sat in the heap, not in the ready queue.
    assert first_timer["iteration"] == joined["iteration"] == setter["iteration"] + 1


@pytest.mark.parametrize("name", list(ordering.VARIANTS))
def test_each_ordering_puzzle_replay_order_equals_the_order_it_records(name: str) -> None:
    """Each ordering puzzle: the labels in the replay's console come in the order it returns."""
    scenario = scenarios.load("ordering")
    plain_order = asyncio.run(scenario.variants[name].run(None))

    async def go() -> Any:
        return await replay_variant(scenario, name, SimpleNamespace(observations={}))

    replay = asyncio.run(go())
    data = recording_to_json(replay.recorder, meta={})
    assert replay.result == plain_order == expected_orders(sys.version_info[:2])[name]
    assert step_order(data) == replay.result
    assert replay.overhead["ratio"] > 0


def test_a_long_program_is_cut_at_the_step_limit_with_a_note() -> None:
    """Past ``limit`` steps the run goes on unrecorded; the note says how many callbacks ran."""

    async def busy() -> None:
        for _ in range(300):
            await asyncio.sleep(0)

    data = replayed(busy, limit=50)
    assert len(data["steps"]) == 50
    assert data["meta"]["cut"] >= 250
    assert any("cut at the step limit of 50 steps" in note for note in data["notes"])


def test_recording_overhead_is_measured_as_a_share_and_a_ratio() -> None:
    """The recorder times itself: a callback-heavy run shows a real, bounded recording share."""

    async def chain() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def hop(n: int) -> None:
            if n:
                loop.call_soon(hop, n - 1)
            else:
                done.set_result(None)

        hop(1500)
        await done

    data = replayed(chain, limit=5000)
    over = data["overhead"]
    assert over["steps"] == len(data["steps"]) > 1500
    assert 0 < over["recording_s"] < over["recorded_wall_s"]
    # Snapshotting the loop costs more than a no-op callback does: recording dominates here.
    assert over["recording_share"] > 0.2


def test_the_recorder_leaves_the_loop_as_it_found_it() -> None:
    """After recording, Handle._run, the loop's _run_once and sys.stdout are the originals."""
    handle_run = asyncio.events.Handle._run
    stdout = sys.stdout

    async def go() -> None:
        loop = asyncio.get_running_loop()
        recorder = Recorder(echo=False)
        recorder.install(loop)
        await asyncio.sleep(0)
        recorder.uninstall()
        assert "_run_once" not in vars(loop)

    asyncio.run(go())
    assert asyncio.events.Handle._run is handle_run
    assert sys.stdout is stdout


def test_uvloop_records_task_steps_and_says_what_is_missing() -> None:
    """On uvloop only task steps are seen; the printed order still equals uvloop's real run."""
    uvloop = pytest.importorskip("uvloop")
    main_func = load_main(ARTICLE)
    real = io.StringIO()
    with contextlib.redirect_stdout(real):
        uvloop.run(main_func())

    async def go() -> Any:
        return await replay_coroutine(main_func, name="main()", echo=False)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        replay = runner.run(go())
    data = recording_to_json(replay.recorder, meta={}, notes=replay.notes)
    assert step_order(data) == real.getvalue().split()
    assert any("ready queue" in note and "not visible" in note for note in data["notes"])
    assert {s["running"] for s in data["steps"] if s["task"]} == {"main()"}


def test_cli_writes_the_page_and_steps_json_of_a_gather_against_the_mock_server(
    tmp_path: Path,
) -> None:
    """replay of a gather: valid steps JSON with waits on three sockets for their requests."""
    page, steps = tmp_path / "gather.html", tmp_path / "gather.json"
    proc = run_lab(
        "replay", "sequential_vs_gather:gather", "--out", str(page), "--json", str(steps)
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(steps.read_text())
    assert data["steps"]
    assert all(set(s) >= STEP_KEYS for s in data["steps"])
    for step in data["steps"]:
        assert all(isinstance(name, str) for name in step["ready"])
        assert all(set(t) == {"callback", "due_ms"} for t in step["timers"])
    waiting = max(data["steps"], key=lambda s: len([w for w in s["io"] if w["request"]]))
    assert len({w["request"] for w in waiting["io"] if w["request"]}) == 3
    assert data["findings"] == []
    assert "ratio" in data["overhead"]
    assert page.read_text().startswith("<!doctype html>")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "exactly one of"),
        (["ordering:call_soon", "--script", "x.py"], "exactly one of"),
        (["ordering"], "replay needs one variant"),
        (["nope:x"], "unknown scenario"),
        (["ordering:call_soon", "--limit", "0"], "--limit must be between 1 and 100000"),
        (["ordering:call_soon", "--limit", "many"], "--limit must be a whole number"),
        (["--script", "{tmp}/missing.py"], "no such file"),
        (["ordering:call_soon", "--out", "{tmp}"], "cannot write"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Each bad input names the fault in one line and exits 2, before anything runs."""
    argv = ["replay", *(a.replace("{tmp}", str(tmp_path)) for a in args)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert message in err
