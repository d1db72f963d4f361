"""Server-side counters: requests per route, in flight now and at most, injected delay in total.

``max_in_flight`` is how a scenario proves it really had N requests open at once: the client can
only claim concurrency, the server sees it. The counters are plain ints bumped on the loop thread
(no locks, no clocks), because they sit on every request's hot path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class Stats:
    """The counters behind ``GET /stats``; ``reset()`` starts a new measurement window."""

    __slots__ = ("in_flight", "injected_delay_s", "max_in_flight", "requests")

    def __init__(self, routes: Iterable[str]) -> None:
        self.requests: dict[str, int] = dict.fromkeys(routes, 0)
        self.in_flight = 0
        self.max_in_flight = 0
        self.injected_delay_s = 0.0

    def arrive(self, route: str) -> int:
        """Count a request of ``route`` and return the in-flight count including it."""
        self.requests[route] += 1
        self.in_flight = in_flight = self.in_flight + 1
        if in_flight > self.max_in_flight:
            self.max_in_flight = in_flight
        return in_flight

    def depart(self) -> None:
        """A counted request has finished (answered, failed or abandoned)."""
        self.in_flight -= 1

    def reset(self) -> None:
        """Zero the window; requests still in flight stay counted as in flight and as the max."""
        self.requests = dict.fromkeys(self.requests, 0)
        self.max_in_flight = self.in_flight
        self.injected_delay_s = 0.0

    def as_json(self) -> dict[str, Any]:
        """The ``GET /stats`` body."""
        return {
            "requests": dict(self.requests),
            "total_requests": sum(self.requests.values()),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "injected_delay_s": round(self.injected_delay_s, 6),
        }
