"""The probe-overhead benchmark runs end to end with tiny settings and prints its ratios."""

from __future__ import annotations

import pytest

from asyncio_perf_lab.benchmarks.selfbench import probe_overhead


def test_probe_overhead_benchmark_smoke_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """One round of one call per mode runs every variant and prints both overhead ratios."""
    assert probe_overhead.main(["--rounds", "1", "--calls", "1", "--latency", "1ms"]) == 0
    out = capsys.readouterr().out
    for variant in ("sequential", "gather", "task_group"):
        assert variant in out
    assert "worst ratio: lag sampler" in out
    assert "full tracing" in out


def test_probe_overhead_rejects_empty_rounds() -> None:
    """Zero rounds is a usage error (argparse exit 2), not an empty table."""
    with pytest.raises(SystemExit) as exc:
        probe_overhead.main(["--rounds", "0"])
    assert exc.value.code == 2
