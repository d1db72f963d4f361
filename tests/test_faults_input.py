"""Faults at the edges: input that cannot finish or makes no sense is refused at the door, files
are read with a cap and written without races, and verdicts agree with their exit codes.

Each test runs the real command and checks the exit code, the one line printed, the files left
and the process table (``tests.fault_tools.tagged``): refused input starts nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from asyncio_perf_lab.benchmarks.chrome_trace import check_trace
from tests.fault_tools import left_running, lines_with, new_tag, run_lab, sweep
from tests.lab_cli import ROOT

DATA = Path(__file__).parent / "data"
RESULTS = DATA / "results-5a1cf3a.json"
OTHER_RESULTS = DATA / "results-215e10c.json"


@pytest.fixture(name="tag")
def _tag() -> Iterator[str]:
    tag = new_tag()
    yield tag
    sweep(tag)


def one_error_line(err: str) -> str:
    """stderr is exactly one line and no traceback; that line."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_a_run_that_cannot_fit_its_limit_is_refused_with_the_arithmetic(
    tag: str, tmp_path: Path
) -> None:
    """60 s x 3 sequential calls, 4 calls: ~12 min against a 10 min limit; refused before any
    server starts."""
    out = tmp_path / "out"
    args = ["run", "sequential_vs_gather:sequential", "--latency", "60s", "--phase-limit", "600"]
    code, stdout, err = run_lab(tag, *args, "--out", str(out))

    assert code == 2
    assert one_error_line(err) == (
        "error: sequential_vs_gather:sequential: its timing needs ~12 min (3 min a call at its "
        "ideal x 4 calls (2 processes x (1 warmup + 1 values) x 1 loop)); the limit is 10 min "
        "(--phase-limit); use a lower --latency or a smaller --profile"
    )
    assert stdout == ""
    assert not out.exists()
    assert left_running(tag) == []


def test_a_probe_that_cannot_fit_its_limit_is_refused_too(tag: str, tmp_path: Path) -> None:
    """await_in_loop's 20 calls of 60 s in a loop: the probe alone needs 40 min."""
    args = ["run", "await_in_loop:for_loop", "--latency=60s", "--profile", "quick"]
    code, _, err = run_lab(tag, *args, "--out", str(tmp_path / "out"))

    assert code == 2
    line = one_error_line(err)
    assert line.startswith("error: await_in_loop:for_loop: its probe needs ~40 min (20 min a call")
    assert line.endswith("the limit is 15 min (--phase-limit); use a lower --latency")
    assert not (tmp_path / "out").exists()
    assert left_running(tag) == []


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["run", "sequential_vs_gather", "--latency", "-5ms"], "bad latency '-5ms'"),
        (["run", "sequential_vs_gather", "--latency=-5ms"], "bad latency '-5ms'"),
        (["run", "sequential_vs_gather:"], "'sequential_vs_gather:' names no variant after ':'"),
        (["run", "sequential_vs_gather", "--phase-limit", "nan"], "--phase-limit nan is outside"),
        (["run", "sequential_vs_gather", "--phase-limit", "-1"], "--phase-limit -1 is outside"),
        (["trace", "sequential_vs_gather:gather", "--threshold-ms", "nan"], "nan is outside"),
        (["trace", "sequential_vs_gather:gather", "--threshold-ms", "inf"], "inf is outside"),
        (["trace", "sequential_vs_gather:gather", "--threshold-ms", "-5"], "-5 is outside"),
    ],
)
def test_accepted_numbers_are_finite_and_in_range(
    tag: str, tmp_path: Path, args: list[str], named: str
) -> None:
    """nan, inf, negatives (with a space or an =) and an empty variant: one line naming the value,
    exit 2, nothing written, nothing started."""
    out = tmp_path / "out"
    code, stdout, err = run_lab(
        tag, *args, "--out", str(out / "t.json" if "trace" in args else out)
    )

    assert code == 2
    assert named in one_error_line(err)
    assert stdout == ""
    assert not out.exists()
    assert left_running(tag) == []


def test_a_real_folder_named_latest_is_refused_before_the_run_and_kept(
    tag: str, tmp_path: Path
) -> None:
    """`latest` as a real folder (a CI artifact download) is named at the door, exit 2; the
    folder and its file are untouched and no run folder is made."""
    out = tmp_path / "out"
    (out / "latest").mkdir(parents=True)
    (out / "latest" / "results.json").write_text("{}")
    code, _, err = run_lab(tag, "run", "sequential_vs_gather:gather", "--out", str(out))

    assert code == 2
    assert one_error_line(err) == (
        f"error: --out {out}: {out / 'latest'} is a real folder, not the link the lab keeps "
        "there; move or delete it, or choose another --out"
    )
    assert [p.name for p in out.iterdir()] == ["latest"]
    assert (out / "latest" / "results.json").read_text() == "{}"
    assert left_running(tag) == []


def test_an_unwritable_out_is_refused_before_any_work(tag: str, tmp_path: Path) -> None:
    """--out under a plain file cannot be made: one line, exit 2, no server started."""
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "out"
    code, _, err = run_lab(tag, "run", "sequential_vs_gather:gather", "--out", str(out))

    assert code == 2
    assert one_error_line(err) == f"error: cannot write to --out {out}: Not a directory"
    assert left_running(tag) == []


@pytest.mark.parametrize("source", ["/dev/zero", "sparse"])
def test_a_results_file_over_the_cap_is_refused_by_its_size(
    tag: str, tmp_path: Path, source: str
) -> None:
    """`report /dev/zero` stops after the 64 MiB cap; a 300 MiB file is refused by its size
    alone: one line naming size and cap, exit 2, no page written."""
    if source == "sparse":
        path = tmp_path / "results.json"
        with path.open("wb") as f:
            f.truncate(300 * 1024 * 1024)  # sparse: no disk used, but 300 MiB to a reader
        expected = f"error: {path}: 300 MiB is too big; results files are capped at 64 MiB"
    else:
        path = Path(source)
        expected = (
            "error: /dev/zero: more than 64 MiB (read stopped there); results files are capped "
            "at 64 MiB"
        )
    started = time.monotonic()
    code, _, err = run_lab(tag, "report", str(path), "--out", str(tmp_path / "r.html"))

    assert code == 2
    assert one_error_line(err) == expected
    assert time.monotonic() - started < 60  # bounded: it never reads on and on
    assert not (tmp_path / "r.html").exists()
    assert left_running(tag) == []


def test_forty_runs_starting_at_once_each_get_their_own_folder(tmp_path: Path) -> None:
    """40 processes creating run folders in the same second: 40 distinct folders, no error."""
    go = tmp_path / "go"
    code = (
        "import sys, time; from pathlib import Path\n"
        "from asyncio_perf_lab.benchmarks.run_dirs import create_run_dir\n"
        f"go = Path({str(go)!r})\n"
        "while not go.exists(): time.sleep(0.005)\n"
        f"print(create_run_dir(Path({str(tmp_path / 'out')!r}), profile='quick').name)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(40)
    ]
    time.sleep(0.5)  # let them all import and wait at the line
    go.touch()
    results = [proc.communicate(timeout=60) for proc in procs]

    assert [proc.returncode for proc in procs] == [0] * 40, [err for _, err in results]
    names = [out.strip() for out, _ in results]
    assert len(set(names)) == 40
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(names)
    assert all(re.fullmatch(r"\d{8}-\d{6}-quick(-\d+)?", name) for name in names)


def test_an_oversized_query_gets_a_json_400_and_no_traceback_on_the_server(tmp_path: Path) -> None:
    """A 10 MB query string: a JSON 400 naming the query and the cap; past aiohttp's raised
    request-line cap (17 MB) its own 400, logged in one line; the server's stderr has no
    traceback, and the server still answers afterwards and stops cleanly."""
    stderr_path = tmp_path / "server.err"
    with stderr_path.open("wb") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "asyncio_perf_lab.mockserver", "--port", "0"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            assert server.stdout is not None
            url = re.search(r"listening on (\S+)", server.stdout.readline())[1]  # type: ignore[index]
            answers = asyncio.run(ask(url, ["a" * 10_000_000, "a" * 17_000_000, "ab"]))
        finally:
            server.terminate()
            server.wait(timeout=10)
            assert server.stdout is not None
            server.stdout.close()

    (status, kind, body), (big_status, _, _), (ok_status, _, _) = answers
    assert status == 400
    assert kind == "application/json"
    assert json.loads(body) == {
        "error": "the query string is 10000002 bytes",
        "field": "query",
        "allowed": "at most 65536 bytes",
    }
    assert big_status == 400
    assert ok_status == 200
    assert server.returncode == 0
    logged = stderr_path.read_text()
    assert "Traceback" not in logged
    assert logged.strip().count("\n") == 0
    assert "Error handling request" in logged
    assert "Got more than 16777216 bytes" in logged


async def ask(url: str, queries: list[str]) -> list[tuple[int, str, bytes]]:
    """GET /search?q=QUERY for each query: status, content type, body."""
    answers = []
    async with aiohttp.ClientSession() as http:
        for q in queries:
            async with http.get(f"{url}/search?q={q}") as resp:
                answers.append((resp.status, resp.content_type, await resp.read()))
    return answers


@pytest.mark.parametrize("copy", [False, True])
def test_a_file_compared_with_itself_passes(tag: str, tmp_path: Path, copy: bool) -> None:
    """compare A A (or A and a copy of A): nothing can have changed, so pass, exit 0, one line."""
    head = RESULTS
    if copy:
        head = tmp_path / "copy.json"
        head.write_bytes(RESULTS.read_bytes())
    code, stdout, err = run_lab(tag, "compare", str(RESULTS), str(head))

    assert code == 0
    assert err == ""
    what = (
        "hold the same run (20261129-231643-quick, identical contents)"
        if copy
        else f"are the same file ({RESULTS})"
    )
    assert stdout.strip() == f"BASE and HEAD {what}: nothing can have changed -> pass (exit 0)"
    assert left_running(tag) == []


def test_an_unwritable_compare_page_is_exit_2_with_no_verdict_printed(tag: str) -> None:
    """compare --html /proc/x/c.html: the page fails before the verdict is printed, so what is
    printed (an error, no "-> exit 3") matches the exit code 2."""
    args = ["compare", str(OTHER_RESULTS), str(RESULTS), "--html", "/proc/x/c.html"]
    code, stdout, err = run_lab(tag, *args)

    assert code == 2
    assert lines_with(err, "error: ") == [
        "error: /proc/x/c.html: cannot write (No such file or directory)"
    ]
    assert "-> exit" not in stdout + err
    assert "Traceback" not in err
    assert not Path("/proc/x/c.html").exists()
    assert left_running(tag) == []


def test_a_traced_script_that_calls_sys_exit_has_its_trace_and_its_exit_reported(
    tag: str, tmp_path: Path
) -> None:
    """A script's own sys.exit(3): the trace up to it is written and valid, the line says so,
    and the exit code is 1 (a failure of the program, not the lab's 3 for inconclusive)."""
    script = tmp_path / "exits.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio
            import sys


            async def main():
                await asyncio.sleep(0.05)
                sys.exit(3)
            """
        )
    )
    trace = tmp_path / "exits.json"
    code, stdout, err = run_lab(tag, "trace", "--script", str(script), "--out", str(trace))

    assert code == 1
    assert lines_with(stdout, f"{script} main() called sys.exit(3)") == [
        f"{script} main() called sys.exit(3); the trace in {trace} runs up to it"
    ]
    written = json.loads(trace.read_text())
    assert check_trace(written) == []
    assert any(e["ph"] == "C" for e in written["traceEvents"])  # loop lag up to the exit
    assert "Traceback" not in err
    assert left_running(tag) == []


def test_a_traced_script_that_raises_shows_its_own_frames(tag: str, tmp_path: Path) -> None:
    """An exception in the script: its type and message, then the script's own frames with
    their lines (outermost first, none of the lab's), the trace written, exit 1."""
    script = tmp_path / "boom.py"
    script.write_text(
        "import asyncio\n\n\ndef parse(text):\n    return int(text)\n\n\n"
        "async def main():\n    await asyncio.sleep(0.01)\n    parse('nope')\n"
    )
    trace = tmp_path / "boom.json"
    code, stdout, err = run_lab(tag, "trace", "--script", str(script), "--out", str(trace))

    assert code == 1
    lines = stdout.splitlines()
    raised = lines.index(
        f"{script} main() raised ValueError: invalid literal for int() with base 10: 'nope'"
    )
    assert lines[raised + 1 : raised + 3] == [
        f"  {script}:10 in main: parse('nope')",
        f"  {script}:5 in parse: return int(text)",
    ]
    assert check_trace(json.loads(trace.read_text())) == []
    assert "Traceback" not in err
    assert left_running(tag) == []
