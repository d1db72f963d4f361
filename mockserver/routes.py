"""Routes from a user's TOML file: a mock of *their* API beside the built-in fake one.

One ``[[route]]`` table per route::

    [[route]]
    method = "GET"                            # default GET
    path = "/carts/{cart_id}"                 # {name} matches one path segment
    status = 200                              # default 200
    latency = "lognormal:p50=40ms,p99=120ms"  # any latency SPEC; default: the server's
    json = { cart = "{cart_id}", items = 3 }  # body; strings may use {name} from the path
    # body_bytes = 4096                       # instead of json: deterministic JSON this size
    # fail = 0.05, ratelimit = 1, reset = true, hang = true, drip = "64/10ms": the query's faults

A route's latency and faults are the defaults of its requests: a request's own ``latency=``,
``fail=``... (query or ``X-`` header) override them. A bad file raises ``RoutesError``, one line
naming the file, the route (its number and path) and the field.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncio_perf_lab.mockserver.faults import MAX_RETRY_AFTER_S, NO_CONTROLS, Controls, parse_drip
from asyncio_perf_lab.mockserver.latency import parse_latency
from asyncio_perf_lab.mockserver.params import BadParameter

__all__ = ["FIELDS", "METHODS", "Route", "RoutesError", "parse_routes", "read_routes"]

FIELDS = (
    "method",
    "path",
    "status",
    "latency",
    "json",
    "body_bytes",
    "fail",
    "ratelimit",
    "reset",
    "hang",
    "drip",
)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
RESERVED = ("/health", "/stats", "/stats/reset")  # the server's own, uncounted routes
MAX_BODY_BYTES = 64 << 20  # the same cap as /large.json
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LITERAL_SEGMENT = re.compile(r"[^{}\s?#]*")
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class RoutesError(ValueError):
    """A routes file the server cannot serve; the message is one line naming file, route, field."""


@dataclass(frozen=True)
class Route:
    """One user route: where it answers, with what status and body, after which delay and faults."""

    method: str
    path: str
    status: int
    controls: Controls  # the route's latency and faults; a request's own controls override them
    body: Callable[[dict[str, str]], bytes] | None  # path parameters -> the JSON body
    body_bytes: int | None = None  # instead of ``body``: the sized deterministic payload

    @property
    def name(self) -> str:
        """The route's key in ``/stats``: its path, prefixed by the method unless GET."""
        return self.path if self.method == "GET" else f"{self.method} {self.path}"

    def endpoint(self) -> Callable[[Any, Any], Any]:
        """The server's endpoint ``(api, request) -> body``: the JSON with the path parameters
        filled in, or the sized payload (built once, off the loop, by the server's cache)."""
        if self.body_bytes is not None:
            size = self.body_bytes

            async def sized(api: Any, request: Any) -> bytes:
                return await api.large.get(size)

            return sized
        body = self.body
        assert body is not None
        return lambda api, request: body(request.match_info)


def read_routes(path: str | Path, builtin: Collection[str] = ()) -> list[Route]:
    """Read and check a routes file; ``builtin``: GET paths the server already serves."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise RoutesError(f"{source}: cannot read the routes file: {why}") from None
    return parse_routes(text, str(source), builtin)


def parse_routes(text: str, source: str = "<routes>", builtin: Collection[str] = ()) -> list[Route]:
    """Parse routes TOML; ``source`` names the file in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RoutesError(f"{source}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"route"})
    if unknown:
        raise RoutesError(
            f"{source}: unknown top-level key {unknown[0]!r}; allowed: [[route]] tables"
        )
    tables = data.get("route")
    if not isinstance(tables, list) or not tables:
        raise RoutesError(f"{source}: no [[route]] tables; each route is a [[route]] table")
    taken = {("GET", _shape(path)): f"the built-in route GET {path}" for path in builtin}
    taken |= {(m, path): f"the server's own {path}" for path in RESERVED for m in METHODS}
    routes = []
    for number, table in enumerate(tables, start=1):
        route = _route(table, f"{source}: route {number}")
        key = (route.method, _shape(route.path))
        if key in taken:
            where = f"{source}: route {number} ({route.method} {route.path})"
            raise RoutesError(f"{where}: duplicates {taken[key]}")
        taken[key] = f"route {number} ({route.method} {route.path})"
        routes.append(route)
    return routes


def _shape(path: str) -> str:
    """A path with its parameter names erased: /carts/{id} and /carts/{cart_id} are one route."""
    return _PARAM.sub("{}", path)


def _route(table: Any, where: str) -> Route:
    if not isinstance(table, dict):
        raise RoutesError(f"{where}: is not a table; write it as [[route]]")
    raw_path = table.get("path")
    if isinstance(raw_path, str):
        where = f"{where} ({raw_path})"
    for field in table:
        if field not in FIELDS:
            raise RoutesError(f"{where}: unknown field {field!r}; allowed: {', '.join(FIELDS)}")

    def bad(field: str, why: str) -> RoutesError:
        return RoutesError(f"{where}: {field}: {why}")

    path, params = _path(raw_path, bad)
    method = table.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise bad("method", f"{method!r} is not allowed; allowed: {', '.join(METHODS)}")
    status = table.get("status", 200)
    if type(status) is not int or not 200 <= status <= 599:
        raise bad("status", f"{status!r} is not an HTTP status; allowed: integers 200..599")
    if "json" in table and "body_bytes" in table:
        raise bad("json and body_bytes", "give one body, not both")
    body_bytes = table.get("body_bytes")
    if body_bytes is not None and (
        type(body_bytes) is not int or not 1 <= body_bytes <= MAX_BODY_BYTES
    ):
        raise bad("body_bytes", f"{body_bytes!r} is not a size; allowed: 1..{MAX_BODY_BYTES}")
    body = None if body_bytes is not None else _body(table.get("json", {}), params, bad)
    return Route(
        method=method.upper(),
        path=path,
        status=status,
        controls=_controls(table, bad),
        body=body,
        body_bytes=body_bytes,
    )


def _path(raw: Any, bad: Callable[[str, str], RoutesError]) -> tuple[str, list[str]]:
    """The checked path and its parameter names."""
    allowed = "allowed: /literal/segments and whole {name} segments, e.g. /carts/{cart_id}"
    if raw is None:
        raise bad("path", f"is missing; {allowed}")
    if not isinstance(raw, str) or not raw.startswith("/"):
        raise bad("path", f"{raw!r} must start with /; {allowed}")
    params: list[str] = []
    for segment in raw.split("/")[1:]:
        if match := _PARAM.fullmatch(segment):
            if match[1] in params:
                raise bad("path", f"{raw!r} uses {{{match[1]}}} twice; {allowed}")
            params.append(match[1])
        elif not _LITERAL_SEGMENT.fullmatch(segment):
            raise bad("path", f"{raw!r} has the segment {segment!r}; {allowed}")
    return raw, params


def _body(
    value: Any, params: list[str], bad: Callable[[str, str], RoutesError]
) -> Callable[[dict[str, str]], bytes]:
    """The route's body as a function of the path parameters (encoded once when it uses none)."""
    used = _check_json(value, bad)
    missing = sorted(used - set(params))
    if missing:
        have = ", ".join(params) or "none"
        raise bad("json", f"uses {{{missing[0]}}}, which the path lacks (path parameters: {have})")
    if not used:
        encoded = _encode(value).encode()
        return lambda match_info: encoded
    return lambda match_info: _encode(_fill(value, match_info)).encode()


def _check_json(value: Any, bad: Callable[[str, str], RoutesError]) -> set[str]:
    """Check ``value`` can be JSON; return the {name} placeholders its strings use."""
    if isinstance(value, str):
        return set(_PARAM.findall(value))
    if isinstance(value, bool | int):
        return set()
    if isinstance(value, float):
        if not math.isfinite(value):
            raise bad("json", f"{value} is not a JSON number")
        return set()
    if isinstance(value, list):
        return set().union(*(_check_json(item, bad) for item in value))
    if isinstance(value, dict):
        keys = set().union(*(_PARAM.findall(key) for key in value))
        return keys.union(*(_check_json(item, bad) for item in value.values()))
    raise bad("json", f"holds a {type(value).__name__}, which JSON cannot carry")


def _fill(value: Any, match_info: dict[str, str]) -> Any:
    """``value`` with every {name} in its strings replaced by that path parameter."""

    def sub(text: str) -> str:
        return _PARAM.sub(lambda m: match_info[m[1]], text)

    if isinstance(value, str):
        return sub(value)
    if isinstance(value, list):
        return [_fill(item, match_info) for item in value]
    if isinstance(value, dict):
        return {sub(key): _fill(item, match_info) for key, item in value.items()}
    return value


def _controls(table: dict[str, Any], bad: Callable[[str, str], RoutesError]) -> Controls:
    """The route's latency and faults, checked by the same rules as a request's own."""
    latency = None
    if "latency" in table:
        raw = table["latency"]
        if not isinstance(raw, str):
            raise bad("latency", f'{raw!r} is not a latency SPEC string like "40ms"')
        try:
            latency = parse_latency(raw)
        except ValueError as exc:
            raise bad("latency", str(exc)) from None
    fail = table.get("fail", 0.0)
    if type(fail) not in (int, float) or not 0.0 <= fail <= 1.0:
        raise bad("fail", f"{fail!r} is not a probability; allowed: 0..1, e.g. 0.05")
    retry_after = table.get("ratelimit")
    if retry_after is True:
        retry_after = 1
    elif retry_after is False:
        retry_after = None
    elif retry_after is not None and (
        type(retry_after) is not int or not 0 <= retry_after <= MAX_RETRY_AFTER_S
    ):
        raise bad(
            "ratelimit",
            f"{retry_after!r} is not allowed; allowed: true or Retry-After seconds "
            f"0..{MAX_RETRY_AFTER_S}",
        )
    switches = {}
    for field in ("reset", "hang"):
        value = table.get(field, False)
        if not isinstance(value, bool):
            raise bad(field, f"{value!r} is not allowed; allowed: true or false")
        switches[field] = value
    drip = None
    if "drip" in table:
        raw = table["drip"]
        try:
            drip = parse_drip("drip", raw if isinstance(raw, str) else repr(raw))
        except BadParameter as exc:
            raise bad("drip", f"{exc.error}; allowed: {exc.allowed}") from None
    controls = Controls(
        latency=latency, fail=float(fail), retry_after=retry_after, drip=drip, **switches
    )
    return NO_CONTROLS if controls == NO_CONTROLS else controls
