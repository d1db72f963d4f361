"""The trend page: history across runs from files alone; unreadable files listed, never a gate."""

from __future__ import annotations

import copy
import html
import os
from pathlib import Path
from typing import Any

import pytest

from asyncio_perf_lab.benchmarks.cli import main
from asyncio_perf_lab.reports.results_file import write_json_atomic
from asyncio_perf_lab.reports.trend import build_trend
from tests.fixtures_results import summarize, synthetic_results

# Gather's median per run, oldest first: a step up in the third run that the page must show.
GATHER_MEDIANS = (0.1021, 0.1019, 0.1333)


def history(root: Path) -> list[Path]:
    """Three runs under ``root`` written newest first, plus a ``latest`` link to the newest."""
    base = synthetic_results()
    paths = []
    for day, median in reversed(list(enumerate(GATHER_MEDIANS, start=1))):
        run: dict[str, Any] = copy.deepcopy(base)
        run["run"]["created"] = f"2026-01-0{day}T12:00:00+00:00"
        run["run"]["profile"] = "default" if day == 3 else "quick"
        gather = run["scenarios"][0]["variants"][1]
        scale = median / gather["stats"]["median"]
        gather["values"] = [v * scale for v in gather["values"]]
        gather["stats"] = summarize(gather["values"])
        paths.append(write_json_atomic(root / f"run-{day}" / "results.json", run))
    os.symlink("run-3", root / "latest")
    return paths


def test_trend_shows_every_run_oldest_first_and_each_variant_median(tmp_path: Path) -> None:
    """Medians per run appear in run order (not file order); the latest link counts once."""
    history(tmp_path)
    page = build_trend([tmp_path]).read_text()
    assert "3 runs, 2026-01-01 12:00 UTC to 2026-01-03 12:00 UTC" in page
    gather_row = page.split('<td class="variant">asyncio.gather', 1)[1].split("</tr>", 1)[0]
    assert [c.split("<")[0] for c in gather_row.split('<td class="cell">')[1:]] == [
        "102.1 ms",
        "101.9 ms",
        "133.3 ms",
    ]
    for scenario in synthetic_results()["scenarios"]:
        assert html.escape(scenario["title"]) in page
        for variant in scenario["variants"]:
            assert html.escape(variant["label"]) in page
    assert page.count('class="chart"') >= len(synthetic_results()["scenarios"])
    assert "A view of history, not a test." in page


def test_unreadable_runs_are_listed_not_fatal(tmp_path: Path) -> None:
    """A corrupt and a newer-schema file are named on the page with their reason; exit 0."""
    history(tmp_path)
    (tmp_path / "run-9").mkdir()
    (tmp_path / "run-9" / "results.json").write_text('{"schema": 1, "kind": "asyncio-perf')
    newer = synthetic_results()
    newer["schema"] = 99
    write_json_atomic(tmp_path / "run-8" / "results.json", newer)
    out = tmp_path / "trend.html"
    assert main(["trend", str(tmp_path), "--out", str(out)]) == 0
    skipped = out.read_text().split('id="skipped"', 1)[1].split("</div>", 1)[0]
    assert "Skipped (2)" in skipped
    assert "run-9/results.json" in skipped
    assert "run-8/results.json" in skipped


def test_last_keeps_the_newest_runs(tmp_path: Path) -> None:
    """--last 2 drops the oldest run from the page."""
    history(tmp_path)
    page = build_trend([tmp_path], last=2).read_text()
    assert "2 runs, 2026-01-02 12:00 UTC to 2026-01-03 12:00 UTC" in page


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["trend", "{tmp}/nowhere"], "nowhere: no such results file or directory"),
        (["trend", "{tmp}/empty"], "no readable results file found"),
        (["trend", "{tmp}/run-1", "--last", "1"], "--last 1: a trend needs at least 2 runs"),
        (["trend", "{tmp}/run-1", "--out", "{tmp}/no/such/dir/t.html"], "cannot write"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], named: str
) -> None:
    """No run to show, a bad --last or an unwritable --out: one line, exit 2, nothing written."""
    history(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "no").write_text("a file where a directory is needed")
    argv = [a.format(tmp=tmp_path) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert named in err
    assert not list(tmp_path.rglob("trend.html"))
