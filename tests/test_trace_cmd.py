"""``asyncio-lab trace``: a variant or a user's script in, a valid Chrome trace out."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from asyncio_perf_lab.benchmarks.chrome_trace import check_trace
from asyncio_perf_lab.benchmarks.cli import main
from asyncio_perf_lab.mockserver import MockServer

ROOT = Path(__file__).resolve().parent.parent


def _trace(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asyncio_perf_lab.benchmarks", "trace", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _events(path: Path, ph: str) -> list[dict]:
    return [e for e in json.loads(path.read_text())["traceEvents"] if e["ph"] == ph]


def test_trace_of_a_variant_writes_a_valid_chrome_trace(tmp_path: Path) -> None:
    """Tracing sequential_vs_gather:gather writes a valid trace with 3 requests and a summary."""
    out = tmp_path / "gather.json"
    proc = _trace("sequential_vs_gather:gather", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    trace = json.loads(out.read_text())
    assert check_trace(trace) == []
    requests = [e for e in _events(out, "b") if e["name"].startswith("GET ")]
    assert len(requests) == 3
    assert _events(out, "C"), "no loop-lag counter"
    assert trace["otherData"]["server"]["max_in_flight"] == 3
    assert "3 requests: phase medians" in proc.stdout
    assert "loop lag: p50" in proc.stdout
    assert f"wrote {out}" in proc.stdout


def test_trace_of_a_script_sees_its_own_session_and_blocking_line(
    tmp_path: Path, server: MockServer
) -> None:
    """A user's script with its own ClientSession gets request spans and its blocking line named."""
    script = tmp_path / "slow_api.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio
            import time

            import aiohttp

            def render(users):
                time.sleep(0.06)  # the blocking line
                return len(users)

            async def fetch(session, i):
                async with session.get("{server.url}/users/" + str(i) + "?latency=10ms") as r:
                    return await r.json()

            async def main():
                async with aiohttp.ClientSession() as session:
                    users = await asyncio.gather(*(fetch(session, i) for i in range(1, 5)))
                return render(users)
            """
        )
    )
    line = 1 + script.read_text().splitlines().index("    time.sleep(0.06)  # the blocking line")
    out = tmp_path / "script.json"
    proc = _trace("--script", str(script), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    trace = json.loads(out.read_text())
    assert check_trace(trace) == []
    begins = [e for e in _events(out, "b") if e["name"].startswith("GET ")]
    # Each request twice: as aiohttp's TraceConfig saw it, and at the asyncio transport.
    assert len([e for e in begins if e["cat"] == "request"]) == 4
    assert len([e for e in begins if e["cat"] == "transport"]) == 4
    blocking = [e for e in _events(out, "X") if e.get("cname") == "terrible"]
    assert blocking
    assert {e["args"]["function"] for e in blocking} == {"render"}
    assert {e["args"]["where"] for e in blocking} == {f"{script}:{line}"}
    assert "render" in proc.stdout
    assert f"slow_api.py:{line}" in proc.stdout
    assert "sessions created while tracing got the TraceConfig: 1" in proc.stdout


def test_a_failing_script_still_writes_its_trace_and_exits_1(tmp_path: Path) -> None:
    """A script whose coroutine raises gets its trace written and exit 1 with the error."""
    script = tmp_path / "boom.py"
    script.write_text("async def main():\n    raise ValueError('nope')\n")
    out = tmp_path / "boom.json"
    proc = _trace("--script", str(script), "--out", str(out))
    assert proc.returncode == 1
    assert "ValueError: nope" in proc.stdout
    assert check_trace(json.loads(out.read_text())) == []


def test_bad_script_path_exits_2_with_one_line(tmp_path: Path) -> None:
    """A missing script file is one line on stderr and exit code 2 (a real process)."""
    proc = _trace("--script", str(tmp_path / "missing.py"))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "no such file" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--script", "{tmp}/app.py", "--func", "nope"], "has no function 'nope'"),
        (["--script", "{tmp}/app.py", "--func", "helper"], "is not an async def"),
        (["--script", "{tmp}/app.py", "--func", "needs_arg"], "must take no arguments"),
        (["--script", "{tmp}/broken.py"], "importing it raised SyntaxError"),
        (["--script", "{tmp}/notes.txt"], "not a .py file"),
        (["no_such_scenario:x"], "unknown scenario"),
        (["sequential_vs_gather:nope"], "unknown variant"),
        (["sequential_vs_gather"], "trace needs one variant"),
        ([], "exactly one of"),
        (["sequential_vs_gather:gather", "--script", "{tmp}/app.py"], "exactly one of"),
        (["sequential_vs_gather:gather", "--threshold-ms", "0"], "--threshold-ms"),
        (["sequential_vs_gather:gather", "--latency", "fast"], "latency"),
        (["sequential_vs_gather:gather", "--out", "{tmp}/notes.txt/t.json"], "cannot write"),
        (["sequential_vs_gather:gather", "--out", "{tmp}"], "cannot write"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Each bad input names the fault in one line and exits 2, before any work is done."""
    (tmp_path / "app.py").write_text(
        "def helper():\n    pass\n\nasync def needs_arg(x):\n    pass\n\nasync def main():\n"
        "    pass\n"
    )
    (tmp_path / "broken.py").write_text("def oops(:\n")
    (tmp_path / "notes.txt").write_text("hello\n")
    argv = ["trace", *(a.replace("{tmp}", str(tmp_path)) for a in args)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert message in err
