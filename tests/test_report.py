"""The HTML report: built from a results file alone, complete, escaped, self-contained, quick."""

from __future__ import annotations

import copy
import html
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from asyncio_perf_lab.reports import (
    build_matrix_page,
    build_readme_chart,
    build_report,
    build_trend,
)
from asyncio_perf_lab.reports.budgets import over_budget
from asyncio_perf_lab.reports.chart_style import inline_svg
from asyncio_perf_lab.reports.charts_timeline import Lane, callback_spans, timeline_chart
from asyncio_perf_lab.reports.errors import PageWriteError
from asyncio_perf_lab.reports.gate import GateSettings, compare_files, samples_of
from asyncio_perf_lab.reports.headline import headline
from asyncio_perf_lab.reports.pages import inline_segments
from asyncio_perf_lab.reports.report_view import render_report, report_view
from asyncio_perf_lab.reports.results_file import load_results, write_json_atomic
from asyncio_perf_lab.reports.units import format_ms, format_range, format_ratio, format_seconds
from tests.fixtures_results import large_results, summarize, synthetic_results
from tests.lab_cli import run_lab

ROOT = Path(__file__).resolve().parent.parent
# Real quick runs written by the lab before the one-package move, byte for byte as written then:
# 5a1cf3a (the regression gate's commit: no blocking threshold or warm call recorded yet) and
# 215e10c (the last commit before `asyncio_perf_lab`).
OLD_RESULTS = sorted((ROOT / "tests" / "data").glob("results-*.json"))
HOSTILE = "<script>alert(1)</script>"


def lab(*args: str) -> subprocess.CompletedProcess[str]:
    """``asyncio-lab ARGS`` as a user runs it."""
    return run_lab(*args, timeout=120)


def escaped(text: str) -> str:
    """``text`` as Jinja2's autoescape writes it."""
    return html.escape(text).replace("&quot;", "&#34;").replace("&#x27;", "&#39;")


def write_results(directory: Path, data: dict[str, Any]) -> Path:
    return write_json_atomic(directory / "results.json", data)


def chart_svg(page: str, chart_id: str) -> str:
    """The inline SVG with id ``chart_id`` (charts never nest)."""
    found = re.search(rf'<svg id="{re.escape(chart_id)}" .*?</svg>', page, re.S)
    assert found, f"no chart {chart_id}"
    return found.group(0)


def section(page: str, anchor: str) -> str:
    """The HTML of one scenario section."""
    return page.split(f'<section class="scenario" id="{anchor}">', 1)[1].split("</section>", 1)[0]


def text_of(html_text: str) -> str:
    """Markup with line-break hints removed, so names split with <wbr> read whole again."""
    return html_text.replace("<wbr>", "")


def assert_report_shows_probe_records(data: dict[str, Any], page: str) -> None:
    """A loop timeline panel per variant, every observation, result preview and overhead line."""
    view = report_view(data)
    for scenario, sv in zip(data["scenarios"], view.scenarios, strict=True):
        body = text_of(section(page, sv.anchor))
        variants = scenario["variants"]
        if any(v["probe"].get("callbacks") for v in variants):
            svg = chart_svg(page, f"{sv.anchor}-timeline")
            assert svg.count(">event loop</text>") == len(variants), scenario["name"]
            assert "blocking callback (≥ 20 ms)" in svg
        for v in variants:
            probe = v["probe"]
            for name, value in probe.get("observations", {}).items():
                assert escaped(name) in body, (scenario["name"], name)
                shown = str(value) if isinstance(value, int) else f"{value:.4g}"
                assert f'<td class="num">{shown}</td>' in body, (scenario["name"], name)
            if "result" in probe:
                result = sv.variants[variants.index(v)].result
                assert result is not None
                assert escaped(result.text) in body, (scenario["name"], v["name"])
        assert body.count("Probe overhead (estimated upper bound") == sum(
            "overhead" in v["probe"] for v in variants
        )


def assert_report_shows_every_variant(data: dict[str, Any], page: str) -> None:
    """Every scenario title, every variant label and every median (as formatted) is on the page."""
    for scenario in data["scenarios"]:
        assert escaped(scenario["title"]) in page
        for variant in scenario["variants"]:
            assert escaped(variant["label"]) in page
            median = format_seconds(variant["stats"]["median"])
            assert f'<td class="num median">{median}</td>' in page, (variant["name"], median)


@pytest.fixture(name="synthetic", scope="module")
def _synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    data = synthetic_results()
    path = write_results(tmp_path_factory.mktemp("synthetic"), data)
    return data, build_report(path).read_text(encoding="utf-8")


@pytest.mark.timeout(600)
def test_report_of_a_real_quick_run_shows_every_variant(quick_run: Path, tmp_path: Path) -> None:
    """A report built from a real run's results file shows every scenario, variant and median."""
    report = build_report(quick_run, tmp_path / "report.html")
    page = report.read_text(encoding="utf-8")
    data = json.loads(quick_run.read_text())
    assert_report_shows_every_variant(data, page)
    assert_report_shows_probe_records(data, page)
    # bars and loop timeline everywhere; lag only where it matters, as for CPU on the loop
    assert page.count('class="chart"') >= 2 * len(data["scenarios"]) + 1
    assert "Event-loop lag" in page


@pytest.mark.timeout(600)
def test_report_of_a_quick_run_shows_what_the_loop_did(quick_run: Path, tmp_path: Path) -> None:
    """The real run's report names the blocking function, and shows ordering's orders in µs."""
    page = build_report(quick_run, tmp_path / "report.html").read_text(encoding="utf-8")
    data = json.loads(quick_run.read_text())
    anchors = {s.name: s.anchor for s in report_view(data).scenarios}
    scenarios = {s["name"]: s for s in data["scenarios"]}
    blocking = section(page, anchors["blocking_cpu"])
    table = blocking.split('<table class="small blocking">', 1)[1].split("</table>", 1)[0]
    on_loop = next(v for v in scenarios["blocking_cpu"]["variants"] if v["name"] == "on_loop")
    assert on_loop["probe"]["blocking"], "CPU on the loop held the loop past the threshold"
    assert escaped(on_loop["label"]) in table
    assert "<code>crunch</code>" in table
    assert "scenarios/blocking_cpu.py:" in table
    assert "All variants returned equal results." in blocking
    ordering = section(page, anchors["ordering"])
    assert "Variants differ on purpose" in ordering
    assert "What each variant returned" in ordering
    for v in scenarios["ordering"]["variants"]:
        for item in json.loads(v["probe"]["result"]):
            assert f"<li><code>{escaped(item)}</code></li>" in ordering
    assert "time per call (µs)" in chart_svg(page, f"{anchors['ordering']}-time")
    assert ">event loop</text>" in chart_svg(page, f"{anchors['ordering']}-timeline")


@pytest.mark.timeout(600)
def test_cli_builds_beside_the_results_file_by_default(quick_run: Path) -> None:
    """`asyncio-lab report RESULTS.json` writes report.html beside it and prints the path."""
    proc = lab("report", str(quick_run))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(quick_run.parent / "report.html")
    assert (quick_run.parent / "report.html").read_text(encoding="utf-8").startswith("<!doctype")


def test_report_of_synthetic_results_shows_every_variant(
    synthetic: tuple[dict[str, Any], str],
) -> None:
    """Every scenario, variant and median of the synthetic run is on the page, with its charts."""
    data, page = synthetic
    assert_report_shows_every_variant(data, page)
    assert_report_shows_probe_records(data, page)
    assert page.count('class="chart"') == 2 + 3 + 2  # bars and timeline; lag only if it matters
    for scenario in data["scenarios"]:
        assert escaped(scenario["question"]) in page
        for variant in scenario["variants"]:
            assert escaped(variant["why"]) in page
            assert escaped(variant["source"]) in page


def test_summary_shows_run_metadata_and_derived_figures(
    synthetic: tuple[dict[str, Any], str],
) -> None:
    """The page heads with the run's context and each row's efficiency, speed-up, lag and budget."""
    data, page = synthetic
    env = data["run"]["env"]
    for text in (env["python"], env["aiohttp"], "quick", "dac5c26f0c1e", "0.42 / 0.31 / 0.20"):
        assert text in page
    seq, gather, _ = data["scenarios"][0]["variants"]
    assert f"{gather['efficiency']:.0%}" in page
    speedup = format_ratio(seq["stats"]["median"] / gather["stats"]["median"])
    assert f'<td class="num">{speedup}</td>' in page
    lag = data["scenarios"][1]["variants"][0]["probe"]["loop_lag"]
    assert f'<td class="num">{format_ms(lag["p99_ms"], unit=False)} / 201 ms</td>' in page
    assert "anti-pattern</span>" in page
    summary = page.split('<table class="summary">', 1)[1].split("</table>", 1)[0]
    assert summary.count('<tr class="anti') == 4


def test_over_budget_is_flagged(tmp_path: Path) -> None:
    """A variant whose median/ideal exceeds its budget reads "over budget"; within it, "ok"."""
    data = synthetic_results()
    gather = data["scenarios"][0]["variants"][1]
    gather["budget"] = 1.01
    page = build_report(write_results(tmp_path, data)).read_text(encoding="utf-8")
    assert '<span class="budget-over">over budget</span>' in page
    assert '<span class="budget-ok">ok</span>' in page


@pytest.mark.parametrize("budget_over_ratio", [0.99, 1.0, 1.01])
def test_page_and_check_budgets_apply_one_rule(budget_over_ratio: float) -> None:
    """The page's budget status and ``--check-budgets`` agree, at the boundary too."""
    data = synthetic_results()
    gather = data["scenarios"][0]["variants"][1]
    gather["budget"] = gather["stats"]["median"] / gather["ideal_s"] * budget_over_ratio
    shown = report_view(data).scenarios[0].variants[1].budget
    over = [check.key for check in over_budget(data)]
    assert (shown == "over budget") == ("sequential_vs_gather:gather" in over)
    assert shown == ("over budget" if budget_over_ratio < 1 else "ok")


def test_headline_is_computed_from_the_numbers(synthetic: tuple[dict[str, Any], str]) -> None:
    """The headline compares the best fix with the anti-pattern, measured and ideal."""
    _, page = synthetic
    assert "asyncio.gather is 2.9x faster than sequential awaits; ideal 3.0x." in page
    assert "worst stall drops from 201 ms (CPU on the loop) to 0.2 ms" in page


def test_headline_follows_other_numbers() -> None:
    """Change the medians and the sentence changes with them: slower, about the same, no anti."""
    variants = copy.deepcopy(synthetic_results()["scenarios"][0]["variants"])
    seq, gather, group = variants
    gather["stats"]["median"] = group["stats"]["median"] = seq["stats"]["median"] * 2
    assert headline(variants).startswith("asyncio.gather is 2.0x slower than sequential awaits")
    gather["stats"]["median"] = seq["stats"]["median"] * 1.02
    assert headline(variants).startswith("asyncio.gather takes about as long as sequential")
    assert headline([group]).startswith("Fastest: asyncio.TaskGroup at ")


def test_results_strings_are_escaped(tmp_path: Path) -> None:
    """Labels, titles and lessons from the results file render as text, never as markup."""
    data = synthetic_results()
    scenario = data["scenarios"][0]
    scenario["title"] = f"Title {HOSTILE} costs $5 & $6"
    scenario["lesson"] = f"Use `{HOSTILE}` <img src=x onerror=alert(2)> *carefully*"
    scenario["variants"][0]["label"] = HOSTILE
    scenario["variants"][2]["label"] = "$x$ & <b>y</b> 😀"  # no mathtext, no markup, any glyph
    scenario["variants"][1]["source"] = f"async def x():\n    return '{HOSTILE}'\n"
    scenario["variants"][1]["probe"]["observations"] = {HOSTILE: 1}
    cpu = data["scenarios"][1]
    cpu["results_equal"] = None  # so the returned values are listed up front too
    probe = cpu["variants"][0]["probe"]
    probe["blocking"][0].update(
        task=HOSTILE, where=f"{HOSTILE}:1", function=HOSTILE, inner=HOSTILE, located=HOSTILE
    )
    probe["callbacks"][0][2] = HOSTILE
    probe["observations"][f"{HOSTILE}_ms"] = 2.5
    probe["result"] = json.dumps([HOSTILE, "</code><script>alert(3)</script>"])
    cpu["variants"][1]["probe"]["result"] = json.dumps({"k": HOSTILE})
    cpu["variants"][2]["probe"]["result"] = f"{HOSTILE} not json…"
    page = build_report(write_results(tmp_path, data)).read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert "<b>" not in page
    assert html.escape(HOSTILE, quote=False) in page
    assert f"<code>{escaped(HOSTILE)}</code>" in page
    assert "<em>carefully</em>" in page
    assert f"<td>{escaped(HOSTILE)}</td>" in page  # the blocking callback's task
    assert f"<code>{escaped(HOSTILE)}:1</code>" in page  # where
    assert f'<th class="num">{escaped(HOSTILE)}_<wbr>ms</th>' in page  # an observation name
    assert f"<li><code>{escaped(HOSTILE)}</code></li>" in page  # a returned sequence
    assert escaped('"k": "<script>') in page  # a returned object
    assert f'<code class="result">{escaped(HOSTILE)} not json…</code>' in page  # a cut preview


def test_loop_timeline_has_a_panel_per_variant(synthetic: tuple[dict[str, Any], str]) -> None:
    """Each scenario's timeline: a panel per variant with its loop row, one shared time axis."""
    data, page = synthetic
    for scenario, sv in zip(data["scenarios"], report_view(data).scenarios, strict=True):
        svg = chart_svg(page, f"{sv.anchor}-timeline")
        assert svg.count(">event loop</text>") == len(scenario["variants"])
        assert svg.count("time since the probe run started") == 1
    cpu = chart_svg(page, "s2-cpu_on_the_loop-timeline")
    assert "82 callbacks (1 ≥ 20 ms) · 40 requests" in cpu
    assert "fill: #d62728" in cpu  # the blocking callback, in the anti-pattern red
    for entry in ("callback", "blocking callback (≥ 20 ms)", "request", "connecting", "ideal"):
        assert f">{entry}</text>" in cpu
    ordering = chart_svg(page, "s3-ordering-timeline")
    assert "time since the probe run started (µs)" in ordering
    assert "6 callbacks · no HTTP requests" in ordering
    assert ">request</text>" not in ordering


def test_callback_spans_merge_below_a_pixel_and_keep_blocking_apart() -> None:
    """Callbacks under half a pixel apart merge, each is at least a pixel wide, blocking stay."""
    ordinary, blocking = callback_spans(
        [
            [0.0, 0.000001, "Task-1", False],
            [0.0000012, 0.000002, None, False],
            [0.01, 0.0, None, False],
            [0.02, 0.03, "Task-1", True],
        ],
        pixel_s=0.001,
    )
    assert ordinary == [pytest.approx((0.0, 0.0010012)), pytest.approx((0.01, 0.011))]
    assert blocking == [pytest.approx((0.02, 0.05))]


def test_blocking_table_lists_the_five_longest_per_variant(tmp_path: Path) -> None:
    """Longest first, five per variant, the rest counted; missing fields and uvloop read well."""
    data = synthetic_results()
    variants = data["scenarios"][1]["variants"]
    entry = variants[0]["probe"]["blocking"][0]
    variants[0]["probe"]["blocking"] = [
        {**entry, "duration_ms": 20.0 + i, "function": f"fn{i}"} for i in range(8)
    ]
    variants[1]["probe"]["blocking"] = [
        {"duration_ms": 31.0, "task": None, "located": "next-await", "source": "callback"}
    ]
    variants[2]["probe"]["blocking"] = [{"duration_ms": 45.0, "task": None, "source": "watchdog"}]
    page = render_report(data)
    table = page.split('<table class="small blocking">', 1)[1].split("</table>", 1)[0]
    for i in (7, 6, 5, 4, 3):
        assert f"<code>fn{i}</code>" in table
    for i in (0, 1, 2):
        assert f"<code>fn{i}</code>" not in table
    assert table.index("fn7") < table.index("fn3")
    assert "… and 3 more" in table
    assert "<td>Task-7</td>" in table
    assert "<code>scenarios/cpu.py:41</code>" in table
    assert ">sampled</td>" in table
    assert '<td class="num">31.0 ms</td><td>plain callback</td>' in table
    assert ">next await</td>" in table
    # uvloop: the watchdog's duration is approximate, and it knows no task or line
    assert '<td class="num">≈ 45.0 ms</td><td>–</td>' in table
    assert ">not located</td>" in table
    assert 'rowspan="6"' in table  # five rows and the "more" line under one variant cell


def test_observations_are_a_table_of_variants(synthetic: tuple[dict[str, Any], str]) -> None:
    """A row per variant, a column per observation name; a dash where a variant has none."""
    _, page = synthetic
    body = section(page, "s2-cpu_on_the_loop")
    table = body.split('<table class="small observations">', 1)[1].split("</table>", 1)[0]
    assert '<th class="num">concurrent_<wbr>request_<wbr>delay_<wbr>ms</th>' in table
    assert table.count("<tr class=") == 4
    assert '<td class="num">201.9</td><td class="num">–</td><td class="num">–</td>' in table


def test_many_observations_turn_the_table(tmp_path: Path) -> None:
    """More observation names than fit across the page: a row per name instead."""
    data = synthetic_results()
    for v in data["scenarios"][1]["variants"]:
        v["probe"]["observations"] = {f"figure_{i}_ms": i * 1.5 for i in range(8)}
    body = section(render_report(data), "s2-cpu_on_the_loop")
    table = body.split('<table class="small observations">', 1)[1].split("</table>", 1)[0]
    assert table.count('<td class="measure">') == 8
    assert '<td class="measure">figure_<wbr>7_<wbr>ms</td>' in table


def test_results_equality_and_returned_values(synthetic: tuple[dict[str, Any], str]) -> None:
    """Equal results say so; results that differ on purpose are listed up front, as sequences."""
    data, page = synthetic
    seq = section(page, "s1-sequential_vs_gather")
    assert "All variants returned equal results." in seq
    assert "What each variant returned" not in seq
    assert "RESULTS DIFFER" not in page
    ordering = section(page, "s3-ordering")
    assert "Variants differ on purpose" in ordering
    assert "What each variant returned" in ordering
    returned = ordering.split('<table class="small returned">', 1)[1].split("</table>", 1)[0]
    for v in data["scenarios"][2]["variants"]:
        items = "".join(
            f"<li><code>{item}</code></li>" for item in json.loads(v["probe"]["result"])
        )
        assert f'<ol class="sequence">{items}</ol>' in returned
    # every variant's details show what it returned, pretty-printed
    assert "Returned by the probe run" in seq
    assert (
        escaped(
            json.dumps(json.loads(data["scenarios"][0]["variants"][0]["probe"]["result"]), indent=1)
        )
        in seq
    )


def test_differing_results_are_flagged(tmp_path: Path) -> None:
    """results_equal false: a RESULTS DIFFER warning and each variant's result up front."""
    data = synthetic_results()
    scenario = data["scenarios"][0]
    scenario["results_equal"] = False
    differs = '{"user": null}'
    scenario["variants"][1]["probe"]["result"] = differs
    body = section(render_report(data), "s1-sequential_vs_gather")
    assert '<span class="badge warn">RESULTS DIFFER</span>' in body
    assert '<p class="results-status warn">RESULTS DIFFER' in body
    assert f'<code class="result">{escaped(differs)}</code>' in body
    assert "same as sequential awaits" in body  # TaskGroup returned what the first one did


def test_probe_overhead_is_shown_per_variant(tmp_path: Path) -> None:
    """Each variant's details give the instruments' estimated cost; a high one is called out."""
    data = synthetic_results()
    variants = data["scenarios"][1]["variants"]
    variants[0]["probe"]["overhead"].update(lag_sampler_ratio=1.0008, full_tracing_ratio=1.874)
    variants[1]["probe"]["overhead"].update(full_tracing_ratio=None)
    del variants[2]["probe"]["overhead"]
    body = section(render_report(data), "s2-cpu_on_the_loop")
    assert "lag sampler +0.1%, full tracing +87%: this variant's timeline" in body
    assert "full tracing –." in body
    assert body.count("Probe overhead (estimated upper bound") == 3


def test_microsecond_runs_render_without_dividing_by_zero(tmp_path: Path) -> None:
    """Nanosecond medians, ideals of 0 and a loop timeline of 2 µs: no error, sensible units."""
    data = synthetic_results()
    for v in data["scenarios"][2]["variants"]:
        v["values"] = [2e-9, 3e-9, 2.5e-9]
        v["stats"] = summarize(v["values"])
        v["ideal_s"], v["efficiency"] = 0.0, None
        v["probe"]["callbacks"] = [[0.000001, 0.000001, "Task-1", False]]
    page = build_report(write_results(tmp_path, data)).read_text(encoding="utf-8")
    body = section(page, "s3-ordering")
    assert "Loop timeline: too short to draw (everything happened within 2.0 µs)." in body
    assert "s3-ordering-timeline" not in page
    assert "time per call (µs)" in chart_svg(page, "s3-ordering-time")


def test_lesson_markup_is_split_not_trusted() -> None:
    """Backticks become code and asterisks emphasis; everything else stays plain text."""
    assert inline_segments("a `b<c>` *d* e*f") == [
        ("text", "a "),
        ("code", "b<c>"),
        ("text", " "),
        ("em", "d"),
        ("text", " e*f"),
    ]


def test_report_is_self_contained(synthetic: tuple[dict[str, Any], str]) -> None:
    """No scripts, no external URLs, no fonts or stylesheets to fetch: the page works offline."""
    _, page = synthetic
    assert not re.search(r"https?://", page)
    assert not re.search(r"<(script|link|img|iframe|object)\b", page, re.I)
    assert not re.search(r"\b(src|srcset)=", page)
    assert not re.search(r"url\((?!#)", page)
    assert "@import" not in page
    assert "@font-face" not in page
    assert "default-src 'none'" in page  # and the browser is told to refuse anything else


def test_chart_ids_are_unique_and_resolve(synthetic: tuple[dict[str, Any], str]) -> None:
    """Several inline SVGs share one page: every id is unique and every reference finds its id."""
    _, page = synthetic
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    references = set(re.findall(r'(?:url\(#|href="#)([^")]+)', page))
    assert references <= set(ids)
    assert "<?xml" not in page
    assert "<!DOCTYPE svg" not in page


def test_inline_svg_prefixes_only_referenced_ids() -> None:
    """Referenced ids get the chart's prefix, unreferenced ones are dropped."""
    svg = (
        '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="1pt">'
        '<defs><style>*{}</style><path id="m1" d="M 0.123456 1 L 2 3"/></defs>'
        '<g id="figure_1"><use href="#m1"/><g clip-path="url(#m1)"/></g></svg>'
    )
    out = inline_svg(svg, "c7", "a <b>")
    assert out.startswith('<svg id="c7" class="chart" role="img" aria-label="a &lt;b>"')
    assert 'id="c7-m1"' in out
    assert 'href="#c7-m1"' in out
    assert "url(#c7-m1)" in out
    assert "figure_1" not in out
    assert "xmlns" not in out
    assert "<style" not in out
    assert 'd="M 0.12 1 L 2 3"' in out


def test_timeline_of_thousands_of_requests_stays_small() -> None:
    """2000 requests and 3000 callbacks per variant: rows sampled, bars drawn as compound paths."""
    requests = [
        {"start_s": i * 1e-4, "end_s": i * 1e-4 + 0.01, "phases": {"pool_wait": 1e-4}}
        for i in range(2000)
    ]
    callbacks = [[i * 7e-5, 2e-5 if i != 1500 else 0.03, "Task-1", i == 1500] for i in range(3000)]
    svg = timeline_chart(
        [Lane("many", requests, ideal=0.02, callbacks=callbacks)] * 2, "t", uid="t"
    )
    assert "the 3000 longest callbacks (1 ≥ 20 ms) · 200 evenly sampled of 2000 requests" in svg
    assert len(svg) < 250_000
    assert svg.count("<path") < 100


def test_units_follow_magnitude() -> None:
    """Durations read in µs, ms or s by magnitude; a spread names its unit once."""
    assert format_seconds(0.0000523) == "52.3 µs"
    assert format_seconds(0.30912) == "309.1 ms"
    assert format_seconds(1.5) == "1.50 s"
    assert format_range(0.2989, 0.3178) == "298.9–317.8 ms"
    assert format_range(0.9, 1.2) == "900.0 ms – 1.20 s"


def test_full_size_report_renders_in_seconds() -> None:
    """12 scenarios x 4 variants, 2000 requests and 3000 callbacks each: seconds, a few MB."""
    data = large_results()
    started = time.perf_counter()
    page = render_report(data)
    elapsed = time.perf_counter() - started
    assert elapsed < 20, f"render took {elapsed:.1f} s"  # ~5 s here; generous for shared CI
    assert len(page) < 6_000_000
    assert page.count('class="chart"') == 12 * 3


BAD_FILES = {
    "corrupt": b"\x00\xff not json at all {",
    "truncated": json.dumps(synthetic_results()).encode()[:5000],
    "non-lab": json.dumps({"schema": 1, "kind": "someone-else/results", "data": []}).encode(),
    "newer-schema": json.dumps({**synthetic_results(), "schema": 2}).encode(),
    "invalid": json.dumps({**synthetic_results(), "scenarios": [{"name": "x"}]}).encode(),
}


@pytest.mark.parametrize(
    ("command", "kind"),
    [("report", kind) for kind in sorted(BAD_FILES)]
    + [("readme-chart", "truncated"), ("readme-chart", "newer-schema")],
)
def test_bad_results_file_is_one_line_exit_2(command: str, kind: str, tmp_path: Path) -> None:
    """A corrupt, truncated, foreign, newer or invalid results file: one line, exit 2, no output."""
    results = tmp_path / "results.json"
    results.write_bytes(BAD_FILES[kind])
    out = tmp_path / "out" / "report.html"
    out.parent.mkdir()
    out.write_text("previous report")
    proc = lab(command, str(results), "--out", str(out))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(results) in proc.stderr
    assert out.read_text() == "previous report"  # left intact
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.html"]  # no temp file left


def test_missing_results_file_is_one_line_exit_2(tmp_path: Path) -> None:
    """A results file that is not there: one line naming it, exit 2, no report."""
    proc = lab("report", str(tmp_path / "nope.json"))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.strip() == f"error: {tmp_path / 'nope.json'}: no such results file"
    assert list(tmp_path.iterdir()) == []


def test_unwritable_out_is_one_line_exit_2(tmp_path: Path) -> None:
    """An --out that cannot be written (its parent is a file): one line, exit 2."""
    results = write_results(tmp_path, synthetic_results())
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    proc = lab("report", str(results), "--out", str(blocker / "report.html"))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert "cannot write" in proc.stderr
    with pytest.raises(PageWriteError, match="cannot write"):
        build_report(results, blocker / "report.html")


def test_report_never_overwrites_its_results_file(tmp_path: Path) -> None:
    """--out pointing at the results file itself is refused, and the results survive."""
    results = write_results(tmp_path, synthetic_results())
    before = results.read_text()
    with pytest.raises(PageWriteError, match="refusing"):
        build_report(results, results)
    assert results.read_text() == before


def test_readme_chart_is_the_headline_scenario(tmp_path: Path) -> None:
    """readme-chart writes a standalone SVG of sequential_vs_gather's bars, else the first's."""
    data = synthetic_results()
    data["scenarios"].reverse()  # the headline scenario is found by name, not position
    results = write_results(tmp_path, data)
    proc = lab("readme-chart", str(results), "--out", str(tmp_path / "chart.svg"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tmp_path / "chart.svg")
    svg = (tmp_path / "chart.svg").read_text()
    assert svg.startswith("<?xml")
    assert 'xmlns="http://www.w3.org/2000/svg"' in svg
    assert "sequential awaits" in svg
    assert "asyncio.gather is 2.9x faster" in svg
    data["scenarios"] = [s for s in data["scenarios"] if s["name"] != "sequential_vs_gather"]
    chart = build_readme_chart(write_results(tmp_path, data), tmp_path / "other.svg")
    assert escaped(data["scenarios"][0]["variants"][0]["label"]) in chart.read_text()


@pytest.mark.parametrize("command", ["report", "readme-chart"])
def test_every_command_has_help_ending_with_an_example(command: str) -> None:
    """Each command's help text ends with a runnable example."""
    proc = lab(command, "--help")
    assert proc.returncode == 0
    description = " ".join(proc.stdout.split())
    assert re.search(r"Example: asyncio-lab " + command + r" \S+", description)


def test_reading_results_does_not_import_the_chart_stack() -> None:
    """The runner imports reports.results_file; matplotlib and Jinja2 load only for a report."""
    code = (
        "import sys, asyncio_perf_lab.reports.results_file; from asyncio_perf_lab import reports; "
        "assert 'matplotlib' not in sys.modules and 'jinja2' not in sys.modules; "
        "reports.build_report; assert 'asyncio_perf_lab.reports.build' in sys.modules"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_timeline_caption_uses_the_threshold_the_probe_recorded() -> None:
    """A probe run with a 50 ms blocking threshold is described as such; older files say 20 ms."""
    data = synthetic_results()
    older = section(render_report(data), "s2-cpu_on_the_loop")
    assert "held it for 20 ms or more" in older
    for v in data["scenarios"][1]["variants"]:
        v["probe"]["blocking_threshold_ms"] = 50.0
    body = section(render_report(data), "s2-cpu_on_the_loop")
    assert "held it for 50 ms or more" in body
    assert "held it for 20 ms or more" not in body


@pytest.mark.parametrize("old", OLD_RESULTS, ids=lambda p: p.stem)
def test_results_written_before_the_move_still_load_and_render(old: Path, tmp_path: Path) -> None:
    """A results file the pre-move lab wrote loads, and its report shows every variant's median."""
    data = load_results(old)
    assert data["run"]["env"]["git_revision"].startswith(old.stem.removeprefix("results-"))
    page = build_report(old, tmp_path / "report.html").read_text(encoding="utf-8")
    assert_report_shows_every_variant(data, page)
    view = report_view(data)
    for scenario in view.scenarios:
        chart_svg(page, f"{scenario.anchor}-time")
        chart_svg(page, f"{scenario.anchor}-timeline")  # their probes recorded callbacks


def test_old_results_files_compare_trend_and_merge(tmp_path: Path) -> None:
    """The gate, the trend page and the matrix page all read the two pre-move files together."""
    first, second = OLD_RESULTS
    shared = set(samples_of(load_results(first))) & set(samples_of(load_results(second)))
    assert shared  # both runs timed sequential_vs_gather
    comparison = compare_files(first, second, GateSettings())
    assert {i.key for i in comparison.items if i.outcome not in ("new", "removed")} == shared
    trend = build_trend(OLD_RESULTS, tmp_path / "trend.html").read_text(encoding="utf-8")
    assert "2 runs, " in trend
    matrix = build_matrix_page(OLD_RESULTS, tmp_path / "matrix.html").read_text(encoding="utf-8")
    assert "2 of 2 cells ran" in matrix
