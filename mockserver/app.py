"""The mock API as an aiohttp Application: routes, the per-request envelope, and /stats.

Every counted request goes through one envelope (``_envelope``) instead of middleware, because
aiohttp middleware costs a call chain per request and the envelope must stay close to a bare
handler's speed (``make bench-server``). The envelope, in order: count the
request, read its controls (only when it has a query string or a control header), run the
endpoint (which validates its own parameters, so a 400 comes back at once), hang if asked, inject
the delay, then answer: a fault, or the body (dripped if asked).

Every response carries ``X-Injected-Delay-Ms`` (the delay injected, in ms) and
``X-In-Flight-At-Arrival`` (counted requests in flight when it arrived, itself included; for the
uncounted /health, /stats and 404 it is the count it found). A user's routes file
(``mockserver.routes``) adds counted routes through the same envelope, each with its own status,
body, latency and faults. Run it with ``asyncio-lab serve``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import hdrs, web
from multidict import istr

from asyncio_perf_lab.mockserver import fakedata
from asyncio_perf_lab.mockserver.faults import (
    NO_CONTROLS,
    Controls,
    FailStreams,
    drip_body,
    hang_forever,
    parse_controls,
    reset_connection,
)
from asyncio_perf_lab.mockserver.latency import SamplerCache, parse_latency
from asyncio_perf_lab.mockserver.loop_lag import LoopLagSampler
from asyncio_perf_lab.mockserver.oversized import (
    HANDLER_ARGS,
    check_query_size,
    quiet_parse_errors,
)
from asyncio_perf_lab.mockserver.params import BadParameter, integer, number
from asyncio_perf_lab.mockserver.routes import Route, read_routes
from asyncio_perf_lab.mockserver.stats import Stats
from asyncio_perf_lab.mockserver.work import (
    WorkPool,
    work_async_sleep,
    work_blocking_sleep,
    work_cpu,
    work_cpu_offloaded,
)

MAX_ID = 999_999_999
MAX_BATCH = 1000
MAX_QUERY_CHARS = 200
MAX_LARGE_MB = 64

JSON = "application/json"
# istr names: aiohttp copies response headers into a case-insensitive dict, which skips the
# case-folding for keys that are istr already (measurably cheaper on the hot path).
CONTENT_TYPE = hdrs.CONTENT_TYPE
DELAY_HEADER = istr("X-Injected-Delay-Ms")
IN_FLIGHT_HEADER = istr("X-In-Flight-At-Arrival")
_encode = json.JSONEncoder(separators=(",", ":")).encode

Payload = Any  # a JSON-able value, or bytes already encoded
# Endpoints that only compute are plain functions: a coroutine per request would cost time.
Endpoint = Callable[["MockApi", web.Request], Payload | Awaitable[Payload]]


class MockApi:
    """The server's state: default latency, seeded streams, stats, the large-body cache, a pool."""

    def __init__(
        self, latency: str = "0ms", seed: int | None = None, routes: Sequence[Route] = ()
    ) -> None:
        self.default_latency = parse_latency(latency)
        self.seed = seed
        self.samplers = SamplerCache(seed)
        self.fails = FailStreams(seed)
        self.stats = Stats([*ROUTES, *(route.name for route in routes)])
        self.large = fakedata.LargeJson()
        self.pool = WorkPool()
        self.loop_lag = LoopLagSampler()

    def delay_for(self, controls: Controls) -> float:
        """The delay for one request (its spec or the default), added to the stats total."""
        spec = controls.latency or self.default_latency
        if spec.kind == "fixed":
            delay = spec.a
        else:
            delay = self.samplers.sampler(spec, controls.seed).sample()
        self.stats.injected_delay_s += delay
        return delay

    def reset(self) -> None:
        """Start a new window: zero the stats and restart the seeded streams."""
        self.stats.reset()
        self.samplers.reset()
        self.fails.reset()
        self.loop_lag.reset()


API_KEY = web.AppKey("mockserver.api", MockApi)


def _ms_header(delay: float) -> str:
    return f"{delay * 1000:.3f}".rstrip("0").rstrip(".") if delay else "0"


def _json_response(payload: Any, status: int, headers: dict[str, str]) -> web.Response:
    """A JSON response; ``headers`` already carry the content type and the two X- headers."""
    return web.Response(body=_encode(payload).encode(), status=status, headers=headers)


def _fault(controls: Controls, api: MockApi, headers: dict[str, str]) -> web.Response | None:
    """The error response the controls ask for, or None to send the real body."""
    if controls.status is not None:
        body = {"error": f"injected status {controls.status}", "fault": "status"}
        return _json_response(body, controls.status, headers)
    if controls.retry_after is not None:
        headers[hdrs.RETRY_AFTER] = str(controls.retry_after)
        return _json_response({"error": "injected rate limit", "fault": "ratelimit"}, 429, headers)
    if api.fails.fails(controls.fail, controls.seed):
        return _json_response({"error": "injected failure", "fault": "fail"}, 500, headers)
    return None


def _has_control_header(raw_headers: tuple[tuple[bytes, bytes], ...]) -> bool:
    # Every control header starts with X-: one prefix test per header beats 8 dict lookups.
    for name, _ in raw_headers:  # noqa: SIM110 - any(genexpr) costs more than the test itself
        if name[:2] in (b"X-", b"x-"):
            return True
    return False


def _body(payload: Payload) -> bytes:
    return payload if isinstance(payload, bytes) else _encode(payload).encode()


def _envelope(
    api: MockApi,
    route: str,
    endpoint: Endpoint,
    defaults: Controls = NO_CONTROLS,
    status: int = 200,
) -> Callable[..., Awaitable[Any]]:
    """Wrap ``endpoint`` with counting, controls, delay and faults (see the module docstring).

    ``defaults`` and ``status``: a user route's own latency and faults, and its success status.
    """
    stats = api.stats
    is_async = inspect.iscoroutinefunction(endpoint)
    nothing_to_inject = api.default_latency.is_zero

    async def handle(request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()  # injected delay counts from here (the clock loop.time() reads)
        at_arrival = stats.arrive(route)
        try:
            headers = {CONTENT_TYPE: JSON, DELAY_HEADER: "0", IN_FLIGHT_HEADER: str(at_arrival)}
            controls = defaults
            try:
                if request.query_string or _has_control_header(request.raw_headers):
                    check_query_size(request.raw_path)  # mockserver.oversized
                    controls = parse_controls(request.query, request.headers, defaults)
                payload = endpoint(api, request)
                if is_async:
                    payload = await payload
            except BadParameter as exc:
                return _json_response(exc.as_json(), 400, headers)
            if controls is NO_CONTROLS and nothing_to_inject:  # the hot path
                return web.Response(body=_body(payload), status=status, headers=headers)
            return await _deliver(api, request, controls, payload, headers, arrived, status)
        finally:
            stats.depart()

    return handle


async def _deliver(
    api: MockApi,
    request: web.Request,
    controls: Controls,
    payload: Payload,
    headers: dict[str, str],
    arrived: float,
    status: int = 200,
) -> web.StreamResponse:
    """Hang, delay, then answer with a fault or the body (dripped when asked).

    The delay is measured from the request's arrival at the handler, so the server's own work
    (parsing controls, building the payload) is inside it rather than added on top.
    """
    if controls.hang:
        await hang_forever()
    delay = api.delay_for(controls)
    if delay:
        headers[DELAY_HEADER] = _ms_header(delay)
    # Everything but the write is done before the sleep: after it, only the answer is left.
    response = None if controls.reset else _fault(controls, api, headers)
    if response is None and controls.drip is None and not controls.reset:
        response = web.Response(body=_body(payload), status=status, headers=headers)
    if delay:
        api.loop_lag.hold()  # a tick mid-sleep would make the delay late (mockserver.loop_lag)
        try:
            await asyncio.sleep(max(0.0, arrived + delay - time.monotonic()))
        finally:
            api.loop_lag.release()
    if controls.reset:
        reset_connection(request)
        return web.Response(status=500, headers=headers)  # never reaches the client
    if controls.drip is None:
        assert response is not None
        return response
    if response is None:
        stream = web.StreamResponse(status=status, headers=headers)
        return await drip_body(request, stream, _body(payload), controls.drip)
    assert isinstance(response.body, bytes)
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    return await drip_body(request, stream, response.body, controls.drip)


# --- endpoints: validate their parameters, do their work, return the payload ----------------


def _id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if raw.isascii() and raw.isdigit() and len(raw) < 10:  # the common case, read cheaply
        return int(raw)
    return integer("id", raw, 0, MAX_ID)


def user(api: MockApi, request: web.Request) -> Payload:
    """One user."""
    return fakedata.user(_id(request))


def user_posts(api: MockApi, request: web.Request) -> Payload:
    """A user's posts."""
    return fakedata.posts(_id(request))


def post_comments(api: MockApi, request: web.Request) -> Payload:
    """A post's comments."""
    return fakedata.comments(_id(request))


def users_batch(api: MockApi, request: web.Request) -> Payload:
    """Many users in one request, in the order asked: the same objects as /users/{id}."""
    allowed = f"1..{MAX_BATCH} comma-separated integers 0..{MAX_ID}, e.g. ids=1,2,3"
    raw = request.query.get("ids")
    if not raw:
        raise BadParameter("ids", "ids is required", allowed)
    parts = raw.split(",")
    if len(parts) > MAX_BATCH:
        raise BadParameter("ids", f"ids has {len(parts)} entries, above the cap", allowed)
    ids = []
    for part in parts:
        try:
            value = int(part)
        except ValueError:
            raise BadParameter("ids", f"ids entry {part!r} is not an integer", allowed) from None
        if not 0 <= value <= MAX_ID:
            raise BadParameter("ids", f"ids entry {value} is out of range", allowed)
        ids.append(value)
    return [fakedata.user(i) for i in ids]


def search(api: MockApi, request: web.Request) -> Payload:
    """Users whose name contains ``q`` (the debounce scenario types into it)."""
    q = request.query.get("q")
    allowed = f"a string of at most {MAX_QUERY_CHARS} characters (may be empty)"
    if q is None:
        raise BadParameter("q", "q is required", allowed)
    if len(q) > MAX_QUERY_CHARS:
        raise BadParameter("q", f"q has {len(q)} characters, above the cap", allowed)
    return fakedata.search(q)


async def large_json(api: MockApi, request: web.Request) -> Payload:
    """About ``mb`` MiB of records, identical for the same ``mb``, built once and cached."""
    allowed = f"a number of MiB, 0 < mb <= {MAX_LARGE_MB} (e.g. 0.5, 8)"
    mb = number("mb", request.query.get("mb"), 0.0, MAX_LARGE_MB, allowed)
    if mb <= 0:
        raise BadParameter("mb", f"mb {mb:g} is not above 0", allowed)
    return await api.large.get(round(mb * fakedata.MIB))


ROUTES: dict[str, Endpoint] = {
    "/users/{id}": user,
    "/users/{id}/posts": user_posts,
    "/posts/{id}/comments": post_comments,
    "/users": users_batch,
    "/search": search,
    "/large.json": large_json,
    "/work/async-sleep": work_async_sleep,
    "/work/blocking-sleep": work_blocking_sleep,
    "/work/cpu": work_cpu,
    "/work/cpu-offloaded": work_cpu_offloaded,
}
"""Counted routes by path template; the template is the route's name in /stats."""


# --- uncounted routes -------------------------------------------------------------------------


def _plain_headers(api: MockApi) -> dict[str, str]:
    return {CONTENT_TYPE: JSON, DELAY_HEADER: "0", IN_FLIGHT_HEADER: str(api.stats.in_flight)}


async def health(request: web.Request) -> web.Response:
    """Readiness and liveness: always 200, never delayed or faulted, not counted."""
    return _json_response({"status": "ok"}, 200, _plain_headers(request.app[API_KEY]))


async def get_stats(request: web.Request) -> web.Response:
    """The counters since the last reset (see ``mockserver.stats``).

    ``?loop_lag=1`` adds ``loop_lag``: the server loop's own lag (``mockserver.loop_lag``), sampled
    only in a window opened by ``POST /stats/reset?loop_lag=1`` (``sampling`` says whether it is).
    """
    api = request.app[API_KEY]
    body = api.stats.as_json()
    if request.query.get("loop_lag") == "1":
        body["loop_lag"] = api.loop_lag.summary()
    return _json_response(body, 200, _plain_headers(api))


async def reset_stats(request: web.Request) -> web.Response:
    """Start a new window: zero the counters and restart the seeded streams; returns the zeros.

    ``?loop_lag=1`` samples the server loop's lag during the window; without it, no timer runs:
    an idle tick chain costs every request a little (``make bench-server``).
    """
    api = request.app[API_KEY]
    api.reset()
    if request.query.get("loop_lag") == "1":
        api.loop_lag.start()
    else:
        api.loop_lag.stop()
    return _json_response(api.stats.as_json(), 200, _plain_headers(api))


async def not_found(request: web.Request) -> web.Response:
    """Unknown paths get a JSON 404 listing the routes, with the usual headers."""
    api = request.app[API_KEY]
    routes = ["/health", "/stats", *api.stats.requests]
    body = {"error": f"no route for {request.method} {request.path}", "routes": routes}
    return _json_response(body, 404, _plain_headers(api))


async def _close_pool(app: web.Application) -> None:
    app[API_KEY].pool.close()


async def _stop_loop_lag(app: web.Application) -> None:
    app[API_KEY].loop_lag.stop()


def load_routes(path: str | Path) -> list[Route]:
    """A user's routes file, checked (RoutesError: one line), clashes with built-ins included."""
    return read_routes(path, builtin=ROUTES)


def make_app(
    latency: str = "0ms", seed: int | None = None, routes: Sequence[Route] = ()
) -> web.Application:
    """Build the mock API with a default latency SPEC, seed and user routes (ValueError if bad)."""
    api = MockApi(latency, seed, routes)
    quiet_parse_errors()
    app = web.Application(handler_args=HANDLER_ARGS)
    app[API_KEY] = api
    app.router.add_get("/health", health)
    app.router.add_get("/stats", get_stats)
    app.router.add_post("/stats/reset", reset_stats)
    for route, endpoint in ROUTES.items():
        app.router.add_get(route, _envelope(api, route, endpoint), name=None)
    for user in routes:
        handler = _envelope(api, user.name, user.endpoint(), user.controls, user.status)
        app.router.add_route(user.method, user.path, handler)
    app.router.add_route("*", "/{tail:.*}", not_found)
    app.on_cleanup.append(_stop_loop_lag)
    app.on_cleanup.append(_close_pool)
    return app
