"""Request spans from aiohttp's TraceConfig: when each request started, waited, connected and ended.

Phases (seconds): ``pool_wait`` (queued for a connector slot), ``dns``, ``connect`` (new
connection, DNS included), ``ttfb`` (request sent until response headers: the server's time plus
the network), ``body`` (headers until the last body chunk). A reused keep-alive connection has no
connect phase at all, which is how connection reuse becomes visible.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import aiohttp


class RequestTracer:
    """Collects one span per request made through sessions that carry ``self.config``."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.t0 = time.perf_counter()
        self.config = aiohttp.TraceConfig()
        self.config.on_request_start.append(self._on_request_start)
        self.config.on_connection_queued_start.append(self._mark("queued_start"))
        self.config.on_connection_queued_end.append(self._mark("queued_end"))
        self.config.on_connection_create_start.append(self._mark("connect_start"))
        self.config.on_connection_create_end.append(self._mark("connect_end"))
        self.config.on_dns_resolvehost_start.append(self._mark("dns_start"))
        self.config.on_dns_resolvehost_end.append(self._mark("dns_end"))
        self.config.on_request_headers_sent.append(self._mark("headers_sent"))
        self.config.on_request_end.append(self._on_request_end)
        self.config.on_response_chunk_received.append(self._mark("last_chunk"))
        self.config.on_request_exception.append(self._on_request_exception)

    def reset(self) -> None:
        """Forget collected spans and restart the clock (times are relative to this moment)."""
        self.spans.clear()
        self.t0 = time.perf_counter()

    def _now(self) -> float:
        return time.perf_counter() - self.t0

    def _mark(self, name: str):
        async def handler(session: Any, ctx: SimpleNamespace, params: Any) -> None:
            setattr(ctx, name, self._now())
            if name == "last_chunk" and getattr(ctx, "span", None) is not None:
                ctx.span["marks"]["last_chunk"] = ctx.last_chunk

        return handler

    async def _on_request_start(self, session: Any, ctx: SimpleNamespace, params: Any) -> None:
        ctx.start = self._now()
        ctx.method = params.method
        ctx.path = urlsplit(str(params.url)).path
        ctx.span = None

    async def _on_request_end(self, session: Any, ctx: SimpleNamespace, params: Any) -> None:
        ctx.headers_received = self._now()
        ctx.span = self._record(ctx, params.response.status, ctx.headers_received)

    async def _on_request_exception(self, session: Any, ctx: SimpleNamespace, params: Any) -> None:
        self._record(ctx, None, self._now(), error=type(params.exception).__name__)

    def _record(self, ctx: SimpleNamespace, status: int | None, end: float, **extra: Any) -> dict:
        marks = {k: v for k, v in vars(ctx).items() if isinstance(v, float)}
        span: dict[str, Any] = {
            "start_s": ctx.start,
            "end_s": end,
            "method": ctx.method,
            "path": ctx.path,
            "status": status,
            "marks": marks,
            **extra,
        }
        self.spans.append(span)
        return span

    def finished_spans(self) -> list[dict[str, Any]]:
        """Spans with their phases, now that bodies have been read (the last chunk ends a span)."""
        done = []
        for span in sorted(self.spans, key=lambda s: s["start_s"]):
            marks = span.pop("marks", None)
            if marks is not None:
                span["end_s"] = max(span["end_s"], marks.get("last_chunk", span["end_s"]))
                span["phases"] = _phases(marks, span["start_s"], span["end_s"])
            done.append(span)
        return done


# Consecutive milestones of a request; each phase is the time from one present milestone to the
# next, so the phases of a request add up to exactly its duration.
_MILESTONES = (
    ("pool_wait", "queued_end"),
    ("dns", "dns_end"),
    ("connect", "connect_end"),
    ("send", "headers_sent"),
    ("ttfb", "headers_received"),
)


def _phases(marks: dict[str, float], start: float, end: float) -> dict[str, float]:
    phases: dict[str, float] = {}
    previous = start
    for phase, milestone in _MILESTONES:
        at = marks.get(milestone)
        if at is not None and at >= previous:
            phases[phase] = at - previous
            previous = at
    phases["body"] = max(0.0, end - previous)  # headers to last chunk (0 if no body)
    return phases
