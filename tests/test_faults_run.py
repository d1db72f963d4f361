"""Faults in the middle of a run, with real processes: a worker that hangs, a runner sent SIGINT,
SIGTERM or SIGKILL, a mock server killed or stopped, a probe that never ends.

Each test checks the exit code, the one line that names the fault, the files left in --out (what
was measured, marked incomplete, or nothing at all) and the process table: nothing the run
started may still be running (``tests.fault_tools.tagged``).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asyncio_perf_lab.reports.results_file import load_results
from tests.fault_tools import (
    Lab,
    faulty_folder,
    left_running,
    lines_with,
    new_tag,
    pid_of,
    sweep,
    tagged,
    wait_for,
)

PHASE_LIMIT_S = 4  # a tiny worker needs 0.5 s here (1-2 s under load); a hung one is stopped at 4
MOCKSERVER = "asyncio_perf_lab.mockserver"


@pytest.fixture(name="tag")
def _tag() -> Iterator[str]:
    tag = new_tag()
    yield tag
    sweep(tag)


@pytest.fixture(name="faults")
def _faults(tmp_path: Path) -> tuple[Path, Path]:
    return faulty_folder(tmp_path)


def start_run(
    tag: str,
    faults: tuple[Path, Path],
    out: Path,
    *variants: str,
    limit_s: float = PHASE_LIMIT_S,
    report: bool = False,
) -> Lab:
    """``asyncio-lab run faulty:V ... --profile tiny`` in the background, tagged."""
    args = [f"faulty:{v}" for v in variants]
    args += ["--scenarios", str(faults[0]), "--profile", "tiny", "--out", str(out)]
    args += ["--phase-limit", str(limit_s), *([] if report else ["--no-report"])]
    return Lab(tag, "run", *args)


def the_line(err: str, start: str) -> str:
    """The one line of stderr that starts with ``start``; no traceback anywhere."""
    assert "Traceback" not in err, err
    found = lines_with(err, start)
    assert len(found) == 1, err
    return found[0]


def kept(out: Path, measured: list[str], missing: list[str], files: set[str]) -> dict[str, Any]:
    """The one run folder left in ``out``: only ``files``, the measured variants marked
    incomplete with the missing ones named, and ``latest`` pointing at it."""
    runs = [p for p in out.iterdir() if p.name != "latest"]
    assert len(runs) == 1, runs
    assert {p.name for p in runs[0].iterdir()} == files
    data = load_results(runs[0] / "results.json")
    assert [v["name"] for s in data["scenarios"] for v in s["variants"]] == measured
    assert data["run"]["incomplete"]["missing"] == [f"faulty:{name}" for name in missing]
    assert (out / "latest").resolve() == runs[0].resolve()
    return data


def test_a_hung_worker_is_stopped_at_its_limit_and_what_was_measured_is_kept(
    tag: str, faults: tuple[Path, Path], tmp_path: Path
) -> None:
    """A worker that never returns is stopped with its group at the timing limit; exit 1, one
    line; the variant measured before is in results.json and the report, marked incomplete."""
    out = tmp_path / "out"
    code, _, err = start_run(tag, faults, out, "fine", "hangs_in_worker", report=True).finish()

    assert (faults[1] / "hangs_in_worker.worker").exists()  # it really hung inside a worker
    assert code == 1
    line = the_line(err, "run failed:")
    assert f"faulty:hangs_in_worker took over its timing limit of {PHASE_LIMIT_S} s" in line
    assert "stopped its workers" in line
    data = kept(out, ["fine"], ["hangs_in_worker"], {"results.json", "pyperf.json", "report.html"})
    assert "took over its timing limit" in data["run"]["incomplete"]["reason"]
    page = (out / "latest" / "report.html").read_text()
    assert "Incomplete run:" in page
    assert "<code>faulty:hangs_in_worker</code>" in page
    assert left_running(tag) == []


@pytest.mark.parametrize(
    ("sig", "code", "named"),
    [(signal.SIGINT, 130, "Ctrl-C (SIGINT)"), (signal.SIGTERM, 143, "SIGTERM")],
)
def test_sigint_or_sigterm_to_the_runner_alone_stops_its_workers_and_keeps_the_rest(
    tag: str, faults: tuple[Path, Path], tmp_path: Path, sig: signal.Signals, code: int, named: str
) -> None:
    """`kill -INT/-TERM PID` of the runner, while a worker runs a process pool: the runner stops
    the worker's whole group and the server, writes what it measured, and exits 130 / 143."""
    out = tmp_path / "out"
    run = start_run(tag, faults, out, "fine", "pool_then_hangs", limit_s=120)
    wait_for((faults[1] / "pool_then_hangs.worker").exists, 60, "the worker's pool started")
    assert any("multiprocessing.forkserver" in line for line in tagged(tag))

    run.signal(sig)
    exit_code, _, err = run.finish()

    assert exit_code == code
    line = the_line(err, "run stopped:")
    assert line == f"run stopped: interrupted by {named} while faulty:pool_then_hangs ran"
    kept(out, ["fine"], ["pool_then_hangs"], {"results.json", "pyperf.json"})
    assert left_running(tag) == []


def test_a_runner_killed_by_sigkill_takes_workers_pool_and_server_with_it(
    tag: str, faults: tuple[Path, Path], tmp_path: Path
) -> None:
    """SIGKILL of the runner: its worker's guard kills the worker's group (pool, forkserver)
    and the server sees its stdin close; nothing runs on, and no empty run folder is left."""
    out = tmp_path / "out"
    run = start_run(tag, faults, out, "pool_then_hangs", limit_s=120)
    wait_for((faults[1] / "pool_then_hangs.worker").exists, 60, "the worker's pool started")
    before = tagged(tag)
    assert any(MOCKSERVER in line for line in before)
    assert sum("benchmarks.worker" in line for line in before) == 2  # the worker and its guard
    assert any("multiprocessing.forkserver" in line for line in before)

    run.signal(signal.SIGKILL)
    exit_code, out_text, err = run.finish()

    assert exit_code == -signal.SIGKILL
    assert left_running(tag) == [], before
    assert list(out.iterdir()) == []  # the run folder is made only once there are results
    assert "Traceback" not in err
    assert out_text == ""


@pytest.mark.parametrize("phase", ["timing", "probe"])
def test_a_mock_server_killed_mid_run_is_named_in_one_line(
    tag: str, faults: tuple[Path, Path], tmp_path: Path, phase: str
) -> None:
    """The real mock server SIGKILLed while a worker asks it (timing) or while the probe waits
    on it: one line says the server died and how, exit 1, nothing left running."""
    out = tmp_path / "out"
    variant, marker = {
        "timing": ("keeps_asking", "keeps_asking.worker"),
        "probe": ("waits_in_probe", "waits_in_probe.probe"),
    }[phase]
    run = start_run(tag, faults, out, "fine", variant, limit_s=60)
    wait_for((faults[1] / marker).exists, 60, f"{variant} reached the server")

    os.kill(pid_of(tag, MOCKSERVER), signal.SIGKILL)
    code, _, err = run.finish()

    assert code == 1
    line = the_line(err, "run failed:")
    assert line == (
        "run failed: the mockserver died (killed by SIGKILL); its stderr was empty "
        f"while faulty:{variant} ran"
    )
    kept(out, ["fine"], [variant], {"results.json", "pyperf.json"})
    assert left_running(tag) == []


def test_a_mock_server_that_stops_answering_is_named_and_still_stopped(
    tag: str, faults: tuple[Path, Path], tmp_path: Path
) -> None:
    """A server frozen by SIGSTOP while a worker asks it: the worker runs out of time, the run
    says the server stopped answering, and the frozen server is stopped all the same."""
    out = tmp_path / "out"
    run = start_run(tag, faults, out, "fine", "keeps_asking")
    wait_for((faults[1] / "keeps_asking.worker").exists, 60, "the worker reached the server")

    os.kill(pid_of(tag, MOCKSERVER), signal.SIGSTOP)
    code, _, err = run.finish()

    assert code == 1
    line = the_line(err, "run failed:")
    assert line.startswith("run failed: the mockserver (pid ")
    assert "stopped answering: GET /health got no answer within 2 s" in line
    assert line.endswith("while faulty:keeps_asking ran")
    kept(out, ["fine"], ["keeps_asking"], {"results.json", "pyperf.json"})
    assert left_running(tag) == []


@pytest.mark.parametrize("variant", ["hangs", "spins"])
def test_a_probe_that_never_ends_is_stopped_at_its_limit_leaving_nothing(
    tag: str, faults: tuple[Path, Path], tmp_path: Path, variant: str
) -> None:
    """A probe waiting on nothing HTTP (hangs) or blocking its own loop (spins) is stopped at
    the probe limit; nothing was measured, so nothing is written, not even an empty folder.

    A limit of 1 s is 500 times what the probe needs (2 ms): nothing runs before it, so no
    margin is wasted waiting (spins adds the runner's 5 s grace for a loop that never yields).
    """
    out = tmp_path / "out"
    code, _, err = start_run(tag, faults, out, variant, limit_s=1).finish()

    assert code == 1
    line = the_line(err, "run failed:")
    assert line.startswith(f"run failed: faulty:{variant} took over its probe limit of 1 s")
    assert "1 ms a call at its ideal x 2 calls" in line  # the arithmetic of the limit
    assert lines_with(err, "nothing was measured: no results written")
    assert list(out.iterdir()) == []
    assert left_running(tag) == []


def test_a_variant_that_raises_in_its_worker_is_one_line_not_pyperfs_traceback(
    tag: str, faults: tuple[Path, Path], tmp_path: Path
) -> None:
    """A worker that fails is named with its exit code, its error and where it was raised."""
    out = tmp_path / "out"
    code, _, err = start_run(tag, faults, out, "fine", "raises_in_worker").finish()

    assert code == 1
    line = the_line(err, "run failed:")
    assert line.startswith(
        "run failed: faulty:raises_in_worker failed in its worker (exit 1): "
        "ValueError: boom in the worker (faulty.py:"
    )
    assert line.endswith(" in raises_in_worker)")
    kept(out, ["fine"], ["raises_in_worker"], {"results.json", "pyperf.json"})
    assert left_running(tag) == []
