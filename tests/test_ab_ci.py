"""The CI workflow: budgets, the code A/B, the dependency A/B on pin changes, the matrix fan-out."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "bench.yml"
VERDICT = ROOT / ".github" / "scripts" / "ab-verdict.sh"


def job(name: str) -> str:
    """The text of one job of the workflow (from its key to the next job's)."""
    text = WORKFLOW.read_text()
    start = text.index(f"\n  {name}:\n")
    following = re.search(r"\n  [a-z-]+:\n", text[start + 1 :])
    return text[start : start + 1 + following.start()] if following else text[start:]


def step(job_text: str, step_id: str) -> str:
    """The text of the step with ``id: step_id`` in a job."""
    start = job_text.index(f"id: {step_id}\n")
    end = job_text.find("\n      - ", start)
    return job_text[start : end if end > 0 else None]


def test_ci_runs_budgets_and_the_code_ab() -> None:
    """The gate job A/Bs against the PR base with full history, checks budgets, uploads pages."""
    gate = job("gate")
    assert "fetch-depth: 0" in gate
    assert "make bench-quick ARGS=--check-budgets" in gate
    assert 'make ab BASE="origin/${BASE_REF}"' in step(gate, "ab")
    assert "BASE_REF: ${{ github.base_ref }}" in gate  # via env, never pasted into a script
    assert "results/code/ab-*/compare.html" in gate


def test_ci_abs_dependency_pins_when_they_change() -> None:
    """A PR that changes pin files gets a second A/B: base pins vs head pins, same code."""
    gate = job("gate")
    assert 'git diff --name-only "origin/${BASE_REF}...HEAD" -- $PIN_FILES' in step(gate, "pins")
    deps = step(gate, "deps")
    assert "if: ${{ !cancelled() && steps.pins.outputs.changed != '' }}" in deps
    assert "--base-requirements results/pins/base.txt" in deps
    assert "--head-requirements results/pins/head.txt" in deps
    assert "--base " not in deps  # no revision: the PR's code on both sides


def test_ci_matrix_is_one_job_per_cell_and_a_merge_job() -> None:
    """The matrix fans out with the CI's own strategy, each cell judged, then one merged page."""
    cell = job("matrix-cell")
    assert 'python: ["3.11", "3.12", "3.13"]' in cell
    assert 'loop: ["asyncio", "uvloop"]' in cell
    assert '--pythons "$CELL_PYTHON" --loops "$CELL_LOOP"' in cell
    assert "--reference 3.11-asyncio" in cell
    merge = job("matrix-page")
    assert "needs: matrix-cell" in merge
    assert "asyncio-lab matrix-page $manifests" in merge


def test_verdict_script_reads_the_exit_code_from_the_comparison(tmp_path: Path) -> None:
    """The step fails on a regression, warns on inconclusive, and fails when nothing was written."""
    outcomes = {}
    for code in (0, 1, 3):
        folder = tmp_path / str(code)
        (folder / "ab-1").mkdir(parents=True)
        (folder / "ab-1" / "comparison.json").write_text(
            json.dumps({"exit_code": code, "summary": f"summary {code}"})
        )
        proc = subprocess.run(
            [str(VERDICT), str(folder), "test A/B"],
            capture_output=True,
            text=True,
            env={**os.environ, "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")},
            check=False,
        )
        outcomes[code] = (proc.returncode, proc.stdout.strip())
    assert outcomes[0] == (0, "test A/B: pass")
    assert outcomes[1][0] == 1
    assert "::error::test A/B found a regression: summary 1" in outcomes[1][1]
    assert outcomes[3][0] == 0
    assert "::warning::" in outcomes[3][1]
    assert "### test A/B: summary 3" in (tmp_path / "summary.md").read_text()
    missing = subprocess.run([str(VERDICT), str(tmp_path / "none"), "x"], check=False)
    assert missing.returncode == 2
