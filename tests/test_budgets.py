"""Budgets: measured/ideal per variant, checked by ``run --check-budgets`` on any machine."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from test_compare import results_doc, timings, variant_entry

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks import cli
from asyncio_perf_lab.benchmarks.context import open_context
from asyncio_perf_lab.mockserver import MockServer
from asyncio_perf_lab.reports.budgets import check_budgets, over_budget
from asyncio_perf_lab.scenarios import Context, Machine, Variant

ROOT = Path(__file__).resolve().parent.parent
GATHER = scenarios.load("sequential_vs_gather").variants["gather"]
LATENCY, LATENCY_S = "20ms", 0.020
TRIALS, VALUES = 20, 4  # 20 trials x (5 gathers + 5 loops) x 20-60 ms: about 10 s


async def gather_as_loop(ctx: Context) -> dict:
    """The gather "simplified" into a loop of awaits: the same three calls, one at a time."""
    w = ctx.workload
    paths = (f"/users/{w.user_id}", f"/users/{w.user_id}/posts", f"/posts/{w.post_id}/comments")
    user, posts, comments = [await ctx.get_json(path) for path in paths]
    return {"user": user, "posts": posts, "comments": comments}


# The regression under test, kept out of the registry: it claims gather's ideal and budget.
SERIALIZED = Variant(
    gather_as_loop,
    label="gather rewritten as a loop",
    why="each await waits for the previous response: the staircase is back",
    ideal=GATHER.ideal,
    budget=GATHER.budget,
)


def test_over_budget_names_variant_and_figure() -> None:
    """A variant whose median/ideal exceeds its budget is reported with its ratio and times."""
    doc = results_doc(
        {
            "s:ok": variant_entry("ok", timings(1, 0.12), ideal_s=0.1, budget=1.5),
            "s:slow": variant_entry("slow", timings(2, 0.31), ideal_s=0.1, budget=1.5),
            "s:free": variant_entry("free", timings(3, 9.0), ideal_s=0.1, budget=None),
            "s:no_ideal": variant_entry("no_ideal", timings(4, 9.0), ideal_s=0.0, budget=1.5),
        }
    )
    assert [c.key for c in check_budgets(doc)] == ["s:ok", "s:slow"]
    (over,) = over_budget(doc)
    assert over.key == "s:slow"
    assert over.ratio == pytest.approx(3.1, rel=0.03)
    assert over.describe().startswith("s:slow: 3.")
    assert "x ideal (median 3" in over.describe()
    assert "OVER budget 1.5x" in over.describe()


def test_exactly_at_budget_passes() -> None:
    """A median exactly at budget x ideal is within budget (the budget is the allowed maximum)."""
    doc = results_doc({"s:v": variant_entry("v", [0.15], ideal_s=0.1, budget=1.5)})
    assert check_budgets(doc)[0].ratio == pytest.approx(1.5)
    assert over_budget(doc) == []


@pytest.mark.parametrize(("median", "code"), [(0.31, 1), (0.12, 0)])
def test_run_check_budgets_exit_code(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    median: float,
    code: int,
) -> None:
    """``run --check-budgets`` exits 1 after writing results, naming each variant over budget."""
    path = tmp_path / "results.json"
    doc = results_doc({"s:gather": variant_entry("gather", timings(1, median), ideal_s=0.1)})
    path.write_text(json.dumps(doc))
    monkeypatch.setattr(
        "asyncio_perf_lab.benchmarks.runner.run", lambda config, progress=None: path
    )
    argv = ["run", "sequential_vs_gather", "--profile", "tiny", "--check-budgets"]
    assert cli.main([*argv, "--out", str(tmp_path)]) == code
    err = capsys.readouterr().err
    if code:
        assert "over budget: s:gather: 3.1" in err
        assert "1 over -> exit 1" in err
    else:
        assert "1 of 1 gated variants within budget" in err


@pytest.mark.slow
def test_real_quick_run_of_gather_is_within_budget(tmp_path: Path) -> None:
    """A real quick run of the registry's gather passes ``--check-budgets`` (exit 0)."""
    args = ["run", "sequential_vs_gather:gather", "--profile", "quick", "--check-budgets"]
    proc = subprocess.run(
        [sys.executable, "-m", "asyncio_perf_lab.benchmarks", *args, "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 of 1 gated variants within budget" in proc.stderr
    assert (tmp_path / "latest" / "results.json").exists()


async def time_calls(variant: Variant, ctx: Context) -> list[float]:
    """One warm-up call, then VALUES timed calls of ``variant`` (seconds each)."""
    await variant.run(ctx)
    values = []
    for _ in range(VALUES):
        start = time.perf_counter()
        await variant.run(ctx)
        values.append(time.perf_counter() - start)
    return values


@pytest.mark.slow
def test_gather_turned_into_a_loop_fails_its_budget_every_time(server: MockServer) -> None:
    """In 20 of 20 real trials the serialized gather is over budget and the real gather is not."""
    workload = scenarios.load("sequential_vs_gather").workload
    ideal_s = GATHER.ideal(workload, LATENCY_S, Machine())

    async def trials() -> list[dict[str, Any]]:
        docs = []
        async with open_context(server.url, LATENCY, workload) as ctx:
            for _ in range(TRIALS):
                records = {
                    f"s:{name}": variant_entry(
                        name, await time_calls(v, ctx), ideal_s=ideal_s, budget=v.budget
                    )
                    for name, v in (("gather", GATHER), ("loop", SERIALIZED))
                }
                docs.append(results_doc(records))
        return docs

    docs = asyncio.run(trials())
    over = [[c.key for c in over_budget(doc)] for doc in docs]
    ratios = [c.ratio for doc in docs for c in check_budgets(doc) if c.key == "s:loop"]
    assert over == [["s:loop"]] * TRIALS, f"per trial over budget: {over}"
    assert min(ratios) > 2.5  # about 3x ideal (three latencies instead of one): not scraped past
