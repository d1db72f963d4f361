"""The interpreter/loop matrix: finding Pythons, reusing venvs, merging runs into one page."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from asyncio_perf_lab.benchmarks import interpreters, matrix
from asyncio_perf_lab.benchmarks.matrix_ab import OutsideReference, choose_reference
from asyncio_perf_lab.reports.matrix_cells import cells_from_results, load_matrix
from asyncio_perf_lab.reports.matrix_page import render_matrix
from asyncio_perf_lab.reports.results_file import load_results, write_json_atomic
from tests.fixtures_results import synthetic_results
from tests.lab_cli import run_lab
from tests.user_project import CARTS, user_folder

ROOT = Path(__file__).resolve().parent.parent
CURRENT = f"{sys.version_info[0]}.{sys.version_info[1]}"
MISSING = "3.99"  # a version no machine has: the fake missing interpreter


def lab(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return run_lab(*args, timeout=timeout)


def user_args(root: Path) -> list[str]:
    """``--scenarios DIR --routes FILE`` of a user's folder (tests.user_project) made in ``root``.

    Its two variants wait 2 x 40 ms and 40 ms a call at the tiny workload, against the
    built-in sequential_vs_gather's three variants of 300 and 100 ms: the matrix, its cells'
    runs and its A/B are the same real processes, in half the time.
    """
    folder, routes = user_folder(root)
    return ["--scenarios", str(folder), "--routes", str(routes)]


@pytest.fixture(name="tiny_matrix", scope="module")
def _tiny_matrix(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """Two real tiny runs on this interpreter (asyncio, uvloop), the second A/B'd against the
    first, and one missing Python."""
    root = tmp_path_factory.mktemp("matrix")
    return lab(
        "matrix", "checkout", *user_args(root), "--profile", "tiny",
        "--pythons", f"{CURRENT},{MISSING}", "--loops", "asyncio,uvloop",
        "--out", str(root / "out"),
    )  # fmt: skip


def test_matrix_merges_two_loops_and_lists_the_missing_python(
    tiny_matrix: subprocess.CompletedProcess[str],
) -> None:
    """Real asyncio and uvloop runs land side by side in one page; the missing Python is listed."""
    assert tiny_matrix.returncode == 0, tiny_matrix.stderr
    page = Path(tiny_matrix.stdout.strip().splitlines()[-1])
    assert page.name == "matrix.html"
    _, cells = load_matrix(page.with_name("matrix.json"))
    assert [(c.name, c.status) for c in cells] == [
        (f"{CURRENT}-asyncio", "ok"),
        (f"{CURRENT}-uvloop", "ok"),
        (f"{MISSING}-asyncio", "missing"),
        (f"{MISSING}-uvloop", "missing"),
    ]
    assert [c.results["run"]["loop"] for c in cells[:2]] == ["asyncio", "uvloop"]
    html = page.read_text()
    assert f"Checkout: {CARTS} cart lookups, awaited in turn or together" in html
    assert f"{CURRENT}-asyncio" in html
    assert f"{CURRENT}-uvloop" in html
    assert "uvloop 0." in html  # the loop's version, read from the results file
    assert f"no Python {MISSING} found" in html
    assert html.count('class="rel">1×') == 2  # the anti-pattern is the unit, once per cell
    assert "<svg" in html
    assert "http://" not in html.replace("http://www.w3.org", "")  # self-contained
    assert f"{MISSING}: missing" in tiny_matrix.stderr  # and said in the output


def test_matrix_page_is_a_function_of_the_results_files(
    tiny_matrix: subprocess.CompletedProcess[str],
) -> None:
    """Rebuilding the page from the results files alone gives the same ratios per cell."""
    page = Path(tiny_matrix.stdout.strip().splitlines()[-1])
    _, cells = load_matrix(page.with_name("matrix.json"))
    paths = [page.parent / f"{c.name}" / "latest" / "results.json" for c in cells[:2]]
    proc = lab("matrix-page", *map(str, paths), "--out", str(page), timeout=60)
    assert proc.returncode == 0, proc.stderr
    rebuilt = page.read_text()
    for cell in cells[:2]:
        scenario = cell.results["scenarios"][0]
        anti = scenario["variants"][0]["stats"]["median"]
        for variant in scenario["variants"]:
            assert f"{variant['stats']['median'] / anti:.3g}×" in rebuilt


def _cell_results(python: str, loop: str, speed: float) -> dict[str, Any]:
    """The synthetic run as if made by ``python``/``loop``, every median scaled by ``speed``."""
    results = copy.deepcopy(synthetic_results())
    results["run"]["loop"] = loop
    results["run"]["env"].update(python=python, loop=loop, loop_version="0.21.0")
    for scenario in results["scenarios"]:
        for variant in scenario["variants"]:
            variant["stats"]["median"] *= speed
    return results


def other_job(tmp_path: Path, version: str, **cell: str) -> Path:
    """Another CI job's matrix.json: one asyncio cell of Python ``version`` that ran."""
    other = tmp_path / "other" / "matrix.json"
    write_json_atomic(other.parent / "a" / "results.json", _cell_results(version, "asyncio", 1.0))
    python = ".".join(version.split(".")[:2])
    entry = {"python": python, "loop": "asyncio", "status": "ok", "results": "a/results.json"}
    manifest = {"schema": 1, "kind": "asyncio-perf-lab/matrix", "id": "other"}
    write_json_atomic(other, {**manifest, "cells": [{**entry, **cell}]})
    return other


def test_ratios_to_the_anti_pattern_are_per_run(tmp_path: Path) -> None:
    """Each cell's ratios use its own anti-pattern: a faster interpreter keeps the same ratios."""
    paths = []
    for name, (python, loop, speed) in {
        "a": ("3.11.7", "asyncio", 1.0),
        "b": ("3.13.0", "uvloop", 0.5),
    }.items():
        paths.append(
            write_json_atomic(tmp_path / name / "results.json", _cell_results(python, loop, speed))
        )
    cells = cells_from_results(paths)
    html = render_matrix(None, cells)
    first = load_results(paths[0])["scenarios"][0]["variants"]
    ratio = first[1]["stats"]["median"] / first[0]["stats"]["median"]
    assert html.count(f'class="rel">{ratio:.3g}×') == 2  # the same ratio in both cells
    assert "0.5×" in html  # the overview: every median of the second cell is half the first's
    assert "CPython 3.13.0 · uvloop 0.21.0" in html


def test_failed_and_unavailable_cells_are_listed_not_fatal(tmp_path: Path) -> None:
    """A cell without results (failed, unavailable) is listed with its reason; the rest renders."""
    write_json_atomic(tmp_path / "ok" / "results.json", _cell_results("3.11.7", "asyncio", 1.0))
    manifest = {
        "schema": 1,
        "kind": "asyncio-perf-lab/matrix",
        "id": "matrix-test",
        "profile": "quick",
        "wall_s": 12.0,
        "cells": [
            {"python": "3.11", "loop": "asyncio", "status": "ok", "results": "ok/results.json"},
            {"python": "3.12", "loop": "uvloop", "status": "unavailable", "detail": "no uvloop"},
            {"python": "3.13", "loop": "asyncio", "status": "ok", "results": "gone.json"},
        ],
    }
    write_json_atomic(tmp_path / "matrix.json", manifest)
    _, cells = load_matrix(tmp_path / "matrix.json")
    assert [c.status for c in cells] == ["ok", "unavailable", "failed"]
    html = render_matrix(manifest, cells)
    assert "Not run or incomplete (2)" in html
    assert "no uvloop" in html
    assert "results unreadable" in html


def test_a_python_on_path_must_really_run_as_that_version(tmp_path: Path) -> None:
    """A pyenv-style shim that cannot run the version is skipped; a working one is found."""
    shim = tmp_path / "broken" / f"python{MISSING}"
    shim.parent.mkdir()
    shim.write_text("#!/bin/sh\necho 'pyenv: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    assert interpreters.find_interpreter(MISSING, search_path=str(shim.parent)) is None
    real = tmp_path / "real" / f"python{MISSING}"
    real.parent.mkdir()
    real.write_text(f"#!/bin/sh\necho {MISSING}.1\n")
    real.chmod(0o755)
    found = interpreters.find_interpreter(
        MISSING, search_path=f"{shim.parent}{os.pathsep}{real.parent}"
    )
    assert found is not None
    assert (found.version, found.full_version, found.current) == (MISSING, f"{MISSING}.1", False)
    current = interpreters.find_interpreter(CURRENT)
    assert current is not None
    assert (current.executable, current.current) == (sys.executable, True)


def test_a_venv_with_a_fresh_stamp_is_reused_not_rebuilt(tmp_path: Path) -> None:
    """An installed venv newer than pyproject.toml is reused; a stale one is refilled like make."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\ndependencies = ["aiohttp>=3.9"]\n'
        '[project.optional-dependencies]\nuvloop = ["uvloop>=0.19"]\ndev = ["pytest>=8.0"]\n'
    )
    interpreter = interpreters.Interpreter(MISSING, f"{MISSING}.0", "/usr/bin/false")
    commands: list[list[str]] = []

    def fake_run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        commands.append(cmd)
        if cmd[1:3] == ["-m", "venv"]:
            (Path(cmd[3]) / "bin").mkdir(parents=True)
            (Path(cmd[3]) / "bin" / "python").touch()
        return subprocess.CompletedProcess(cmd, 0, "", "")

    python, note = interpreters.ensure_venv(
        interpreter, tmp_path / "venvs", pyproject, run=fake_run
    )
    assert note.startswith("created")
    assert [c[1:3] for c in commands] == [["-m", "venv"], ["-m", "pip"]]
    listing = (tmp_path / "venvs" / MISSING / "requirements.txt").read_text().split()
    assert listing == ["aiohttp>=3.9", "uvloop>=0.19", "pytest>=8.0"]
    assert (tmp_path / "venvs" / MISSING / ".gitignore").read_text() == "*\n"
    commands.clear()
    again, note = interpreters.ensure_venv(interpreter, tmp_path / "venvs", pyproject, run=fake_run)
    assert (again, commands) == (python, [])
    assert note.startswith("reused")


def test_uvloop_that_will_not_install_leaves_the_rest_installed(tmp_path: Path) -> None:
    """If the full install fails, the venv is filled without uvloop and the note says so."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\ndependencies = ["aiohttp>=3.9"]\n'
        '[project.optional-dependencies]\nuvloop = ["uvloop>=0.19"]\n'
    )
    venv = tmp_path / "venvs" / MISSING
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()

    def fake_run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        wants_uvloop = "uvloop" in (venv / "requirements.txt").read_text()
        return subprocess.CompletedProcess(cmd, 1 if wants_uvloop else 0, "", "no wheel")

    interpreter = interpreters.Interpreter(MISSING, f"{MISSING}.0", "/usr/bin/false")
    _, note = interpreters.ensure_venv(interpreter, tmp_path / "venvs", pyproject, run=fake_run)
    assert note.endswith("uvloop could not be installed")
    assert (venv / "requirements.txt").read_text().split() == ["aiohttp>=3.9"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--pythons", "3.9"], "below 3.11"),
        (["--pythons", "three"], "not a version"),
        (["--loops", "trio"], "allowed: asyncio, uvloop"),
        (["no_such_scenario"], "unknown scenario"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], named: str, tmp_path: Path) -> None:
    """Bad versions, loops or scenarios are refused in one line with exit 2, before any run."""
    proc = lab("matrix", *args, "--out", str(tmp_path), timeout=60)
    assert proc.returncode == 2
    assert named in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_matrix_manifest_records_every_cell(tiny_matrix: subprocess.CompletedProcess[str]) -> None:
    """matrix.json names the request and each cell's outcome, with paths relative to it."""
    page = Path(tiny_matrix.stdout.strip().splitlines()[-1])
    manifest = json.loads(page.with_name("matrix.json").read_text())
    assert manifest["kind"] == "asyncio-perf-lab/matrix"
    assert manifest["profile"] == "tiny"
    assert manifest["targets"] == ["checkout"]
    ok = [c for c in manifest["cells"] if c["status"] == "ok"]
    assert all(not Path(c["results"]).is_absolute() for c in ok)
    assert all((page.parent / c["results"]).exists() for c in ok)


FAKE_RUN = """#!{python}
import sys
from pathlib import Path

args = sys.argv[1:]
out = Path(args[args.index("--out") + 1])
targets = args[args.index("--out") + 2 :]
if not targets or "ordering" in targets or "ordering:eager_task" in targets:
    print("run failed: ordering:eager_task failed (exit 1):")
    sys.exit(1)
run = out / f"run{{len(list(out.glob('run*')))}}"
run.mkdir(parents=True)
(run / "results.json").write_text("{{}}")
(out / "latest").unlink(missing_ok=True)
(out / "latest").symlink_to(run.name)
"""


def test_a_variant_that_fails_in_one_cell_is_left_out_not_the_cell(tmp_path: Path) -> None:
    """A variant broken under one interpreter/loop is named and left out; the rest still runs."""
    fake = tmp_path / "python"
    fake.write_text(FAKE_RUN.format(python=sys.executable))
    fake.chmod(0o755)
    config = matrix.MatrixConfig(pythons=[CURRENT], loops=["uvloop"], targets=["ordering"])
    cell = matrix.Cell(CURRENT, "uvloop")
    matrix.run_cell(cell, str(fake), config, tmp_path)
    assert cell.status == "partial"
    assert cell.detail.startswith("without ordering:eager_task, which failed here")
    log = (tmp_path / cell.name / "run.log").read_text().splitlines()
    rerun = next(line for line in log if line.startswith(str(fake)) and "ordering:" in line)
    assert "ordering:eager_task" not in rerun
    assert "ordering:call_soon" in rerun
    assert cell.results is not None
    assert (tmp_path / cell.results).exists()


def test_matrix_judges_each_cell_against_the_reference(
    tiny_matrix: subprocess.CompletedProcess[str],
) -> None:
    """The uvloop cell is A/B'd against the first cell in one job; the page shows its verdicts."""
    page = Path(tiny_matrix.stdout.strip().splitlines()[-1])
    manifest = json.loads(page.with_name("matrix.json").read_text())
    assert manifest["reference"] == f"{CURRENT}-asyncio"
    cells = {c["loop"]: c for c in manifest["cells"] if c["python"] == CURRENT}
    assert cells["asyncio"]["verdict"] == "reference"
    assert cells["uvloop"]["verdict"].startswith(f"vs {CURRENT}-asyncio: ")
    comparison = json.loads((page.parent / cells["uvloop"]["comparison"]).read_text())
    envs = comparison["meta"]["environments"]
    assert (envs["base"]["loop"], envs["head"]["loop"]) == ("asyncio", "uvloop")
    assert {v["key"] for v in comparison["variants"]} == {
        "checkout:one_by_one",
        "checkout:together",
    }
    # Whole ABBA rounds, as many a side: 3, or 2 once no third could change a pass (ab's stop).
    assert all(v["units"] in ([4, 4], [6, 6]) for v in comparison["variants"]), comparison
    html = render_matrix(*load_matrix(page.with_name("matrix.json")))  # another test rewrites it
    assert f"Against the reference cell ({CURRENT}-asyncio)" in html
    assert f"{CURRENT}-uvloop: {comparison['summary']}".replace(">", "&gt;") in html


def test_matrix_page_lists_what_got_slower_and_faster_with_p_values(tmp_path: Path) -> None:
    """A cell's A/B verdicts reach the page: slower and faster variants with change and p."""
    write_json_atomic(tmp_path / "a" / "results.json", _cell_results("3.11.7", "asyncio", 1.0))
    write_json_atomic(tmp_path / "b" / "results.json", _cell_results("3.13.0", "asyncio", 0.9))

    def item(key: str, outcome: str, ratio: float, p: float) -> dict[str, Any]:
        p_slower, p_faster = (p, 1 - p) if ratio > 1 else (1 - p, p)
        return {"key": key, "label": key, "outcome": outcome, "ratio": ratio,
                "p_slower": p_slower, "p_faster": p_faster, "floor": 0.03}  # fmt: skip

    comparison = {
        "summary": "1 regression, 1 improvement, 1 pass -> exit 1",
        "counts": {"regression": 1, "improvement": 1, "pass": 1},
        "variants": [
            item("s:slow", "regression", 1.25, 0.0011),
            item("s:fast", "improvement", 0.8, 0.0022),
            item("s:same", "pass", 1.0, 0.5),
        ],
    }
    write_json_atomic(tmp_path / "b" / "comparison.json", comparison)
    manifest = {
        "schema": 1,
        "kind": "asyncio-perf-lab/matrix",
        "id": "matrix-test",
        "reference": "3.11-asyncio",
        "cells": [
            {"python": "3.11", "loop": "asyncio", "status": "ok", "results": "a/results.json",
             "verdict": "reference"},
            {"python": "3.13", "loop": "asyncio", "status": "ok", "results": "b/results.json",
             "verdict": "vs 3.11-asyncio", "comparison": "b/comparison.json"},
        ],
    }  # fmt: skip
    write_json_atomic(tmp_path / "matrix.json", manifest)
    html = render_matrix(*load_matrix(tmp_path / "matrix.json"))
    assert "Against the reference cell (3.11-asyncio)" in html
    assert "3.13-asyncio: 1 regression, 1 improvement, 1 pass -&gt; exit 1" in html
    slower = html[html.index('<tr class="slower">') :].split("</tr>")[0]
    assert "s:slow" in slower
    assert "+25.0%" in slower
    assert "0.0011" in slower
    faster = html[html.index('<tr class="faster">') :].split("</tr>")[0]
    assert "s:fast" in faster
    assert "-20.0%" in faster
    assert "0.0022" in faster
    assert "1 variant(s) unchanged within their floor" in html


def test_a_reference_cell_outside_the_matrix_is_found_not_run() -> None:
    """A CI job's --reference X.Y-LOOP outside its cells is this machine's interpreter, prepared
    and never run (only the base side of each A/B); a missing one is said, with no verdicts."""
    job_cell = matrix.Cell(CURRENT, "uvloop", status="ok", executable=sys.executable)
    said: list[str] = []
    reference = choose_reference([job_cell], f"{CURRENT}-asyncio", said.append)
    assert isinstance(reference, OutsideReference)
    assert (reference.name, reference.executable) == (f"{CURRENT}-asyncio", sys.executable)
    assert choose_reference([job_cell], f"{CURRENT}-uvloop", said.append) is job_cell
    assert choose_reference([job_cell], f"{MISSING}-asyncio", said.append) is None
    assert said == [f"reference {MISSING}-asyncio: no Python {MISSING} found"]


def test_each_jobs_matrix_json_merges_into_one_page(
    tiny_matrix: subprocess.CompletedProcess[str], tmp_path: Path
) -> None:
    """CI's merge job: the real matrix's matrix.json and another job's give one page with every
    cell, the reference named once and the real A/B's verdict."""
    manifest_path = Path(tiny_matrix.stdout.strip().splitlines()[-1]).with_name("matrix.json")
    other = other_job(tmp_path, "3.13.0")
    merged = lab(
        "matrix-page", str(manifest_path), str(other), "--out", str(tmp_path / "m.html"), timeout=60
    )
    assert merged.returncode == 0, merged.stderr
    html = (tmp_path / "m.html").read_text()
    assert f"Against the reference cell ({CURRENT}-asyncio)" in html
    cells = json.loads(manifest_path.read_text())["cells"]
    (uvloop,) = [c for c in cells if (c["python"], c["loop"]) == (CURRENT, "uvloop")]
    comparison = json.loads((manifest_path.parent / uvloop["comparison"]).read_text())
    assert f"{CURRENT}-uvloop: {comparison['summary']}".replace(">", "&gt;") in html
    assert "3.13-asyncio" in html
    assert "3 of 5 cells ran" in html  # two real, one from the other job; 3.99 twice missing


@pytest.mark.slow
def test_one_cell_job_is_judged_against_a_reference_it_does_not_run(tmp_path: Path) -> None:
    """A CI job's single cell (uvloop) is A/B'd against --reference CURRENT-asyncio, not run.

    Slow: a second real matrix with its own A/B (16 s), the same judge_cells and run_ab as the
    module's real matrix; the default set checks its own parts: the reference found outside
    the cells and not run, and the merge of each job's matrix.json into one page.
    """
    proc = lab(
        "matrix", "checkout:together", *user_args(tmp_path), "--profile", "tiny",
        "--pythons", CURRENT, "--loops", "uvloop", "--reference", f"{CURRENT}-asyncio",
        "--out", str(tmp_path / "job"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (manifest_path,) = (tmp_path / "job").glob("matrix-*/matrix.json")
    manifest = json.loads(manifest_path.read_text())
    assert manifest["reference"] == f"{CURRENT}-asyncio"
    (cell,) = manifest["cells"]
    assert cell["loop"] == "uvloop"
    assert cell["verdict"].startswith(f"vs {CURRENT}-asyncio: ")
    assert (manifest_path.parent / cell["comparison"]).exists()
    # The merge job: this job's matrix.json and another job's, one page.
    other = other_job(tmp_path, "3.11.7", verdict="reference")
    merged = lab(
        "matrix-page", str(other), str(manifest_path), "--out", str(tmp_path / "m.html"), timeout=60
    )
    assert merged.returncode == 0, merged.stderr
    html = (tmp_path / "m.html").read_text()
    assert f"Against the reference cell ({CURRENT}-asyncio)" in html
    assert f"{CURRENT}-uvloop: " in html
    assert "2 of 2 cells ran" in html
