"""``asyncio-lab new``: the scenario it writes runs as written, and it never overwrites a file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab_cli import ROOT, run_lab


def test_new_writes_a_scenario_that_passes_the_labs_own_lint(tmp_path: Path) -> None:
    """The module lands at DIR/NAME.py, its path is printed, and it is ruff-clean by our rules."""
    proc = run_lab("new", "checkout", "--dir", "perf", cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    written = tmp_path / "perf" / "checkout.py"
    assert proc.stdout.strip() == "perf/checkout.py"
    assert "asyncio-lab run checkout --scenarios perf --profile quick" in proc.stderr
    text = written.read_text()
    assert "from asyncio_perf_lab import Context, Machine, Variant" in text
    assert "--routes routes.toml" in text  # the comments show how to switch to your routes
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed beside this Python")
    lint = subprocess.run(
        [ruff, "check", "--config", str(ROOT / "pyproject.toml"), str(written)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert lint.returncode == 0, lint.stdout


def test_new_never_overwrites_a_file(tmp_path: Path) -> None:
    """A second `new` of the same name exits 2 with one line and leaves the file as it was."""
    target = tmp_path / "checkout.py"
    target.write_text("# my edits\n")
    proc = run_lab("new", "checkout", "--dir", str(tmp_path), timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"error: {target} exists; `new` never overwrites a file (choose another NAME)"
    )
    assert target.read_text() == "# my edits\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkout.py"]  # nothing left behind


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("9lives", "allowed: letters, digits and _"),
        ("my-flow", "allowed: letters, digits and _"),
        ("batching", "is a built-in scenario"),
        ("json", "installed Python module"),
    ],
)
def test_a_name_the_loader_would_refuse_is_refused_up_front(
    tmp_path: Path, name: str, why: str
) -> None:
    """Names that are not identifiers, built-ins or installed modules get one line and exit 2."""
    proc = run_lab("new", name, "--dir", str(tmp_path), timeout=60)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert why in proc.stderr
    assert not any(tmp_path.iterdir())


def test_the_scaffold_runs_as_written(tmp_path: Path) -> None:
    """`new` then `run NAME --scenarios DIR --profile quick`, untouched: both variants measured,
    equal results, the overlapped one about as fast as one latency."""
    assert run_lab("new", "first_try", "--dir", "perf", cwd=tmp_path).returncode == 0
    proc = run_lab(
        "run", "first_try", "--scenarios", "perf", "--profile", "quick", "--out", "out",
        "--no-report", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "out" / "latest" / "results.json").read_text())
    (scenario,) = results["scenarios"]
    assert scenario["name"] == "first_try"
    assert scenario["results_equal"] is True
    medians = {v["name"]: v["stats"]["median"] for v in scenario["variants"]}
    assert set(medians) == {"one_by_one", "together"}
    assert medians["one_by_one"] > 2 * medians["together"]  # 3 latencies in a row vs 1
