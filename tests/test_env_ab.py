"""Environment A/B: each side in its own interpreter or venv, checked at the door, recorded.

The slower environment is built for real: a venv of the lab's own base interpreter that sees the
lab venv's packages (a ``.pth`` line) and whose ``sitecustomize.py`` makes every aiohttp client
request hash 1 MiB before it is sent. That is real CPU work on the event loop per request, as a
heavier client library would do (no sleep): the three concurrent requests of
``sequential_vs_gather:gather`` serialize on it, about +10-15% on its 100 ms here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from asyncio_perf_lab.benchmarks import venvs
from tests.lab_cli import run_lab

ROOT = Path(__file__).resolve().parent.parent
TARGET = "sequential_vs_gather:gather"
SLOW_REQUESTS = '''\
"""Every aiohttp client request first hashes 1 MiB on the loop: a slower client, for real."""
import hashlib

import aiohttp

PAYLOAD = bytes(range(256)) * 4096
_request = aiohttp.ClientSession._request


async def _slower_request(self, *args, **kwargs):
    hashlib.sha256(PAYLOAD).digest()
    return await _request(self, *args, **kwargs)


aiohttp.ClientSession._request = _slower_request
'''


def bare_venv(path: Path) -> Path:
    """A venv of the lab's base interpreter with nothing installed; its python."""
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(path)], check=True, timeout=60)
    return path / "bin" / "python"


def site_packages(python: Path) -> Path:
    """The site-packages folder of a venv's python."""
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def comparison_of(out: Path) -> dict:
    (path,) = out.glob("ab-*/comparison.json")
    return json.loads(path.read_text())


@pytest.fixture(name="slow_python", scope="module")
def _slow_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the lab venv's packages whose client requests each do 1 MiB of hashing."""
    python = bare_venv(tmp_path_factory.mktemp("env") / "slow-requests")
    site = site_packages(python)
    lab_site = sysconfig.get_paths()["purelib"]
    (site / "lab_venv.pth").write_text(f"import site; site.addsitedir({lab_site!r})\n")
    (site / "sitecustomize.py").write_text(SLOW_REQUESTS)
    return python


# --- at the door ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("python", "named"),
    [
        ("/no/such/python3", "/no/such/python3: no such interpreter (not an executable file)"),
        ("python3-no-such-command", "python3-no-such-command: no such interpreter on PATH"),
        ("3.99", "3.99: no Python 3.99 found (not on PATH, not under pyenv)"),
    ],
)
def test_missing_interpreter_is_one_line_exit_2(python: str, named: str, tmp_path: Path) -> None:
    """A head interpreter that does not exist is one line naming it, exit 2, nothing written."""
    proc = run_lab("ab", "--head-python", python, TARGET, "--out", str(tmp_path), timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == f"asyncio-lab ab: error: argument --head-python: {named}\n"
    assert list(tmp_path.iterdir()) == []


def test_unsupported_version_is_one_line_exit_2(tmp_path: Path) -> None:
    """An interpreter that runs as Python 3.10 is refused in one line: the lab needs 3.11+."""
    old = tmp_path / "python3.10"
    old.write_text("#!/bin/sh\necho 3.10.4\n")
    old.chmod(0o755)
    proc = run_lab("ab", "--base-python", str(old), TARGET, "--out", str(tmp_path), timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("is Python 3.10.4; the lab needs Python >= 3.11")
    assert proc.stderr.count("\n") == 1


def test_interpreter_without_the_lab_dependencies_is_one_line_exit_2(tmp_path: Path) -> None:
    """A real venv without aiohttp/pyperf/orjson is refused in one line naming what it lacks."""
    python = bare_venv(tmp_path / "bare")
    proc = run_lab("ab", "--head-python", str(python), TARGET, "--out", str(tmp_path / "o"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "head side:" in proc.stderr
    assert "lacks the lab's dependencies: aiohttp (ModuleNotFoundError)" in proc.stderr
    assert "--head-requirements FILE" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_nothing_to_compare_is_one_line_exit_2() -> None:
    """Neither a revision nor an environment flag is bad input, named in one line."""
    proc = run_lab("ab", TARGET, timeout=60)
    assert proc.returncode == 2
    assert "nothing to compare: give --base REV, or an environment per side" in proc.stderr


# --- cached venvs -----------------------------------------------------------------------------


def test_requirement_venvs_are_cached_by_their_content(tmp_path: Path) -> None:
    """The same requirement set reuses its venv; a changed pin gets a new one, built once."""
    pins = tmp_path / "pins.txt"
    pins.write_text("aiohttp==3.9.5\n")
    built: list[list[str]] = []

    def fake_run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        built.append(cmd)
        if cmd[1:3] == ["-m", "venv"]:
            (Path(cmd[3]) / "bin").mkdir(parents=True)
            (Path(cmd[3]) / "bin" / "python").touch()
        return subprocess.CompletedProcess(cmd, 0, "", "")

    args = ("/usr/bin/python3", "/usr/bin/python3 3.11.7", ["pyperf>=2.6"], [pins])
    first, note = venvs.cached_venv(*args, root=tmp_path / "cache", run=fake_run)
    assert note.startswith("built")
    install = built[-1]
    assert install[-2:] == ["-r", str(pins)]  # the user's pins resolved with the lab's needs
    again, note = venvs.cached_venv(*args, root=tmp_path / "cache", run=fake_run)
    assert (again, note.startswith("reused"), len(built)) == (first, True, 2)
    pins.write_text("aiohttp==3.10.0\n")
    other, _ = venvs.cached_venv(*args, root=tmp_path / "cache", run=fake_run)
    assert other != first
    assert len(built) == 4


# --- real A/Bs ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_lab_venv_against_itself_does_not_fail(tmp_path: Path) -> None:
    """The lab's venv on both sides (A/A of the environment) passes or is inconclusive."""
    python = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
    proc = run_lab(
        "ab", "--base-python", python, "--head-python", python, TARGET, "--out", str(tmp_path),
        timeout=180,
    )  # fmt: skip
    assert proc.returncode in (0, 3), proc.stdout + proc.stderr
    data = comparison_of(tmp_path)
    envs = data["meta"]["environments"]
    assert envs["base"]["executable"] == envs["head"]["executable"]
    assert envs["base"]["aiohttp"] == envs["head"]["aiohttp"]
    assert data["meta"]["base_rev"] == data["meta"]["head_rev"] == "working tree"


def slower_head_ab(slow_python: Path, out: Path, *extra: str) -> dict:
    """``ab --head-python SLOW`` of TARGET: a regression, recorded with both environments."""
    proc = run_lab("ab", "--head-python", str(slow_python), TARGET, *extra, "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = comparison_of(out)
    (item,) = data["variants"]
    assert item["outcome"] == "regression", item["reason"]
    assert item["ratio"] > 1 + item["floor"]
    assert item["unit"] == "process median"
    envs = data["meta"]["environments"]
    assert envs["head"]["executable"] == str(slow_python)
    assert envs["base"]["executable"] != envs["head"]["executable"]
    assert envs["head"]["aiohttp"] == envs["base"]["aiohttp"]  # same packages, slower client
    page = next(out.glob("ab-*/compare.html")).read_text()
    assert str(slow_python) in page  # the environment table names each side's interpreter
    assert "slow-requests" in data["head"]
    return item


def test_environment_with_slower_requests_is_a_regression(
    slow_python: Path, tmp_path: Path
) -> None:
    """Head in the venv whose client requests do extra real work: a regression, recorded.

    Judged on its 3 ABBA rounds (--no-rerun): the confirming re-run of 6 more rounds doubles
    the cost and is the slow test below; re-runs themselves are tests/test_ab.py's.
    """
    item = slower_head_ab(slow_python, tmp_path, "--no-rerun")
    assert item["units"] == [6, 6]  # 3 whole ABBA rounds: 2 worker processes a side each


@pytest.mark.slow
def test_a_slower_environment_stays_a_regression_on_its_re_run(
    slow_python: Path, tmp_path: Path
) -> None:
    """ab as a user runs it: the flagged regression is re-run with 6 rounds, which confirm it."""
    item = slower_head_ab(slow_python, tmp_path)
    assert item["first_outcome"] == "regression"
    assert item["units"] == [12, 12]


@pytest.mark.slow
def test_loop_ab_records_each_sides_loop(tmp_path: Path) -> None:
    """--base-loop asyncio --head-loop uvloop times each side on its loop and records both."""
    pytest.importorskip("uvloop")
    proc = run_lab(
        "ab", "--base-loop", "asyncio", "--head-loop", "uvloop", TARGET, "--rounds", "1",
        "--no-rerun", "--out", str(tmp_path), timeout=120,
    )  # fmt: skip
    assert proc.returncode in (0, 1, 3), proc.stderr
    envs = comparison_of(tmp_path)["meta"]["environments"]
    assert (envs["base"]["loop"], envs["base"]["loop_version"]) == ("asyncio", None)
    assert envs["head"]["loop"] == "uvloop"
    assert envs["head"]["loop_version"] == envs["head"]["uvloop"]


@pytest.mark.slow
def test_requirements_build_a_cached_venv_with_the_pinned_versions(tmp_path: Path) -> None:
    """--head-requirements builds a venv from the pins (aiohttp 3.9.5) and head runs in it."""
    pins = tmp_path / "old-aiohttp.txt"
    pins.write_text("aiohttp==3.9.5\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "asyncio_perf_lab.benchmarks", "ab"]
    args = ["--head-requirements", str(pins), TARGET, "--rounds", "1", "--no-rerun"]
    proc = subprocess.run(
        [*command, *args, "--out", str(tmp_path / "out")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode in (0, 1, 3), proc.stderr
    envs = comparison_of(tmp_path / "out")["meta"]["environments"]
    assert envs["head"]["aiohttp"] == "3.9.5"
    assert envs["base"]["aiohttp"] != "3.9.5"
    assert envs["head"]["requirements"] == str(pins)
    assert envs["head"]["venv"].startswith(str(tmp_path / "cache" / "asyncio-perf-lab" / "venvs"))
    again = subprocess.run(
        [*command, *args, "--out", str(tmp_path / "again")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    reused = comparison_of(tmp_path / "again")["meta"]["environments"]["head"]
    assert again.returncode in (0, 1, 3), again.stderr
    assert reused["venv"] == envs["head"]["venv"]
    assert reused["venv_note"].startswith("reused")


def test_a_loop_the_sides_interpreter_cannot_import_is_one_line_exit_2(tmp_path: Path) -> None:
    """--head-loop uvloop in an interpreter where uvloop does not import: one line, exit 2."""
    python = bare_venv(tmp_path / "no-uvloop")
    site = site_packages(python)
    lab_site = sysconfig.get_paths()["purelib"]
    (site / "lab_venv.pth").write_text(f"import site; site.addsitedir({lab_site!r})\n")
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['uvloop'] = None\n")
    proc = run_lab(
        "ab", "--head-python", str(python), "--head-loop", "uvloop", TARGET,
        "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert f"head side: loop uvloop is not importable in {python}" in proc.stderr
