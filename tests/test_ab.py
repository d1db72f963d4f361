"""A/B in one job: revisions, worktrees, the ABBA schedule, re-runs, and real runs of both trees."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyperf
import pytest

from asyncio_perf_lab.benchmarks import ab
from asyncio_perf_lab.benchmarks.ab import ABConfig, ab_compare, plan
from asyncio_perf_lab.benchmarks.processes import run_process_group
from asyncio_perf_lab.benchmarks.scheduling import Job, abba
from asyncio_perf_lab.benchmarks.sides import resolve_revision, worktree
from asyncio_perf_lab.benchmarks.stopping import Terminated
from asyncio_perf_lab.reports.errors import UsageError
from asyncio_perf_lab.reports.gate import GateSettings
from tests.lab_cli import run_lab

ROOT = Path(__file__).resolve().parent.parent
GIT_ID = ["-c", "user.name=lab-test", "-c", "user.email=lab-test@example.invalid"]
CATALOG = {
    "s": {"latency": "1ms", "workload": {}, "tiny": {}, "variants": {"a": "A", "b": "B"}},
    "t": {"latency": "1ms", "workload": {}, "tiny": {}, "variants": {"c": "C"}},
}


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def worktrees(repo: Path = ROOT) -> list[str]:
    """The worktree paths git knows of (the main one first)."""
    return [
        line.split(" ", 1)[1]
        for line in git("worktree", "list", "--porcelain", cwd=repo).splitlines()
        if line.startswith("worktree ")
    ]


def run_cli(*args: str, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_lab(*args, cwd=cwd, timeout=timeout)


class FakeRun:
    """Stands in for a pyperf Run: one worker process's values."""

    def __init__(self, values: Sequence[float]) -> None:
        self.values = tuple(values)


class FakeBench:
    """Stands in for a pyperf Benchmark: runs (one per worker process) that pool with add_runs."""

    def __init__(self, values: Sequence[float]) -> None:
        self.runs = [FakeRun(values)]

    def add_runs(self, other: FakeBench) -> None:
        self.runs.extend(other.runs)

    def get_runs(self) -> list[FakeRun]:
        return list(self.runs)

    def get_values(self) -> tuple[float, ...]:
        return tuple(v for run in self.runs for v in run.values)


# --- revisions and worktrees ----------------------------------------------------------------


@pytest.mark.parametrize("rev", ["no-such-branch-xyz", "HEAD~100000", "--help"])
def test_bad_revision_is_one_line_exit_2(rev: str) -> None:
    """An unknown base revision is one line on stderr and exit 2, before any work or traceback."""
    proc = run_cli("ab", f"--base={rev}", "sequential_vs_gather")
    assert proc.returncode == 2
    assert "bad revision" in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr  # one line, no blank, no traceback
    assert "Traceback" not in proc.stderr


def test_unknown_target_is_one_line_exit_2_and_leaves_no_worktree() -> None:
    """An unknown scenario is one line listing the allowed ones, exit 2; the worktree is gone."""
    before = worktrees()
    proc = run_cli("ab", "--base", "HEAD", "no_such_scenario")
    assert proc.returncode == 2
    assert "unknown scenario 'no_such_scenario'; allowed: sequential_vs_gather" in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert worktrees() == before


def test_resolve_revision_gives_the_commit_hash() -> None:
    """A good revision resolves to its full commit hash."""
    assert resolve_revision("HEAD") == git("rev-parse", "HEAD")
    with pytest.raises(UsageError, match="bad revision"):
        resolve_revision("")


def test_worktree_is_removed_after_failure() -> None:
    """The temporary worktree is checked out at the commit and removed even when the body raises."""
    before = worktrees()
    sha = git("rev-parse", "HEAD")
    with pytest.raises(RuntimeError, match="boom"), worktree(sha, "test") as path:  # noqa: PT012
        assert git("rev-parse", "HEAD", cwd=path) == sha
        assert str(path) in worktrees()
        raise RuntimeError("boom")
    assert not path.exists()
    assert worktrees() == before


def test_interrupt_mid_run_removes_worktree(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Ctrl-C while variants run stops the server, removes the worktree and leaves no folder."""
    before = worktrees()

    def interrupted(self: Any, side: str, job: Job) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(ab.Timer, "__call__", interrupted)
    config = ABConfig(base="HEAD", targets=["sequential_vs_gather:gather"], out_dir=tmp_path)
    with pytest.raises(ab.ABStopped) as stop:
        ab.run_ab(config)
    assert stop.value.exit_code == 130
    assert stop.value.reason == (
        "interrupted by Ctrl-C (SIGINT) while base sequential_vs_gather:gather ran"
    )
    assert stop.value.paths is None
    assert worktrees() == before
    assert list(tmp_path.iterdir()) == []  # no empty ab- folder: it is made only with results


def real_bench(name: str, values: Sequence[float]) -> pyperf.Benchmark:
    """A pyperf Benchmark of one worker process's values, as a worker writes it."""
    run = pyperf.Run(values, warmups=[(1, values[0])], metadata={"name": name, "loops": 1})
    return pyperf.Benchmark([run])


def test_sigterm_mid_run_writes_what_was_judged(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SIGTERM after some runs: exit 143, the variants timed on both sides judged and written,
    the rest listed as missing, and no worktree left."""
    before = worktrees()
    calls: list[str] = []

    def runs_then_terminated(self: Any, side: str, job: Job) -> Any:
        if len(calls) == 4 * 2 + 1:  # round 1: gather and sequential ABBA done, then 1 ordering run
            raise Terminated
        calls.append(job.key)
        return real_bench(job.key, [0.05 + 1e-4 * len(calls)] * 3)

    monkeypatch.setattr(ab.Timer, "__call__", runs_then_terminated)
    config = ABConfig(
        base="HEAD",
        targets=["sequential_vs_gather:gather", "sequential_vs_gather:sequential", "ordering"],
        out_dir=tmp_path,
    )
    with pytest.raises(ab.ABStopped) as stop:
        ab.run_ab(config)
    assert stop.value.exit_code == 143
    assert "interrupted by SIGTERM while" in stop.value.reason
    assert stop.value.paths is not None
    written = json.loads(stop.value.paths["json"].read_text())
    judged = {item["key"]: item["outcome"] for item in written["variants"]}
    assert set(judged) == {"sequential_vs_gather:gather", "sequential_vs_gather:sequential"}
    assert set(judged.values()) == {"inconclusive"}  # 2 runs a side can never reach p < 0.01
    missing = written["meta"]["incomplete"]["missing"]
    assert "ordering:call_soon" in missing
    assert "sequential_vs_gather:gather" not in missing
    assert any(note.startswith("INCOMPLETE: interrupted by SIGTERM") for note in written["notes"])
    assert "INCOMPLETE" in stop.value.paths["html"].read_text()
    assert worktrees() == before


def test_timed_out_worker_is_killed_with_its_children(tmp_path: Path) -> None:
    """A worker that overruns is killed together with the process it spawned (no orphan timing)."""
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time; "
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pid_file)!r}, 'w').write(str(child.pid)); time.sleep(60)"
    )
    with pytest.raises(subprocess.TimeoutExpired):
        run_process_group([sys.executable, "-c", script], tmp_path, timeout=3)
    child = int(pid_file.read_text())
    stat = Path(f"/proc/{child}/stat")
    deadline = time.monotonic() + 5
    while stat.exists() and stat.read_text().split(") ")[1][0] != "Z":
        assert time.monotonic() < deadline, "the worker's child survived"
        time.sleep(0.05)


# --- planning, schedule, re-runs -------------------------------------------------------------


def test_plan_reports_new_and_removed_variants() -> None:
    """A variant the base lacks is a job marked new; one head dropped is reported removed."""
    base = {"s": {**CATALOG["s"], "variants": {"a": "A", "gone": "G"}}}
    jobs, removed = plan(base, CATALOG, [])
    assert [(j.key, j.in_base) for j in jobs] == [("s:a", True), ("s:b", False), ("t:c", False)]
    assert [(r.key, r.outcome) for r in removed] == [("s:gone", "removed")]


def test_plan_selects_targets_and_rejects_unknown_names() -> None:
    """Targets pick scenarios or single variants of head; unknown names list what is allowed."""
    jobs, _ = plan(CATALOG, CATALOG, ["s:b", "t"])
    assert [j.key for j in jobs] == ["s:b", "t:c"]
    with pytest.raises(UsageError, match="unknown scenario 'x'; allowed: s, t"):
        plan(CATALOG, CATALOG, ["x"])
    with pytest.raises(UsageError, match="unknown variant 'z' of s; allowed: a, b"):
        plan(CATALOG, CATALOG, ["s:z"])


def test_schedule_is_abba_then_baab() -> None:
    """Each round runs base and head twice per variant, mirrored in alternate rounds."""
    jobs = [Job("s", "a", "A", True), Job("s", "new", "N", False)]
    order = [(side, job.variant) for side, job in abba(jobs, 2)]
    assert order[:6] == [
        ("base", "a"),
        ("head", "a"),
        ("head", "a"),
        ("base", "a"),
        ("head", "new"),
        ("head", "new"),
    ]
    assert [side for side, job in abba(jobs, 2)[6:10]] == ["head", "base", "base", "head"]


def test_only_flagged_variants_are_rerun_and_the_rerun_decides() -> None:
    """A flagged variant is re-run alone with twice the rounds, and the fresh data decide."""
    calls: list[tuple[str, str]] = []
    jobs = [Job("s", "steady", "S", True), Job("s", "flaky", "F", True)]
    first_pass = 3 * 4 * len(jobs)  # 3 rounds of ABBA per variant

    def run_one(side: str, job: Job) -> FakeBench:
        calls.append((side, job.variant))
        slow = side == "head" and job.variant == "flaky" and len(calls) <= first_pass
        base = [0.100, 0.101, 0.099, 0.1005]
        return FakeBench([v * (1.5 if slow else 1.0) + 1e-6 * len(calls) for v in base])

    config = ABConfig(base="HEAD", rounds=3, settings=GateSettings(), early_stop=False)
    items, pooled = ab_compare(jobs, run_one, config)
    outcome = {item.key: (item.first_outcome, item.outcome) for item in items}
    assert outcome == {"s:steady": (None, "pass"), "s:flaky": ("regression", "pass")}
    assert (
        calls[first_pass:]
        == [
            (side, "flaky")
            for side in ("base", "head", "head", "base", "head", "base", "base", "head")
        ]
        * 3
    )  # 6 rounds, ABBA then BAAB
    assert len(pooled["head"]["s:flaky"].get_runs()) == 6 + 12


def test_too_noisy_is_not_rerun_but_disturbed_is() -> None:
    """A variant's own spread stands (no re-run: more of it would be as spread); a disturbed
    side, which fresh runs can clear, is re-run with as many rounds (twice is for confirming
    a regression)."""
    calls: list[tuple[str, str]] = []
    jobs = [Job("s", "noisy", "N", True), Job("s", "hit", "H", True)]
    first_pass = 3 * 4 * len(jobs)

    def run_one(side: str, job: Job) -> FakeBench:
        calls.append((side, job.variant))
        if job.variant == "noisy":  # 25% robust CV on both sides, every run: its own spread
            return FakeBench([0.08, 0.10, 0.12, 0.14])
        spike = len(calls) <= first_pass and side == "head" and len(calls) % 2 == 0
        return FakeBench([0.100, 0.101, 0.300 if spike else 0.099, 0.300 if spike else 0.1005])

    config = ABConfig(base="HEAD", rounds=3, settings=GateSettings(), early_stop=False)
    items, _ = ab_compare(jobs, run_one, config)
    got = {item.key: (item.first_outcome, item.outcome, item.cause) for item in items}
    assert got["s:noisy"] == (None, "inconclusive", "too_noisy")
    assert got["s:hit"][0] == "inconclusive"  # first pass: disturbed, re-run on fresh runs
    assert {variant for _, variant in calls[first_pass:]} == {"hit"}
    assert len(calls) - first_pass == 3 * 4  # fresh runs of the same size: 3 rounds, not 6


def test_gate_ranks_one_median_per_worker_process() -> None:
    """Pooled runs reach the gate grouped: 6 processes a side are 6 values to rank, not 24."""
    jobs = [Job("s", "v", "V", True)]

    def run_one(side: str, job: Job) -> FakeBench:
        return FakeBench([0.1, 0.1001, 0.0999, 0.1002])

    config = ABConfig(base="HEAD", rounds=3, settings=GateSettings(), rerun=False, early_stop=False)
    (item,), _ = ab_compare(jobs, run_one, config)
    assert item.units == (6, 6)
    assert item.grouped
    assert len(item.base) == 24


# --- real runs ----------------------------------------------------------------------------------


@pytest.fixture(name="clone")
def _clone(tmp_path: Path) -> Iterator[Path]:
    """A throwaway clone of the lab with one more commit: gather slowed by 50 ms, a new variant."""
    repo = tmp_path / "lab"
    git("clone", "--quiet", "--no-hardlinks", str(ROOT), str(repo), cwd=tmp_path)
    module = repo / "scenarios" / "sequential_vs_gather.py"
    text = module.read_text()
    slowed = text.replace(
        '    """Start all three at once with asyncio.gather and wait for all of them."""\n',
        '    """Start all three at once with asyncio.gather and wait for all of them."""\n'
        "    await asyncio.sleep(0.05)  # the regression under test\n",
    ).replace(
        "VARIANTS = {\n",
        "VARIANTS = {\n"
        '    "gather_copy": Variant(gather, label="c", why="new", ideal=_max_latency),\n',
    )
    assert slowed.count("the regression under test") == 1
    assert slowed.count('"gather_copy"') == 1
    module.write_text(slowed)
    git(*GIT_ID, "commit", "--quiet", "-am", "slow gather down, add a variant", cwd=repo)
    yield repo
    assert worktrees(repo) == [str(repo)], "ab left a worktree behind"


@pytest.mark.slow
def test_ab_times_each_sides_own_code(clone: Path, tmp_path: Path) -> None:
    """A/B of two revisions times each tree's code: the slowed gather fails, the new one is new."""
    config = ABConfig(
        base="HEAD~1",
        head="HEAD",
        targets=["sequential_vs_gather:gather", "sequential_vs_gather:gather_copy"],
        out_dir=tmp_path / "out",
        repo=clone,
    )
    comparison, paths = ab.run_ab(config)
    verdict = {item.key: item for item in comparison.items}
    gather = verdict["sequential_vs_gather:gather"]
    assert gather.outcome == "regression", gather.reason
    assert gather.first_outcome == "regression"  # flagged, re-run with 6 rounds, confirmed
    assert gather.ratio is not None
    assert gather.ratio > 1.3
    assert verdict["sequential_vs_gather:gather_copy"].outcome == "new"
    assert comparison.exit_code == 1
    written = json.loads(paths["json"].read_text())
    assert written["meta"]["base_sha"] == git("rev-parse", "HEAD~1", cwd=clone)
    assert "sequential_vs_gather:gather" in paths["html"].read_text()
    assert paths["base"].exists()
    assert paths["head"].exists()


@pytest.mark.slow
def test_ab_of_identical_code_does_not_fail(tmp_path: Path) -> None:
    """``ab --base HEAD`` (the same scenario code on both sides) does not report a regression."""
    proc = run_cli(
        "ab",
        "--base",
        "HEAD",
        "sequential_vs_gather:gather",
        "--out",
        str(tmp_path),
        timeout=110,
    )
    assert proc.returncode in (0, 3), proc.stdout + proc.stderr
    assert "sequential_vs_gather:gather" in proc.stdout
    (comparison,) = tmp_path.glob("ab-*/comparison.json")
    assert json.loads(comparison.read_text())["exit_code"] == proc.returncode
    assert (comparison.parent / "compare.html").exists()
