"""The regression gate's own evidence (``selfbench gate``): bounds, and fresh A/B trials.

The full series (30 fresh trials per case, A/A and +5/+10/+20% code-level slowdowns) takes about
an hour here and is run on a quiet machine (``make bench-gate``); these tests prove the bounds
and that one fresh trial per case runs through ``ab``'s own machinery with sane verdicts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asyncio_perf_lab.benchmarks.selfbench.gate_power import (
    CASES,
    SCENARIO_MODULE,
    TrialTimer,
    lower_bound,
    run_case,
    upper_bound,
)
from asyncio_perf_lab.mockserver import MockServer
from tests.lab_cli import run_lab


def test_clopper_pearson_bounds() -> None:
    """0 in 300 bounds the rate below 1% (rule of three); 95 in 100 bounds power above 89.7%."""
    assert upper_bound(0, 300) == pytest.approx(1 - 0.05 ** (1 / 300), rel=1e-6)
    assert upper_bound(0, 300) < 0.01 < upper_bound(0, 250)
    assert upper_bound(4, 1000) < 0.01
    assert upper_bound(0, 30) == pytest.approx(0.0950, abs=1e-4)
    assert lower_bound(95, 100) == pytest.approx(0.8977, abs=1e-4)  # P(X >= 95 | p) = 0.05
    assert lower_bound(30, 30) == pytest.approx(0.05 ** (1 / 30), rel=1e-6)
    assert lower_bound(0, 10) == 0.0


@pytest.mark.slow
def test_one_fresh_trial_per_case_decides_like_ab(tmp_path: Path) -> None:
    """One fresh A/A trial raises no alarm; one +20% trial is a regression near +20%."""
    (tmp_path / "gate_power.py").write_text(SCENARIO_MODULE)
    lines: list[str] = []
    with MockServer() as server:
        timer = TrialTimer(tmp_path, server.url)
        aa = run_case(timer, CASES["aa"], 1, lines.append)
        slow = run_case(timer, CASES["slow20"], 1, lines.append)
    assert aa.trials == slow.trials == 1
    assert aa.regressions == 0, lines
    assert aa.extra_blocks == 0
    assert aa.processes in (8, 12)  # 2 or 3 ABBA rounds (ab stops a settled pass after 2)
    assert slow.regressions == 1, lines
    assert slow.extra_blocks > 0
    assert 1.1 < slow.ratios[0] < 1.35, lines
    assert all(seconds > 0 for seconds in aa.seconds + slow.seconds)


def test_gate_command_smoke_and_bad_input(tmp_path: Path) -> None:
    """``selfbench gate aa --trials 1`` prints the table and writes JSON; bad input is one line."""
    out = tmp_path / "gate.json"
    proc = run_lab("selfbench", "gate", "aa", "--trials", "1", "--json", str(out), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "A/A (same code both sides)" in proc.stdout
    (case,) = json.loads(out.read_text())["cases"]
    assert (case["trials"], case["bound_kind"]) == (1, "upper")
    assert len(case["seconds_per_trial"]) == 1
    bad = run_lab("selfbench", "gate", "--trials", "0", timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    assert "--trials 0 is outside 1..10000" in bad.stderr
