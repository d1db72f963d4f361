"""A user route's own latency lands where asked, within the bound the built-ins are held to."""

from __future__ import annotations

import statistics
from pathlib import Path

from asyncio_perf_lab.mockserver import MockServer
from tests.test_mockserver_timing import (
    ATTEMPTS,
    LATENCY_S,
    P99_BOUND_S,
    REQUESTS,
    sequential_latencies,
    shielded_scheduling,
)


def test_a_route_latency_is_observed_within_1_5_ms_at_p99(tmp_path: Path) -> None:
    """A route's fixed 50 ms (the server's default is 0) is seen as >= 50 ms and <= 51.5 ms p99."""
    routes = tmp_path / "routes.toml"
    routes.write_text(
        f'[[route]]\npath = "/carts/{{id}}"\nlatency = "{LATENCY_S * 1000:g}ms"\n'
        'json = { cart = "{id}" }\n'
    )
    p99s = []
    with MockServer(routes=routes) as server, shielded_scheduling(server.pid) as shielded:
        for _ in range(ATTEMPTS):  # noise only adds time: the best run is the fair reading
            values = sequential_latencies(f"{server.url}/carts/7", REQUESTS)
            assert min(values) >= LATENCY_S
            p99s.append(statistics.quantiles(values, n=100, method="inclusive")[98])
            if p99s[-1] <= P99_BOUND_S:
                break
    runs = ", ".join(f"{p * 1e3:.2f} ms" for p in p99s)
    assert min(p99s) <= P99_BOUND_S, f"p99 per run: {runs} (real-time scheduling: {shielded})"
