"""The compare gate: the U test, the verdict per variant, the CLI's exit codes and the HTML page."""

from __future__ import annotations

import itertools
import json
import math
import random
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from asyncio_perf_lab.reports.compare_page import render_compare_page
from asyncio_perf_lab.reports.errors import UsageError
from asyncio_perf_lab.reports.gate import (
    Comparison,
    GateSettings,
    Sample,
    VariantComparison,
    compare_results,
    confirm,
    judge,
)
from asyncio_perf_lab.reports.mannwhitney import mann_whitney_u, min_p_value, u_statistic
from asyncio_perf_lab.reports.results_file import validate
from asyncio_perf_lab.reports.stats import robust_cv, summarize
from tests.lab_cli import run_lab

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = GateSettings()

PROBE = {
    "wall_s": 0.1,
    "loop_lag": {
        "interval_ms": 1.0,
        "samples": 1,
        "p50_ms": 0.1,
        "p99_ms": 0.2,
        "max_ms": 0.2,
        "over_10ms": 0,
        "over_100ms": 0,
        "series": [],
    },
    "server": {"max_in_flight": 3, "requests": 3},
    "requests": [],
    "observations": {},
}


def variant_entry(
    name: str,
    values: Sequence[float],
    *,
    ideal_s: float = 0.1,
    budget: float | None = 1.5,
    label: str | None = None,
) -> dict[str, Any]:
    """A schema-1 variant record with the given raw values (stats computed as the runner does)."""
    stats = summarize(values)
    return {
        "name": name,
        "label": label or name,
        "why": "test data",
        "anti_pattern": False,
        "ideal_s": ideal_s,
        "budget": budget,
        "source": "",
        "doc": "",
        "values": list(values),
        "stats": stats,
        "efficiency": ideal_s / stats["median"] if ideal_s > 0 else None,
        "probe": PROBE,
    }


def results_doc(variants: Mapping[str, Sequence[float] | dict[str, Any]]) -> dict[str, Any]:
    """A schema-valid results document from ``{"scenario:variant": values or variant record}``."""
    scenarios: dict[str, dict[str, Any]] = {}
    for key, spec in variants.items():
        scenario, _, name = key.partition(":")
        entry = scenarios.setdefault(
            scenario,
            {
                "name": scenario,
                "title": scenario,
                "question": "?",
                "lesson": "test data",
                "latency": "100ms",
                "latency_s": 0.1,
                "workload": {},
                "machine": {"cores": 2, "cpu_s": {}},
                "variants": [],
            },
        )
        record = spec if isinstance(spec, dict) else variant_entry(name, spec)
        entry["variants"].append(record)
    doc = {
        "schema": 1,
        "kind": "asyncio-perf-lab/results",
        "run": {
            "id": "test-run",
            "created": "2025-01-01T00:00:00+00:00",
            "profile": "quick",
            "loop": "asyncio",
            "wall_s": 1.0,
            "pyperf": {},
            "env": {
                "python": "3.11",
                "implementation": "CPython",
                "aiohttp": "3",
                "pyperf": "2",
                "cpu_count": 2,
                "platform": "test",
            },
        },
        "scenarios": list(scenarios.values()),
    }
    validate(doc)
    return doc


def timings(seed: int, median: float, n: int = 16, noise: float = 0.02) -> list[float]:
    """Per-call seconds around ``median`` with a little lognormal noise."""
    rng = random.Random(seed)
    return [median * math.exp(rng.gauss(0, noise)) for _ in range(n)]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``asyncio-lab ARGS`` in the repository, as a user would run it."""
    return run_lab(*args, timeout=60)


def write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


def brute_force_p(x: Sequence[float], y: Sequence[float]) -> float:
    """P(U >= observed) over every way of splitting the pooled values (the definition)."""
    pooled, observed = [*x, *y], u_statistic(x, y)
    splits = list(itertools.combinations(range(len(pooled)), len(x)))
    hits = 0
    for chosen in splits:
        xs = [pooled[i] for i in chosen]
        ys = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        hits += u_statistic(xs, ys) >= observed - 1e-9
    return hits / len(splits)


# --- the U test ------------------------------------------------------------------------------


def test_exact_p_matches_enumeration_of_every_split() -> None:
    """The exact p-value equals the share of all rank splits with a U at least as large."""
    rng = random.Random(3)
    for _ in range(60):
        x = [rng.random() + 0.1 for _ in range(rng.randint(1, 6))]
        y = [rng.random() for _ in range(rng.randint(1, 6))]
        assert mann_whitney_u(x, y, "greater").p == pytest.approx(brute_force_p(x, y), abs=1e-12)
        assert mann_whitney_u(x, y, "less").p == pytest.approx(brute_force_p(y, x), abs=1e-12)


def test_matches_scipy_reference_values() -> None:
    """SciPy's documented example (U=17) gives the same one-sided p, exact and asymptotic."""
    males, females = [19, 22, 16, 29, 24], [20, 11, 17, 12]
    exact = mann_whitney_u(males, females, "greater")
    normal = mann_whitney_u(males, females, "greater", method="normal")
    assert (exact.u, exact.method) == (17, "exact")
    assert exact.p == pytest.approx(1 / 18)  # scipy: two-sided 0.1111
    assert normal.p == pytest.approx(0.11134688653314041 / 2)  # scipy asymptotic two-sided


def test_ties_switch_to_normal_with_tie_correction() -> None:
    """Tied values use the normal approximation with the tie-corrected variance."""
    x, y = [1, 2, 2, 3, 3, 3], [1, 1, 2, 2, 3]
    result = mann_whitney_u(x, y, "greater")
    m, n, total = 6, 5, 11
    ties = [3, 4, 4]  # ones, twos, threes in the pooled sample
    variance = m * n / 12 * ((total + 1) - sum(t**3 - t for t in ties) / (total * (total - 1)))
    z = (result.u - m * n / 2 - 0.5) / math.sqrt(variance)
    assert result.method == "normal"
    assert result.p == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)))
    assert mann_whitney_u([5, 5], [5, 5]).p == 1.0


def test_large_samples_use_the_normal_approximation_close_to_exact() -> None:
    """Beyond 50 values a side the normal approximation is used and agrees with exact closely."""
    x, y = timings(1, 1.0, n=60), timings(2, 1.01, n=60)
    auto = mann_whitney_u(x, y, "less")
    exact = mann_whitney_u(x, y, "less", method="exact")
    assert auto.method == "normal"
    assert auto.p == pytest.approx(exact.p, abs=0.01)


def test_four_values_a_side_can_never_reach_alpha() -> None:
    """With 4 vs 4 values the smallest possible one-sided p is 1/70 > 0.01; 5 vs 5 can go below."""
    assert min_p_value(4, 4) == pytest.approx(1 / 70)
    assert min_p_value(5, 5) < 0.01
    assert mann_whitney_u([2, 3, 4, 5], [0.1, 0.2, 0.3, 0.4]).p == pytest.approx(1 / 70)


# --- the verdict per variant ------------------------------------------------------------------


def verdict(base: Sequence[float], head: Sequence[float], **settings: float) -> VariantComparison:
    return judge("s:v", Sample(tuple(base)), Sample(tuple(head)), GateSettings(**settings))


def test_clear_slowdown_is_a_regression() -> None:
    """Head 30% slower on 16 clean values a side is a regression naming the change and p."""
    item = verdict(timings(1, 0.100), timings(2, 0.130))
    assert item.outcome == "regression"
    assert item.ratio == pytest.approx(1.3, rel=0.03)
    assert "slower by +" in item.reason
    assert item.p_slower is not None
    assert item.p_slower < 0.01


def test_clear_speedup_is_an_improvement() -> None:
    """Head 30% faster is an improvement, which never fails the gate."""
    item = verdict(timings(1, 0.100), timings(2, 0.070))
    assert item.outcome == "improvement"


def test_same_distribution_passes() -> None:
    """Two samples of the same distribution pass."""
    assert verdict(timings(1, 0.100), timings(2, 0.100)).outcome == "pass"


def test_significant_change_below_the_floor_passes() -> None:
    """A consistent +2% shift is significant but under the 3% minimum floor, so it passes."""
    item = verdict(timings(1, 0.100, noise=0.005), timings(2, 0.102, noise=0.005))
    assert item.outcome == "pass"
    assert item.p_slower is not None
    assert item.p_slower < 0.01
    assert "within the 3.0% floor" in item.reason
    bigger = verdict(timings(1, 0.1, noise=0.005), timings(2, 0.104, noise=0.005))
    assert bigger.outcome == "regression"
    lenient = verdict(timings(1, 0.1, noise=0.005), timings(2, 0.104, noise=0.005), floor=0.10)
    assert lenient.outcome == "pass"


def test_too_few_values_is_inconclusive_even_for_a_huge_slowdown() -> None:
    """4 vs 4 values cannot reach p < 0.01, so even a 3x slowdown is inconclusive, not a pass."""
    item = verdict(timings(1, 0.1, n=4), timings(2, 0.3, n=4))
    assert item.outcome == "inconclusive"
    assert "can never reach p<0.01" in item.reason
    assert "0.0143" in item.reason


def test_high_cv_without_a_clear_change_is_inconclusive() -> None:
    """A side whose robust CV (IQR/1.349 over the median) is over 10% cannot pass: inconclusive."""
    item = verdict(timings(1, 0.1), timings(2, 0.1, noise=0.25))
    assert item.outcome == "inconclusive"
    assert "slowdown (head CV" in item.reason
    assert item.reason.startswith(f"too noisy to rule out a {item.floor:.0%} slowdown")


def test_high_cv_does_not_hide_a_clear_regression() -> None:
    """Spread cannot fake a slowdown, so a clear +60% one on a noisy side is still a regression."""
    assert verdict(timings(1, 0.1), timings(2, 0.16, noise=0.15)).outcome == "regression"


def test_robust_cv_matches_stdev_over_mean_for_normal_data() -> None:
    """For normal data the robust CV estimates stdev/mean; one spike barely moves it."""
    rng = random.Random(5)
    values = [rng.gauss(1.0, 0.05) for _ in range(4000)]
    assert robust_cv(values) == pytest.approx(0.05, rel=0.08)
    assert robust_cv([*values[:15], 9.0]) < 0.1


def test_two_spikes_in_sixteen_are_tolerated() -> None:
    """Two scheduling spikes (+200%) in 16 values leave a clear regression a regression."""
    base = timings(1, 0.1)
    base[3] = base[9] = 0.3
    assert verdict(base, timings(2, 0.13)).outcome == "regression"


def test_many_far_values_are_inconclusive() -> None:
    """Three of 16 values over 50% from the median (more than 1 in 8) make the side too noisy."""
    base = timings(1, 0.1)
    base[3] = base[9] = base[12] = 0.17
    item = verdict(base, timings(2, 0.13))
    assert item.outcome == "inconclusive"
    assert "disturbed run (base 3 of 16 values over 50% from the median (worst +7" in item.reason


def test_one_sided_variants_are_new_or_removed() -> None:
    """A variant only in head is 'new', only in base 'removed'; neither fails."""
    assert judge("s:v", None, Sample((0.1,)), SETTINGS).outcome == "new"
    assert judge("s:v", Sample((0.1,)), None, SETTINGS).outcome == "removed"


def test_exit_code_is_worst_outcome() -> None:
    """Any regression exits 1, otherwise any inconclusive 3, otherwise 0 (new/improvement pass)."""

    def code(*outcomes: str) -> int:
        items = [VariantComparison(f"s:{o}", "", o, "") for o in outcomes]  # type: ignore[arg-type]
        return Comparison(items, SETTINGS, "b", "h").exit_code

    assert code("pass", "improvement", "new", "removed") == 0
    assert code("pass", "inconclusive") == 3
    assert code("inconclusive", "regression", "pass") == 1


def test_rerun_decides_and_keeps_first_verdict() -> None:
    """A flagged variant's re-run verdict replaces the first, which stays visible in the reason."""
    first = verdict(timings(1, 0.1), timings(2, 0.13))
    again = verdict(timings(3, 0.1), timings(4, 0.1))
    final = confirm(first, again)
    assert first.flagged
    assert final.outcome == "pass"
    assert final.first_outcome == "regression"
    assert "first pass: regression" in final.reason


def test_different_scenario_sets_are_reported() -> None:
    """Scenarios present on one side only are listed in notes and as new/removed rows."""
    base = results_doc({"a:x": timings(1, 0.1), "old:y": timings(2, 0.1)})
    head = results_doc({"a:x": timings(3, 0.1), "fresh:z": timings(4, 0.1)})
    comparison = compare_results(base, head, SETTINGS)
    outcomes = {item.key: item.outcome for item in comparison.items}
    assert outcomes == {"a:x": "pass", "fresh:z": "new", "old:y": "removed"}
    assert "scenarios only in base: old" in comparison.notes
    assert "scenarios only in head: fresh" in comparison.notes
    assert comparison.exit_code == 0


def test_no_common_variant_is_bad_input() -> None:
    """Two files sharing no scenario:variant raise UsageError (exit 2)."""
    with pytest.raises(UsageError, match="no common variants"):
        compare_results(results_doc({"a:x": [0.1]}), results_doc({"b:x": [0.1]}), SETTINGS)


def test_settings_out_of_range_are_bad_input() -> None:
    """An alpha outside (0, 1) or a floor outside [0, 1) is a usage error."""
    with pytest.raises(UsageError, match="alpha"):
        GateSettings(alpha=1.5)
    with pytest.raises(UsageError, match="floor"):
        GateSettings(floor=-0.1)


# --- the page -----------------------------------------------------------------------------------


def test_page_escapes_data_and_needs_no_network() -> None:
    """Labels and notes are escaped (autoescape), and the page loads nothing from the network."""
    base = results_doc({"a:x": timings(1, 0.1)})
    head = results_doc({"a:x": variant_entry("x", timings(2, 0.13), label="<script>x()</script>")})
    page = render_compare_page(compare_results(base, head, SETTINGS).to_dict())
    assert "<script>x()</script>" not in page
    assert "&lt;script&gt;x()&lt;/script&gt;" in page
    assert "regression" in page
    assert "<svg" in page
    assert "http://" not in page
    assert "https://" not in page


# --- the command line -------------------------------------------------------------------------


@pytest.fixture(name="files")
def _files(tmp_path: Path) -> dict[str, Path]:
    base = {"s:fast": timings(1, 0.1), "s:slow": timings(2, 0.1), "s:shaky": timings(3, 0.1)}
    head = {
        "s:fast": timings(4, 0.1),
        "s:slow": timings(5, 0.14),
        "s:shaky": timings(6, 0.1, noise=0.3),
    }
    passing = {"s:fast": timings(7, 0.1), "s:slow": timings(8, 0.1), "s:shaky": timings(9, 0.1)}
    noisy = {**passing, "s:shaky": timings(6, 0.1, noise=0.3)}
    return {
        "base": write(tmp_path / "base.json", results_doc(base)),
        "head": write(tmp_path / "head.json", results_doc(head)),
        "pass": write(tmp_path / "pass.json", results_doc(passing)),
        "noisy": write(tmp_path / "noisy.json", results_doc(noisy)),
    }


@pytest.mark.parametrize(
    ("head", "code", "expected"),
    [("head", 1, "regression"), ("pass", 0, "3 pass"), ("noisy", 3, "1 inconclusive")],
)
def test_cli_exit_code_follows_outcomes(
    files: dict[str, Path], head: str, code: int, expected: str
) -> None:
    """compare exits 1 on a regression, 3 on inconclusive only, 0 when everything passes."""
    proc = run_cli("compare", str(files["base"]), str(files[head]))
    assert proc.returncode == code, proc.stderr
    assert expected in proc.stdout
    assert f"-> exit {code}" in proc.stdout


def test_cli_writes_html_and_json(files: dict[str, Path], tmp_path: Path) -> None:
    """--html and --json write the comparison page and its JSON beside the table."""
    page, data = tmp_path / "out" / "cmp.html", tmp_path / "cmp.json"
    proc = run_cli(
        "compare", str(files["base"]), str(files["head"]), "--html", str(page), "--json", str(data)
    )
    assert proc.returncode == 1
    assert "s:slow" in page.read_text()
    written = json.loads(data.read_text())
    assert written["exit_code"] == 1
    assert {v["key"]: v["outcome"] for v in written["variants"]}["s:slow"] == "regression"


def test_cli_floor_and_alpha_options(files: dict[str, Path]) -> None:
    """A 50% floor lets the +40% slowdown pass; --floor accepts '50%' and fractions alike."""
    proc = run_cli("compare", str(files["base"]), str(files["head"]), "--floor", "50%")
    assert "s:slow" in proc.stdout
    assert "regression" not in proc.stdout.split("->")[-1]
    assert proc.returncode == 3  # the noisy variant stays inconclusive
    assert (
        run_cli("compare", str(files["base"]), str(files["pass"]), "--alpha", "0.05").returncode
        == 0
    )


def bad_input(tmp_path: Path, case: str) -> tuple[Path, Path]:
    good = write(tmp_path / "good.json", results_doc({"s:v": timings(1, 0.1)}))
    if case == "missing":
        return good, tmp_path / "nope.json"
    if case == "corrupt":
        bad = tmp_path / "corrupt.json"
        bad.write_text(good.read_text()[:100])
        return good, bad
    if case == "schema":
        return good, write(tmp_path / "v2.json", {**results_doc({"s:v": [0.1]}), "schema": 2})
    if case == "not-results":
        return good, write(tmp_path / "pyperf.json", {"version": "1.0", "benchmarks": []})
    return good, write(tmp_path / "other.json", results_doc({"t:w": timings(2, 0.1)}))


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "no such results file"),
        ("corrupt", "corrupt or truncated JSON"),
        ("schema", "schema 2 is newer"),
        ("not-results", "not an asyncio-perf-lab results file"),
        ("no-common", "no common variants"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path, case: str, message: str) -> None:
    """Missing, corrupt, other-schema, foreign and disjoint files: one line on stderr, exit 2."""
    base, head = bad_input(tmp_path, case)
    proc = run_cli("compare", str(base), str(head))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr  # one line, no blank, no traceback
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_cli_bad_floor_is_one_line_exit_2(files: dict[str, Path]) -> None:
    """A --floor that is not a percentage is a one-line usage error, exit 2."""
    proc = run_cli("compare", str(files["base"]), str(files["head"]), "--floor", "lots")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr  # one line, no blank, no traceback
    assert "--floor" in proc.stderr
