"""``asyncio-lab loadgen``: the open-loop generator's command line, end to end."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.lab_cli import run_lab


def loadgen(*args: str) -> subprocess.CompletedProcess[str]:
    return run_lab("loadgen", *args, timeout=60)


def test_json_output_has_client_and_server_figures() -> None:
    """A bounded run against its own mock server reports sends, latency, slip and server figures."""
    proc = loadgen("/work/async-sleep?ms=100", "--requests", "200", "--rate", "1000", "--json")
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    client, server = figures["client"], figures["server"]
    assert (client["sent"], client["ok"], client["errors"]) == (200, 200, 0)
    assert client["p50_ms"] >= 100  # counted from the intended start, so never below the wait
    assert server["requests"] == 200
    assert server["max_in_flight"] >= 50  # 1000/s x 100 ms: about 100 wait at once
    assert server["loop_lag"]["samples"] > 0
    assert set(client) >= {"throughput_rps", "p99_ms", "slip_p99_ms", "slip_max_ms"}


def test_text_output_is_two_lines_for_humans() -> None:
    """Without --json the figures are printed as readable lines naming p99 and the slip."""
    proc = loadgen("/users/1", "--requests", "50", "--rate", "500")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("50 x GET /users/1 at 500/s: sent 50, ok 50, errors 0")
    assert "p99" in lines[0]
    assert "client slip" in lines[0]
    assert lines[1].startswith("server: max in flight")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["/users/1", "--url", "http://example.com:8080"], "loopback"),
        (["/users/1", "--requests", "0"], "--requests"),
        (["/users/1", "--rate", "0"], "--rate"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], named: str) -> None:
    """A non-loopback URL or an unbounded setting is refused with one line and exit code 2."""
    proc = loadgen(*args)
    assert proc.returncode == 2
    assert named in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
