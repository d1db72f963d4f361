"""The lab installs under one import name, asyncio_perf_lab, and its command runs from any folder.

A real ``pip install`` of a copy of the checkout into a fresh virtualenv. The lab's dependencies
come from this test run's own environment through a ``.pth`` path line, so the test needs no
network for them; only the build backend (setuptools) comes from the package index.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERIC = ("benchmarks", "reports", "scenarios", "mockserver")
SKIP = shutil.ignore_patterns(".venv", ".git", "results", "__pycache__", "build", "*.egg-info")


@pytest.fixture(name="installed", scope="module")
def _installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the checkout pip-installed (not editable) into it."""
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=SKIP)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # Dependencies from this environment; a bare path line does not run its .pth files, so the
    # checkout's own editable install stays out of the new venv.
    (site / "lab-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    proc = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", source],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return venv


def purelib(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


@pytest.mark.slow
def test_site_packages_gains_one_import_name_and_no_generic_one(installed: Path) -> None:
    """asyncio_perf_lab lands with its subpackages and data; none of the four folder names does."""
    site = purelib(installed)
    assert (site / "asyncio_perf_lab" / "__init__.py").is_file()
    for name in GENERIC:
        assert not (site / name).exists(), f"site-packages got a generic {name}/"
        assert (site / "asyncio_perf_lab" / name / "__init__.py").is_file()
    reports = site / "asyncio_perf_lab" / "reports"
    assert (reports / "results.schema.json").is_file()
    assert (reports / "templates" / "report.html.j2").is_file()
    packaged = {p.parent.relative_to(ROOT) for p in ROOT.glob("*/**/__init__.py")}
    packaged = {p for p in packaged if p.parts[0] in GENERIC}
    missing = [p for p in packaged if not (site / "asyncio_perf_lab" / p / "__init__.py").is_file()]
    assert not missing, f"subpackages not installed: {missing}"


@pytest.mark.slow
def test_the_command_runs_from_another_folder(installed: Path, tmp_path: Path) -> None:
    """`asyncio-lab list` in an unrelated folder uses the installed copy, not the checkout."""
    lab = installed / "bin" / "asyncio-lab"
    proc = subprocess.run(
        [lab, "list"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "sequential_vs_gather" in proc.stdout
    where = subprocess.run(
        [
            installed / "bin" / "python",
            "-c",
            "import asyncio_perf_lab.scenarios as s; print(s.__file__)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(purelib(installed))), where


def test_a_worktree_imports_its_own_code(tmp_path: Path) -> None:
    """From a copy of the checkout (an `ab` side), subpackages resolve from that copy."""
    copy = tmp_path / "side"
    shutil.copytree(ROOT, copy, ignore=SKIP)
    out = subprocess.run(
        [sys.executable, "-c", "import asyncio_perf_lab.benchmarks.worker as w; print(w.__file__)"],
        cwd=copy,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == str(copy / "benchmarks" / "worker.py")
