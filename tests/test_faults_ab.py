"""Faults in the middle of an A/B, with real processes: SIGTERM or Ctrl-C while a worker runs.

As for ``run`` (tests/test_faults_run.py): the exit code, one line, what was judged kept and
marked incomplete, and nothing the A/B started still running.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fault_tools import Lab, faulty_folder, left_running, lines_with, new_tag, sweep, wait_for


@pytest.fixture(name="tag")
def _tag() -> Iterator[str]:
    tag = new_tag()
    yield tag
    sweep(tag)


@pytest.mark.parametrize(
    ("sig", "code", "named"),
    [(signal.SIGINT, 130, "Ctrl-C (SIGINT)"), (signal.SIGTERM, 143, "SIGTERM")],
)
def test_a_stopped_ab_keeps_what_it_judged_and_leaves_nothing_running(
    tag: str, tmp_path: Path, sig: signal.Signals, code: int, named: str
) -> None:
    """`kill -INT/-TERM` of ``ab`` while a worker holds a process pool: exit 130 / 143, one line
    naming the run, the variant timed before judged in comparison.json (marked incomplete)."""
    folder, marks = faulty_folder(tmp_path)
    out = tmp_path / "out"
    lab = Lab(
        tag,
        "ab",
        "--base-loop=asyncio",
        "--head-loop=asyncio",
        "faulty:fine",
        "faulty:pool_then_hangs",
        f"--scenarios={folder}",
        "--profile=tiny",
        f"--out={out}",
    )
    wait_for((marks / "pool_then_hangs.worker").exists, 60, "the worker's pool started")
    lab.signal(sig)
    exit_code, _, err = lab.finish()

    assert exit_code == code, err
    (line,) = lines_with(err, "ab stopped:")
    assert line.startswith(
        f"ab stopped: interrupted by {named} while base faulty:pool_then_hangs ran; "
        "kept what was judged: "
    ), line
    assert "Traceback" not in err
    (written,) = out.glob("ab-*/comparison.json")
    data = json.loads(written.read_text())
    assert [item["key"] for item in data["variants"]] == ["faulty:fine"]
    assert data["meta"]["incomplete"]["missing"] == ["faulty:pool_then_hangs"]
    assert (written.parent / "compare.html").exists()
    assert left_running(tag) == []
