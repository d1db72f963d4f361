"""A user route's own latency lands where asked, within the bound the built-ins are held to.

Slow set: 600 sequential 50 ms requests (30 s) for the same server timer that
test_mockserver_timing holds to this bound in the default run; that a route's latency is
injected at all is proved in the default run too (test_routes, in milliseconds).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncio_perf_lab.mockserver import MockServer
from tests.test_mockserver_timing import LATENCY_S, assert_p99_within_bound


@pytest.mark.slow
def test_a_route_latency_is_observed_within_1_5_ms_at_p99(tmp_path: Path) -> None:
    """A route's fixed 50 ms (the server's default is 0) is seen as >= 50 ms and <= 51.5 ms p99."""
    routes = tmp_path / "routes.toml"
    routes.write_text(
        f'[[route]]\npath = "/carts/{{id}}"\nlatency = "{LATENCY_S * 1000:g}ms"\n'
        'json = { cart = "{id}" }\n'
    )
    with MockServer(routes=routes) as server:
        assert_p99_within_bound(server, "/carts/7")
