"""The mock-vs-bare throughput benchmark runs end to end (one short round) and reports a ratio."""

from __future__ import annotations

import os
import re

import pytest

from asyncio_perf_lab.benchmarks.selfbench import server_throughput


def test_throughput_benchmark_smoke_run(capsys: pytest.CaptureFixture[str]) -> None:
    """One 0.5 s round measures both servers, prints a plausible ratio (the mock within half of
    the bare handler's rate, and not far above it) and restores this CPU affinity."""
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    assert server_throughput.main(["--rounds", "1", "--seconds", "0.5"]) == 0
    out = capsys.readouterr().out
    match = re.search(r"throughput ratio mock/bare \(median of rounds\): (\d+\.\d+)", out)
    assert match, out
    assert 0.5 < float(match[1]) < 1.5, out
    if affinity is not None:
        assert os.sched_getaffinity(0) == affinity


@pytest.mark.parametrize("args", [["--rounds", "0"], ["--seconds", "60"]])
def test_throughput_benchmark_rejects_unbounded_runs(args: list[str]) -> None:
    """Rounds and seconds are bounded: out-of-range values exit 2 before anything starts."""
    with pytest.raises(SystemExit) as info:
        server_throughput.main(args)
    assert info.value.code == 2
