"""Request spans from aiohttp's TraceConfig: when each request started, waited, connected and ended.

Phases (seconds): ``pool_wait`` (queued for a connector slot), ``dns``, ``connect`` (new
connection), ``send`` (until the request headers are out), ``ttfb`` (request sent until response
headers: the server's time plus the network), ``body`` (headers until the body was read). Each
phase runs from one milestone to the next one present, so the phases of a request add up to
exactly its duration. A reused keep-alive connection has no connect phase at all, which is how
connection reuse becomes visible.

What TraceConfig cannot see: the body phase ends when ``read()``/``text()``/``json()`` finish
(aiohttp reports no chunk event for ``resp.content`` streaming, so a streamed body ends the span
at its headers), and sessions created without our TraceConfig are invisible;
``trace_new_sessions`` hands it to every ``aiohttp.ClientSession`` created while it is active.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
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
        self.config.on_request_redirect.append(self._on_request_redirect)
        self.config.on_request_end.append(self._on_request_end)
        self.config.on_response_chunk_received.append(self._on_chunk)
        self.config.on_request_exception.append(self._on_request_exception)

    def reset(self) -> None:
        """Forget collected spans and restart the clock (times are relative to this moment)."""
        self.spans.clear()
        self.t0 = time.perf_counter()

    def _now(self) -> float:
        return time.perf_counter() - self.t0

    def _mark(self, name: str):
        async def handler(session: Any, ctx: SimpleNamespace, params: Any) -> None:
            ctx.marks[name] = self._now()

        return handler

    async def _on_request_start(self, session: Any, ctx: SimpleNamespace, params: Any) -> None:
        ctx.start = self._now()
        ctx.marks = {}
        ctx.method = params.method
        ctx.path = urlsplit(str(params.url)).path
        ctx.span = None

    async def _on_request_redirect(self, session: Any, ctx: SimpleNamespace, params: Any) -> None:
        # One span per hop: the redirect response ends this one, the next hop starts afresh.
        now = self._now()
        ctx.marks["headers_received"] = now
        self._record(ctx, params.response.status, now)
        ctx.start, ctx.marks = now, {}
        ctx.path = urlsplit(str(params.response.headers.get("Location", ctx.path))).path

    async def _on_request_end(self, session: Any, ctx: SimpleNamespace, params: Any) -> None:
        now = self._now()
        ctx.marks["headers_received"] = now
        ctx.span = self._record(ctx, params.response.status, now)

    async def _on_chunk(self, session: Any, ctx: SimpleNamespace, params: Any) -> None:
        if getattr(ctx, "span", None) is not None:
            ctx.span["_marks"]["last_chunk"] = self._now()

    async def _on_request_exception(self, session: Any, ctx: SimpleNamespace, params: Any) -> None:
        self._record(ctx, None, self._now(), error=type(params.exception).__name__)

    def _record(self, ctx: SimpleNamespace, status: int | None, end: float, **extra: Any) -> dict:
        span: dict[str, Any] = {
            "start_s": ctx.start,
            "end_s": end,
            "method": ctx.method,
            "path": ctx.path,
            "status": status,
            "_marks": dict(ctx.marks),
            **extra,
        }
        self.spans.append(span)
        return span

    def finished_spans(self) -> list[dict[str, Any]]:
        """Spans with their phases, now that bodies have been read (the last chunk ends a span)."""
        done = []
        for span in sorted(self.spans, key=lambda s: s["start_s"]):
            marks = span["_marks"]
            out = {k: v for k, v in span.items() if k != "_marks"}
            out["end_s"] = max(span["end_s"], marks.get("last_chunk", span["end_s"]))
            out["phases"] = _phases(marks, span["start_s"], out["end_s"])
            done.append(out)
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
PHASES = (*(phase for phase, _ in _MILESTONES), "body")


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


class SessionCounter:
    """How many aiohttp sessions ``trace_new_sessions`` handed the TraceConfig to."""

    def __init__(self) -> None:
        self.sessions = 0


@contextmanager
def trace_new_sessions(tracer: RequestTracer) -> Iterator[SessionCounter]:
    """Append ``tracer.config`` to every ``aiohttp.ClientSession`` created inside the block.

    aiohttp fixes a session's trace configs when it is created, so this patches
    ``ClientSession.__init__`` (and always restores it): sessions made by the traced program see
    our TraceConfig beside their own. Sessions created before the block stay invisible.
    """
    original = aiohttp.ClientSession.__init__
    counter = SessionCounter()

    def __init__(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        configs = list(kwargs.get("trace_configs") or ())
        if tracer.config not in configs:
            configs.append(tracer.config)
        kwargs["trace_configs"] = configs
        original(self, *args, **kwargs)
        counter.sessions += 1

    aiohttp.ClientSession.__init__ = __init__  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        aiohttp.ClientSession.__init__ = original  # type: ignore[method-assign]
