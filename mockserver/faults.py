"""Per-request controls (latency, seed, faults) from the query or ``X-`` headers, and the faults.

Each control has a query name and a header name; the query wins when both are given:

=========  ==============  =========================================================
query      header          effect
=========  ==============  =========================================================
latency    X-Latency       delay SPEC for this request (see ``mockserver.latency``)
seed       X-Seed          seeded stream for this request's delay and ``fail`` roll
fail       X-Fail          answer 500 with this probability, 0..1 (seeded)
status     X-Status        answer with this error status, 400..599
ratelimit  X-Ratelimit     answer 429 with ``Retry-After`` (value: seconds, default 1)
reset      X-Reset         reset the connection instead of answering
hang       X-Hang          never answer; the handler ends when the client gives up
drip       X-Drip          send the body in chunks: ``BYTES/MS`` (e.g. ``64/10ms``)
=========  ==============  =========================================================

Precedence when several are given: hang, reset, status, ratelimit, fail; drip shapes whatever body
is sent. Unknown query parameters are ignored, so clients may add their own (cache busters, tags).
"""

from __future__ import annotations

import asyncio
import random
import re
import socket
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from asyncio_perf_lab.mockserver.latency import LatencySpec, parse_latency
from asyncio_perf_lab.mockserver.params import BadParameter, flag, integer, number

CONTROL_HEADERS = (
    "X-Latency",
    "X-Seed",
    "X-Fail",
    "X-Status",
    "X-Ratelimit",
    "X-Reset",
    "X-Hang",
    "X-Drip",
)
MAX_SEED = 2**63 - 1
MAX_RETRY_AFTER_S = 3600
MAX_DRIP_BYTES = 1 << 20
MAX_DRIP_MS = 10_000
DRIP_ALLOWED = f"BYTES/MS, e.g. 64/10ms: 1..{MAX_DRIP_BYTES} bytes every 1..{MAX_DRIP_MS} ms"
_DRIP = re.compile(r"(?P<bytes>\d+)/(?P<ms>\d+(?:\.\d+)?)(?:ms)?")
_PARSED_SPECS: dict[str, LatencySpec] = {}  # clients repeat the same few specs: parse each once
_MAX_PARSED_SPECS = 1024


@dataclass(frozen=True, slots=True)
class Controls:
    """What one request asked for beyond its endpoint: a delay spec, a seed, and faults."""

    latency: LatencySpec | None = None
    seed: int | None = None
    fail: float = 0.0
    status: int | None = None
    retry_after: int | None = None
    reset: bool = False
    hang: bool = False
    drip: tuple[int, float] | None = None  # (bytes per chunk, seconds between chunks)


NO_CONTROLS = Controls()


def _spec(field: str, raw: str) -> LatencySpec:
    spec = _PARSED_SPECS.get(raw)
    if spec is None:
        try:
            spec = parse_latency(raw)
        except ValueError as exc:
            raise BadParameter(field, str(exc), "a latency SPEC; see the error") from None
        if len(_PARSED_SPECS) < _MAX_PARSED_SPECS:
            _PARSED_SPECS[raw] = spec
    return spec


def parse_drip(field: str, raw: str) -> tuple[int, float]:
    """``BYTES/MS`` as (bytes per chunk, seconds between chunks); BadParameter names ``field``."""
    match = _DRIP.fullmatch(raw.strip())
    if match is None:
        raise BadParameter(field, f"{field} {raw!r} is not BYTES/MS", DRIP_ALLOWED)
    size, ms = int(match["bytes"]), float(match["ms"])
    if not (1 <= size <= MAX_DRIP_BYTES and 1 <= ms <= MAX_DRIP_MS):
        raise BadParameter(field, f"{field} {raw!r} is out of range", DRIP_ALLOWED)
    return size, ms / 1000


def parse_controls(
    query: Mapping[str, str], headers: Mapping[str, str], defaults: Controls = NO_CONTROLS
) -> Controls:
    """Read every control from the query (first) or its header; BadParameter on a bad value.

    A control the request does not give keeps its value in ``defaults`` (a user route's own).
    """

    def get(name: str, header: str) -> tuple[str, str | None]:
        if name in query:
            return name, query[name]
        return header, headers.get(header)

    field, raw = get("latency", "X-Latency")
    latency = defaults.latency if raw is None else _spec(field, raw)
    field, raw = get("seed", "X-Seed")
    seed = defaults.seed if raw is None else integer(field, raw, 0, MAX_SEED)
    field, raw = get("fail", "X-Fail")
    fail = (
        defaults.fail
        if raw is None
        else number(field, raw, 0.0, 1.0, "a probability 0..1, e.g. 0.1")
    )
    field, raw = get("status", "X-Status")
    status = defaults.status if raw is None else integer(field, raw, 400, 599)
    field, raw = get("ratelimit", "X-Ratelimit")
    retry_after = defaults.retry_after
    if raw is not None:
        retry_after = 1 if raw == "" else integer(field, raw, 0, MAX_RETRY_AFTER_S)
    field, raw = get("reset", "X-Reset")
    reset = defaults.reset if raw is None else flag(field, raw)
    field, raw = get("hang", "X-Hang")
    hang = defaults.hang if raw is None else flag(field, raw)
    field, raw = get("drip", "X-Drip")
    drip = defaults.drip if raw is None else parse_drip(field, raw)
    return Controls(latency, seed, fail, status, retry_after, reset, hang, drip)


class FailStreams:
    """Seeded coins for ``fail=P``: one stream per request seed, apart from the delay streams."""

    def __init__(self, seed: int | None) -> None:
        self._seed = seed
        self._streams: dict[int | None, random.Random] = {}

    def fails(self, probability: float, seed: int | None) -> bool:
        """Flip the coin of the stream for ``seed`` (the server's seed when None)."""
        if probability <= 0.0:
            return False
        rng = self._streams.get(seed)
        if rng is None:
            base = self._seed if seed is None else seed
            rng = random.Random(None if base is None else f"{base}:fail")
            if len(self._streams) >= 1024:
                self._streams.clear()
            self._streams[seed] = rng
        return rng.random() < probability

    def reset(self) -> None:
        """Restart every stream from its seed (called on a stats reset)."""
        self._streams.clear()


def reset_connection(request: web.Request) -> None:
    """Drop the connection with a TCP RST (SO_LINGER 0), the way a crashing peer does."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def hang_forever() -> None:
    """Wait until cancelled: the server cancels it when the client disconnects or on shutdown."""
    await asyncio.get_running_loop().create_future()


async def drip_body(
    request: web.Request, response: web.StreamResponse, body: bytes, drip: tuple[int, float]
) -> web.StreamResponse:
    """Send ``body`` in chunks of ``drip[0]`` bytes, pausing ``drip[1]`` seconds between them."""
    size, pause = drip
    response.content_length = len(body)
    await response.prepare(request)
    for start in range(0, len(body), size):
        if start:
            await asyncio.sleep(pause)
        await response.write(body[start : start + size])
    await response.write_eof()
    return response
