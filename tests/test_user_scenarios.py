"""Your scenarios and routes, end to end: a user's folder outside the repository, run as a user.

The folder holds one scenario that imports only ``asyncio_perf_lab`` (and the standard library)
and a routes file that gives its one route a latency; the scenario sends none (``LATENCY =
None``). Everything runs through ``asyncio-lab`` in subprocesses: the real mock server, real
pyperf workers that import the user's module, the real report, compare and budgets.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks.matrix import Cell, MatrixConfig, run_cell
from asyncio_perf_lab.benchmarks.selection import select
from asyncio_perf_lab.benchmarks.sides import Side
from tests.lab_cli import run_lab
from tests.user_project import (
    CARTS,
    LATENCY_MS,
    OVERLAPPED,
    SCENARIO,
    SERIALIZED,
    user_folder,
)


def latest(out: Path) -> dict[str, Any]:
    return json.loads((out / "latest" / "results.json").read_text())


@pytest.fixture(name="first_run", scope="module")
def _first_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess]:
    """One quick run of the user's folder with budgets checked, as the docs tell a team to."""
    root = tmp_path_factory.mktemp("user")
    folder, routes = user_folder(root)
    out = root / "out"
    proc = run_lab(
        "run", "--scenarios", str(folder), "--routes", str(routes), "--profile", "quick",
        "--out", str(out), "--check-budgets", cwd=root,
    )  # fmt: skip
    return root, proc


def test_the_users_scenario_runs_quick_with_results_report_and_budgets(
    first_run: tuple[Path, subprocess.CompletedProcess],
) -> None:
    """A run without names runs the folder's scenario, writes results and report, and passes
    its budgets; workers imported the user's module in their own processes."""
    root, proc = first_run
    assert proc.returncode == 0, proc.stderr
    assert "budgets: 2 of 2 gated variants within budget" in proc.stderr
    results = latest(root / "out")
    (scenario,) = results["scenarios"]
    assert scenario["name"] == "checkout"
    assert scenario["title"] == f"Checkout: {CARTS} cart lookups, awaited in turn or together"
    assert scenario["latency"] == ""  # none sent: the route's own latency applied
    assert scenario["results_equal"] is True
    assert [v["name"] for v in scenario["variants"]] == ["one_by_one", "together"]
    assert results["run"]["scenarios_dir"] == str(root / "perf")
    assert results["run"]["routes"] == str(root / "routes.toml")
    page = (root / "out" / "latest" / "report.html").read_text()
    assert "Checkout: 4 cart lookups" in page
    again = run_lab(
        "report", str(root / "out" / "latest" / "results.json"), "--out", str(root / "r.html")
    )
    assert again.returncode == 0, again.stderr
    assert "awaited one by one" in (root / "r.html").read_text()


def test_sequential_is_about_n_times_overlapped_and_the_server_saw_the_overlap(
    first_run: tuple[Path, subprocess.CompletedProcess],
) -> None:
    """one_by_one's median is about N times together's, each at least its route's latency sum;
    the server counted N requests in flight for together and 1 for one_by_one."""
    root, proc = first_run
    assert proc.returncode == 0, proc.stderr
    variants = {v["name"]: v for v in latest(root / "out")["scenarios"][0]["variants"]}
    sequential, overlapped = variants["one_by_one"], variants["together"]
    latency_s = LATENCY_MS / 1000
    assert min(sequential["values"]) >= CARTS * latency_s
    assert min(overlapped["values"]) >= latency_s
    ratio = sequential["stats"]["median"] / overlapped["stats"]["median"]
    # Each call also pays a fixed client/server cost, more of it when N responses arrive at
    # once on a shared 2-core machine, so the ratio sits a little under N, never above it.
    assert 0.65 * CARTS <= ratio <= 1.05 * CARTS, f"ratio {ratio:.2f}"
    assert overlapped["probe"]["server"]["max_in_flight"] == CARTS
    assert overlapped["probe"]["server"]["requests"] == CARTS
    assert sequential["probe"]["server"]["max_in_flight"] == 1


def test_serializing_the_gather_fails_budgets_and_compare(
    first_run: tuple[Path, subprocess.CompletedProcess], tmp_path: Path
) -> None:
    """A real code change (the gather awaited one at a time) blows together's budget; compare
    of the two quick runs shows the change but, one worker process a side, says first that only
    a profile with more processes (or ab) can call it (docs/gate.md)."""
    root, proc = first_run
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "perf"
    shutil.copytree(root / "perf", folder, ignore=shutil.ignore_patterns("__pycache__"))
    module = folder / "checkout.py"
    assert module.read_text().count(OVERLAPPED) == 1
    module.write_text(module.read_text().replace(OVERLAPPED, SERIALIZED))
    out = tmp_path / "out"
    slowed = run_lab(
        "run", "checkout:together", "--scenarios", str(folder), "--routes",
        str(root / "routes.toml"), "--profile", "quick", "--out", str(out), "--no-report",
        "--check-budgets", cwd=tmp_path,
    )  # fmt: skip
    assert slowed.returncode == 1, slowed.stderr
    assert "over budget" in slowed.stderr
    assert "checkout:together" in slowed.stderr
    compare = run_lab(
        "compare", str(root / "out" / "latest" / "results.json"),
        str(out / "latest" / "results.json"),
    )  # fmt: skip
    assert compare.returncode == 3, compare.stdout + compare.stderr
    row = next(line for line in compare.stdout.splitlines() if "checkout:together" in line)
    assert "inconclusive" in row
    assert "+" in row.split("checkout:together")[1]  # the change itself is shown
    first = compare.stderr.splitlines()[0]
    assert "ran 1 worker process(es) a variant (profile quick)" in first
    assert "--profile rigorous" in first


def test_trace_and_list_see_the_users_scenario(tmp_path: Path) -> None:
    """`list --scenarios` lists the folder's variants; `trace` runs one against the routes."""
    folder, routes = user_folder(tmp_path)
    listed = run_lab("list", "--scenarios", str(folder))
    assert listed.returncode == 0, listed.stderr
    assert "checkout" in listed.stdout
    assert "one_by_one" in listed.stdout
    assert "sequential_vs_gather" not in listed.stdout  # the folder's, not the built-ins
    trace = tmp_path / "trace.json"
    traced = run_lab(
        "trace", "checkout:together", "--scenarios", str(folder), "--routes", str(routes),
        "--out", str(trace), cwd=tmp_path,
    )  # fmt: skip
    assert traced.returncode == 0, traced.stderr
    assert f"server max in flight {CARTS}" in traced.stdout
    assert json.loads(trace.read_text())["traceEvents"]


BROKEN = {
    "no_variants": (SCENARIO.split("VARIANTS = {")[0], "VARIANTS is missing"),
    "sync_variant": (
        SCENARIO.replace(
            "VARIANTS = {\n",
            "def plain(ctx):\n    return []\n\n\n"
            'VARIANTS = {\n    "plain": Variant(plain, "p", "p", _one),\n',
        ),
        "VARIANTS['plain'].run is not an async def function",
    ),
    "no_docstring": (SCENARIO.split('"""', 2)[2], "no module docstring"),
    "workload_not_dataclass": (
        SCENARIO.replace("@dataclass(frozen=True)\nclass Workload", "class Workload").replace(
            "Workload(carts=2)", "Workload()"
        ),
        "Workload is missing or not a dataclass",
    ),
    "bad_tiny": (SCENARIO.replace("TINY = Workload(carts=2)", "TINY = 2"), "TINY is missing"),
    "bad_latency": (SCENARIO.replace("LATENCY = None", 'LATENCY = "soon"'), "LATENCY: bad latency"),
    "import_error": (
        SCENARIO.replace("import asyncio\n", "import asyncio\nimport no_such_module_here\n"),
        "ModuleNotFoundError: No module named 'no_such_module_here'",
    ),
    "syntax_error": (SCENARIO.replace("async def one_by_one", "async def one_by_one("), "Syntax"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_module_that_breaks_the_contract_is_one_line_naming_the_file(
    tmp_path: Path, case: str
) -> None:
    """A broken scenario module stops the command with one line naming its file and the fault."""
    text, what = BROKEN[case]
    module = tmp_path / f"user_{case}.py"
    module.write_text(text)
    proc = run_lab("list", "--scenarios", str(tmp_path))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(module) in lines[0]
    assert what in lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("file", "what"),
    [
        ("batching.py", "is a built-in scenario's name"),
        ("json.py", "taken by another module"),
        ("my-flow.py", "not a usable scenario name"),
        ("_helper.py", "no scenario modules in it"),  # _*.py are helpers, not scenarios
    ],
)
def test_a_file_name_the_lab_cannot_use_is_refused(tmp_path: Path, file: str, what: str) -> None:
    """Built-in names, installed module names, non-identifiers, only helpers: one line, exit 2."""
    (tmp_path / file).write_text(SCENARIO)
    proc = run_lab("run", "--scenarios", str(tmp_path), "--profile", "quick")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert what in proc.stderr


def test_with_a_folder_built_ins_can_still_be_named(tmp_path: Path) -> None:
    """select() with a folder defaults to its scenarios and still resolves a built-in by name."""
    folder, _ = user_folder(tmp_path, name="named_flow")
    assert [s.scenario.name for s in select([], folder)] == ["named_flow"]
    chosen = select(["sequential_vs_gather:gather", "named_flow:together"], folder)
    assert [(s.scenario.name, s.variants) for s in chosen] == [
        ("sequential_vs_gather", ("gather",)),
        ("named_flow", ("together",)),
    ]
    assert scenarios.names(folder)[-1] == "named_flow"


def test_ab_takes_a_folder_inside_the_repository_from_each_sides_tree(tmp_path: Path) -> None:
    """Inside the repository: each side's own copy (None where that revision lacks it);
    outside: the same folder on both sides."""
    repo, tree = tmp_path / "repo", tmp_path / "worktree"
    (repo / "perf").mkdir(parents=True)
    (tree / "perf").mkdir(parents=True)
    side = Side("base", "HEAD~1", None, tree)
    assert side.own_folder(repo / "perf", repo) == tree / "perf"
    assert side.own_folder(repo / "elsewhere", repo) is None
    outside = tmp_path / "outside"
    assert side.own_folder(outside, repo) == outside
    assert side.own_folder(None, repo) is None


def test_matrix_hands_the_folder_and_routes_to_every_cell(tmp_path: Path) -> None:
    """Each matrix cell's run gets --scenarios DIR and --routes FILE."""
    argv_file = tmp_path / "argv.json"
    fake_python = tmp_path / "python"
    fake_python.write_text(
        "#!/bin/sh\nexec python3 -c 'import json, sys; "
        f'json.dump(sys.argv[1:], open("{argv_file}", "w"))\' "$@"\n'
    )
    fake_python.chmod(0o755)
    folder, routes = tmp_path / "perf", tmp_path / "routes.toml"
    config = MatrixConfig(pythons=["3.11"], loops=["asyncio"], scenarios=folder, routes=routes)
    run_cell(Cell("3.11", "asyncio"), str(fake_python), config, tmp_path / "matrix")
    argv = json.loads(argv_file.read_text())
    assert argv[argv.index("--scenarios") + 1] == str(folder)
    assert argv[argv.index("--routes") + 1] == str(routes)
    assert argv[argv.index("-m") + 2] == "run"


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=lab-test", "-c", "user.email=lab-test@example.invalid", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.mark.slow
def test_ab_times_each_revisions_own_copy_of_a_folder_in_the_repository(tmp_path: Path) -> None:
    """A folder committed in the repository is A/B'd revision against revision: the commit that
    serializes the user's gather is a regression, the untouched variant is not."""
    from asyncio_perf_lab.benchmarks import ab

    repo = tmp_path / "lab"
    root = Path(__file__).resolve().parent.parent
    git("clone", "--quiet", "--no-hardlinks", str(root), str(repo), cwd=tmp_path)
    folder, routes = user_folder(repo)  # perf/ inside the clone, routes.toml beside it
    git("add", "perf", cwd=repo)
    git("commit", "--quiet", "-m", "a user's scenario", cwd=repo)
    module = folder / "checkout.py"
    module.write_text(module.read_text().replace(OVERLAPPED, SERIALIZED))
    git("commit", "--quiet", "-am", "serialize the gather", cwd=repo)
    config = ab.ABConfig(
        base="HEAD~1", head="HEAD", out_dir=tmp_path / "out", repo=repo,
        scenarios=folder, routes=routes,
    )  # fmt: skip
    comparison, _ = ab.run_ab(config)
    verdict = {item.key: item.outcome for item in comparison.items}
    assert verdict["checkout:together"] == "regression"
    assert verdict["checkout:one_by_one"] in ("pass", "inconclusive")
    assert comparison.exit_code == 1
