"""Findings: staircases of sequential requests are candidates with sum vs max; overlap is none."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from asyncio_perf_lab.benchmarks.findings import blocking_findings, staircases
from asyncio_perf_lab.mockserver import MockServer
from tests.lab_cli import run_lab


def request(start: float, end: float, task: str = "main()", line: str = "app.py:10") -> dict:
    return {
        "start_s": start,
        "end_s": end,
        "task": task,
        "where": line,
        "stack": ["lib.py:3 in get", f"{line} in main"],
        "label": "GET /x",
        "answered": True,
    }


def test_three_back_to_back_requests_make_one_staircase_with_sum_and_max() -> None:
    """Three requests of one task, each right after the previous, give sum, max and the lines."""
    found = staircases(
        [
            request(0.000, 0.100, line="app.py:10"),
            request(0.101, 0.151, line="app.py:11"),
            request(0.152, 0.232, line="app.py:12"),
        ]
    )
    assert len(found) == 1
    stair = found[0]
    assert stair["requests"] == 3
    assert stair["lines"] == ["app.py:10", "app.py:11", "app.py:12"]
    assert stair["sum_ms"] == pytest.approx(230.0)
    assert stair["max_ms"] == pytest.approx(100.0)
    assert stair["scenario"] == "sequential_vs_gather"
    assert stair["message"].startswith("candidate staircase")
    assert "asyncio-lab run sequential_vs_gather" in stair["message"]


def test_overlapping_requests_are_no_staircase() -> None:
    """Requests that overlap in time (a gather) give no finding, even from one task."""
    assert staircases([request(0.0, 0.1), request(0.001, 0.1), request(0.002, 0.1)]) == []


def test_requests_of_different_tasks_are_no_staircase() -> None:
    """Back-to-back requests from different tasks are not one task's staircase."""
    assert staircases([request(0.0, 0.1, task="a"), request(0.1, 0.2, task="b")]) == []


def test_a_long_pause_between_requests_breaks_the_staircase() -> None:
    """A request that starts long after the previous ended (work between) is not a next step."""
    assert staircases([request(0.0, 0.01), request(0.5, 0.51)]) == []


def test_one_line_repeated_points_at_await_in_loop() -> None:
    """A staircase whose requests come from one line (a loop) links the await_in_loop scenario."""
    found = staircases([request(i * 0.05, i * 0.05 + 0.049, line="app.py:20") for i in range(4)])
    assert [f["scenario"] for f in found] == ["await_in_loop"]
    assert found[0]["lines"] == ["app.py:20"]


def test_blocking_records_become_findings_linked_to_blocking_cpu() -> None:
    """A blocking callback becomes a finding naming its line, its time and the scenario."""
    found = blocking_findings(
        [{"duration_ms": 61.5, "task": "main()", "where": "app.py:7", "function": "render"}]
    )
    assert found[0]["lines"] == ["app.py:7"]
    assert "61.5 ms" in found[0]["message"]
    assert found[0]["scenario"] == "blocking_cpu"


SCRIPT = """
import asyncio
import aiohttp

URL = "{url}"

async def get(session, path):
    async with session.get(URL + path + "?latency=40ms") as response:
        return await response.json()

async def sequential():
    async with aiohttp.ClientSession() as session:
        user = await get(session, "/users/1")
        posts = await get(session, "/users/1/posts")
        comments = await get(session, "/posts/1/comments")
    return user, posts, comments

async def gathered():
    async with aiohttp.ClientSession() as session:
        paths = ("/users/1", "/users/1/posts", "/posts/1/comments")
        return await asyncio.gather(*(get(session, path) for path in paths))
"""


@pytest.fixture(name="script")
def _script(tmp_path: Path, server: MockServer) -> Path:
    path = tmp_path / "three_requests.py"
    path.write_text(textwrap.dedent(SCRIPT.format(url=server.url)))
    return path


def _line(script: Path, text: str) -> str:
    return f"{script}:{1 + script.read_text().splitlines().index(text)}"


@pytest.mark.parametrize("command", ["trace", "replay"])
def test_sequential_script_gets_a_staircase_naming_its_lines(
    command: str, script: Path, tmp_path: Path
) -> None:
    """Three sequential independent requests in a script: a staircase with its lines and sum/max."""
    out = tmp_path / ("t.json" if command == "trace" else "r.html")
    extra = ["--json", str(tmp_path / "r.json")] if command == "replay" else []
    proc = run_lab(
        command, "--script", str(script), "--func", "sequential", "--out", str(out), *extra
    )
    assert proc.returncode == 0, proc.stderr
    lines = [
        _line(script, '        user = await get(session, "/users/1")'),
        _line(script, '        posts = await get(session, "/users/1/posts")'),
        _line(script, '        comments = await get(session, "/posts/1/comments")'),
    ]
    text = " ".join(proc.stdout.split())
    assert "candidate staircase" in text
    assert "made 3 requests one after another" in text
    for line in lines:
        assert line in text
    if command == "replay":
        data = json.loads((tmp_path / "r.json").read_text())
        # Opening the session can hold the loop (a blocking finding); one staircase, always.
        (stair,) = [f for f in data["findings"] if f["kind"] == "staircase"]
        assert stair["lines"] == lines
        took = [(r["end_s"] - r["start_s"]) * 1000 for r in data["requests"]]
        assert len(took) == 3
        assert min(took) >= 40 * 0.95  # the server holds each answer 40 ms
        assert stair["sum_ms"] == pytest.approx(sum(took), abs=0.01)
        assert stair["max_ms"] == pytest.approx(max(took), abs=0.01)


@pytest.mark.parametrize("command", ["trace", "replay"])
def test_gathered_script_gets_no_staircase(command: str, script: Path, tmp_path: Path) -> None:
    """The same three requests in a gather are all seen, and get no staircase finding."""
    out = tmp_path / ("t.json" if command == "trace" else "r.html")
    extra = ["--json", str(tmp_path / "r.json")] if command == "replay" else []
    proc = run_lab(
        command, "--script", str(script), "--func", "gathered", "--out", str(out), *extra
    )
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    if command == "trace":
        assert "3 requests seen at the transport level" in text
    else:
        data = json.loads((tmp_path / "r.json").read_text())
        assert len(data["requests"]) == 3
        # Opening the session can hold the loop (a blocking finding), never a staircase.
        assert {f["kind"] for f in data["findings"]} <= {"blocking"}
    assert "candidate staircase" not in text
    findings = "no staircase of sequential requests" in text or "held the loop" in text
    assert findings, proc.stdout  # the findings step ran and said what it found
