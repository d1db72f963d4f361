"""The mock API from a real aiohttp client: endpoints, stats, headers, latency, faults, 400s."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from asyncio_perf_lab.mockserver import LatencySampler, MockServer, fakedata, parse_latency
from asyncio_perf_lab.mockserver.faults import CONTROL_HEADERS


async def get(
    http: aiohttp.ClientSession, url: str, **kwargs: Any
) -> tuple[int, Any, aiohttp.ClientResponse]:
    """GET ``url``; return (status, decoded JSON body, response)."""
    async with http.get(url, **kwargs) as resp:
        body = await resp.read()
        return resp.status, json.loads(body), resp


def delay_ms(resp: aiohttp.ClientResponse) -> float:
    return float(resp.headers["X-Injected-Delay-Ms"])


# --- endpoints ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_health_answers_ok(mock_server: MockServer, http: aiohttp.ClientSession) -> None:
    """/health answers 200 {"status": "ok"}."""
    assert (await get(http, f"{mock_server.url}/health"))[:2] == (200, {"status": "ok"})


@pytest.mark.asyncio
async def test_fake_data_is_a_deterministic_function_of_the_id(
    mock_server: MockServer, http: aiohttp.ClientSession
) -> None:
    """Users, posts and comments are the same on every call and equal to the fakedata functions."""
    url = mock_server.url
    for _ in range(2):
        assert (await get(http, f"{url}/users/42"))[1] == fakedata.user(42)
        assert (await get(http, f"{url}/users/42/posts"))[1] == fakedata.posts(42)
        assert (await get(http, f"{url}/posts/4201/comments"))[1] == fakedata.comments(4201)
    user = (await get(http, f"{url}/users/42"))[1]
    assert set(user) == {"id", "name", "email"}
    posts = (await get(http, f"{url}/users/42/posts"))[1]
    assert all(set(p) == {"id", "user_id", "title"} and p["user_id"] == 42 for p in posts)
    comments = (await get(http, f"{url}/posts/4201/comments"))[1]
    assert all(set(c) == {"id", "post_id", "body"} and c["post_id"] == 4201 for c in comments)


@pytest.mark.asyncio
async def test_batch_returns_the_single_user_objects_in_order(
    mock_server: MockServer, http: aiohttp.ClientSession
) -> None:
    """/users?ids=3,1,2 returns exactly what /users/3, /users/1 and /users/2 return, in order."""
    status, batch, _ = await get(http, f"{mock_server.url}/users?ids=3,1,2")
    singles = [(await get(http, f"{mock_server.url}/users/{i}"))[1] for i in (3, 1, 2)]
    assert status == 200
    assert batch == singles


@pytest.mark.asyncio
async def test_search_echoes_q_and_matches_names(
    mock_server: MockServer, http: aiohttp.ClientSession
) -> None:
    """/search returns {"q", "results"}; every result's name contains q; an empty q finds none."""
    status, body, _ = await get(http, f"{mock_server.url}/search", params={"q": "ada"})
    assert status == 200
    assert body["q"] == "ada"
    assert body["results"]
    assert all("ada" in r["name"].lower() for r in body["results"])
    assert (await get(http, f"{mock_server.url}/search?q="))[1] == {"q": "", "results": []}


@pytest.mark.asyncio
async def test_large_json_is_deterministic_valid_and_sized(
    mock_server: MockServer, http: aiohttp.ClientSession
) -> None:
    """/large.json?mb=N is a JSON list of records of about N MiB, byte-identical on every call."""
    url = f"{mock_server.url}/large.json?mb=0.25"
    bodies = []
    for _ in range(2):
        async with http.get(url) as resp:
            assert resp.status == 200
            bodies.append(await resp.read())
    assert bodies[0] == bodies[1]
    assert 0.25 * fakedata.MIB <= len(bodies[0]) < 0.25 * fakedata.MIB + 1024
    records = json.loads(bodies[0])
    assert isinstance(records, list)
    assert records[0] == fakedata.large_record(1)


@pytest.mark.asyncio
async def test_large_json_above_the_cap_is_a_clear_400(
    mock_server: MockServer, http: aiohttp.ClientSession
) -> None:
    """mb above 64 is refused with a 400 naming mb and the cap, before anything is built."""
    status, body, _ = await get(http, f"{mock_server.url}/large.json?mb=65")
    assert status == 400
    assert body["field"] == "mb"
    assert "64" in body["allowed"]


async def _timed_pair(http: aiohttp.ClientSession, url: str) -> float:
    start = time.perf_counter()
    results = await asyncio.gather(get(http, url), get(http, url))
    assert all(status == 200 for status, _, _ in results)
    assert all(body == {"work_ms": 100} for _, body, _ in results)
    return time.perf_counter() - start


@pytest.mark.asyncio
async def test_async_sleep_overlaps_but_blocking_work_serializes(
    mock_server: MockServer, http: aiohttp.ClientSession
) -> None:
    """Two concurrent 100 ms async sleeps take ~100 ms; blocking sleep or CPU on the loop 200 ms."""
    url = mock_server.url
    assert await _timed_pair(http, f"{url}/work/async-sleep?ms=100") < 0.19
    assert await _timed_pair(http, f"{url}/work/blocking-sleep?ms=100") >= 0.2
    assert await _timed_pair(http, f"{url}/work/cpu?ms=100") >= 0.2


@pytest.mark.asyncio
async def test_cpu_offloaded_work_runs_in_the_pool_and_answers_the_same(
    mock_server: MockServer, http: aiohttp.ClientSession
) -> None:
    """/work/cpu-offloaded does the work in a process pool and returns what /work/cpu returns."""
    status, body, _ = await get(http, f"{mock_server.url}/work/cpu-offloaded?ms=20")
    assert (status, body) == (200, {"work_ms": 20})


@pytest.mark.asyncio
async def test_unknown_path_is_a_json_404(
    mock_server: MockServer, http: aiohttp.ClientSession
) -> None:
    """An unknown path answers 404 JSON that lists the routes."""
    status, body, _ = await get(http, f"{mock_server.url}/nope")
    assert status == 404
    assert "/users/{id}" in body["routes"]


# --- stats and headers -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_stats_count_routes_but_not_health_or_stats(
    mock_server: MockServer, http: aiohttp.ClientSession
) -> None:
    """/stats counts requests per route since the reset; /health and /stats are not counted."""
    url = mock_server.url
    async with http.post(f"{url}/stats/reset") as resp:
        assert resp.status == 200
    for path in ("/users/1", "/users/2", "/users/1/posts", "/health", "/stats", "/search?q=x"):
        await get(http, f"{url}{path}")
    await get(http, f"{url}/users/1?latency=20ms")
    stats = (await get(http, f"{url}/stats"))[1]
    assert set(stats) == {
        "requests",
        "total_requests",
        "in_flight",
        "max_in_flight",
        "injected_delay_s",
    }
    assert stats["requests"]["/users/{id}"] == 3
    assert stats["requests"]["/users/{id}/posts"] == 1
    assert stats["requests"]["/search"] == 1
    assert stats["total_requests"] == 5
    assert stats["in_flight"] == 0
    assert stats["max_in_flight"] == 1
    assert stats["injected_delay_s"] == pytest.approx(0.020)


def test_sync_stats_helpers_read_and_reset(mock_server: MockServer) -> None:
    """MockServer.stats() and reset_stats() work without an event loop."""
    mock_server.reset_stats()
    stats = mock_server.stats()
    assert stats["total_requests"] == 0
    assert stats["injected_delay_s"] == 0.0


@pytest.mark.asyncio
async def test_stats_can_show_the_server_loop_lag_of_a_blocking_handler(
    mock_server: MockServer, http: aiohttp.ClientSession
) -> None:
    """/stats?loop_lag=1 adds the server's own loop lag: a 60 ms time.sleep shows as >= 50 ms."""
    mock_server.reset_stats(loop_lag=True)
    await get(http, f"{mock_server.url}/work/blocking-sleep?ms=60")
    await asyncio.sleep(0.02)  # let the held-back tick run and record the stall
    lag = (await get(http, f"{mock_server.url}/stats?loop_lag=1"))[1]["loop_lag"]
    assert lag["max_ms"] >= 50
    assert "loop_lag" not in (await get(http, f"{mock_server.url}/stats"))[1]


@pytest.mark.parametrize(
    ("path", "injected_ms", "counted"),
    [
        ("/health", 0, False),
        ("/stats", 0, False),
        ("/users/1", 0, True),
        ("/users/1?latency=7ms", 7, True),
        ("/users/x", 0, True),
        ("/users/1?status=503", 0, True),
        ("/users/1?status=503&latency=3ms", 3, True),
        ("/users/1?ratelimit", 0, True),
        ("/users/1?drip=32/1", 0, True),
        ("/nope", 0, False),
    ],
)
@pytest.mark.asyncio
async def test_every_response_carries_delay_and_in_flight_headers(
    mock_server: MockServer,
    http: aiohttp.ClientSession,
    path: str,
    injected_ms: float,
    counted: bool,
) -> None:
    """Success, 400, fault, dripped, uncounted and 404 responses all carry the two X- headers:
    the delay the server injected, and a counted request finds at least itself in flight."""
    async with http.get(f"{mock_server.url}{path}") as resp:
        await resp.read()
        assert delay_ms(resp) == injected_ms
        in_flight = int(resp.headers["X-In-Flight-At-Arrival"])  # present, an integer
        if counted:
            assert in_flight >= 1, "a counted request finds itself in flight"


# --- latency -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_latency_from_query_and_header_query_wins(
    mock_server: MockServer, http: aiohttp.ClientSession
) -> None:
    """latency= and X-Latency each set the delay; with both, the query wins."""
    url = f"{mock_server.url}/users/1"
    start = time.perf_counter()
    _, _, resp = await get(http, f"{url}?latency=30ms")
    assert time.perf_counter() - start >= 0.030
    assert delay_ms(resp) == 30
    _, _, resp = await get(http, url, headers={"X-Latency": "20ms"})
    assert delay_ms(resp) == 20
    _, _, resp = await get(http, f"{url}?latency=10ms", headers={"X-Latency": "20ms"})
    assert delay_ms(resp) == 10


@pytest.mark.asyncio
async def test_seeded_latency_replays_after_reset_and_matches_the_sampler(
    mock_server: MockServer, http: aiohttp.ClientSession
) -> None:
    """Same seed, same sequence: after a reset the delays repeat; LatencySampler predicts them."""
    spec = "uniform:1ms..30ms"
    url = f"{mock_server.url}/users/1"

    async def run(seed: int) -> list[float]:
        delays = []
        for _ in range(5):
            _, _, resp = await get(http, url, params={"latency": spec, "seed": str(seed)})
            delays.append(delay_ms(resp))
        return delays

    mock_server.reset_stats()
    first = await run(11)
    mock_server.reset_stats()
    assert await run(11) == first
    assert await run(12) != first
    sampler = LatencySampler(parse_latency(spec), 11)
    assert first == [pytest.approx(sampler.sample() * 1000, abs=0.001) for _ in range(5)]


@pytest.mark.asyncio
async def test_server_default_latency_applies_without_query(http: aiohttp.ClientSession) -> None:
    """--latency sets the default for requests that do not ask for their own."""
    async with MockServer(latency="40ms") as server:
        _, _, resp = await get(http, f"{server.url}/users/1")
        assert delay_ms(resp) == 40
        _, _, resp = await get(http, f"{server.url}/users/1?latency=0ms")
        assert delay_ms(resp) == 0


# --- faults ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_fail_returns_500_with_its_probability_reproducibly(
    mock_server: MockServer, http: aiohttp.ClientSession
) -> None:
    """fail=1 always 500s, fail=0 never, fail=0.5 with a seed mixes and repeats after a reset."""
    url = f"{mock_server.url}/users/1"
    status, body, _ = await get(http, f"{url}?fail=1")
    assert (status, body["fault"]) == (500, "fail")
    assert (await get(http, f"{url}?fail=0"))[0] == 200

    async def pattern() -> list[int]:
        return [(await get(http, f"{url}?fail=0.5&seed=5"))[0] for _ in range(40)]

    mock_server.reset_stats()
    first = await pattern()
    assert set(first) == {200, 500}
    assert 8 <= first.count(500) <= 32
    mock_server.reset_stats()
    assert await pattern() == first


@pytest.mark.parametrize("status", [400, 404, 418, 500, 503, 599])
@pytest.mark.asyncio
async def test_status_returns_that_error_status(
    mock_server: MockServer, http: aiohttp.ClientSession, status: int
) -> None:
    """status=N answers with N, from the query or from X-Status."""
    assert (await get(http, f"{mock_server.url}/users/1?status={status}"))[0] == status
    headers = {"X-Status": str(status)}
    assert (await get(http, f"{mock_server.url}/users/1", headers=headers))[0] == status


@pytest.mark.asyncio
async def test_ratelimit_returns_429_with_retry_after(
    mock_server: MockServer, http: aiohttp.ClientSession
) -> None:
    """ratelimit answers 429 with Retry-After (1 s by default, or the seconds asked for)."""
    status, body, resp = await get(http, f"{mock_server.url}/users/1?ratelimit")
    assert (status, resp.headers["Retry-After"], body["fault"]) == (429, "1", "ratelimit")
    _, _, resp = await get(http, f"{mock_server.url}/users/1?ratelimit=7")
    assert resp.headers["Retry-After"] == "7"


@pytest.mark.asyncio
async def test_reset_drops_the_connection(
    mock_server: MockServer, http: aiohttp.ClientSession
) -> None:
    """reset closes the connection abruptly: the client gets a connection error, no response."""
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(http, f"{mock_server.url}/users/1?reset")
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(http, f"{mock_server.url}/users/1", headers={"X-Reset": "1"})
    assert (await get(http, f"{mock_server.url}/health"))[0] == 200


@pytest.mark.asyncio
async def test_hang_never_answers_and_ends_when_the_client_gives_up(
    mock_server: MockServer, http: aiohttp.ClientSession
) -> None:
    """hang makes the client time out; once it gives up the server no longer counts it in flight."""
    mock_server.reset_stats()
    timeout = aiohttp.ClientTimeout(total=0.3)
    with pytest.raises(TimeoutError):
        await get(http, f"{mock_server.url}/users/1?hang", timeout=timeout)
    deadline = time.monotonic() + 5
    while mock_server.stats()["in_flight"] and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stats = mock_server.stats()
    assert (stats["in_flight"], stats["max_in_flight"]) == (0, 1)


@pytest.mark.asyncio
async def test_drip_sends_the_same_body_slowly(
    mock_server: MockServer, http: aiohttp.ClientSession
) -> None:
    """drip=BYTES/MS sends the usual body in BYTES chunks, one every MS milliseconds."""
    url = f"{mock_server.url}/users/1/posts"
    normal = (await get(http, url))[1]
    size = len(json.dumps(normal, separators=(",", ":")))
    chunks = -(-size // 64)
    start = time.perf_counter()
    status, dripped, _ = await get(http, f"{url}?drip=64/20ms")
    elapsed = time.perf_counter() - start
    assert (status, dripped) == (200, normal)
    assert elapsed >= (chunks - 1) * 0.020


def test_every_control_header_starts_with_x() -> None:
    """The hot path skips control parsing unless a header starts with X-: every control does."""
    assert all(name.startswith("X-") for name in CONTROL_HEADERS)


# --- bad parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers", "field"),
    [
        ("/users/abc", {}, "id"),
        ("/users/-1/posts", {}, "id"),
        ("/posts/1x/comments", {}, "id"),
        ("/users/1?latency=fast", {}, "latency"),
        ("/users/1?latency=0.5ms", {}, "latency"),
        ("/users/1?latency=2min", {}, "latency"),
        ("/users/1", {"X-Latency": "nope"}, "X-Latency"),
        ("/users/1?seed=x", {}, "seed"),
        ("/users/1?fail=2", {}, "fail"),
        ("/users/1?fail=often", {}, "fail"),
        ("/users/1?status=200", {}, "status"),
        ("/users/1?status=abc", {}, "status"),
        ("/users/1", {"X-Status": "99"}, "X-Status"),
        ("/users/1?ratelimit=-1", {}, "ratelimit"),
        ("/users/1?reset=maybe", {}, "reset"),
        ("/users/1?hang=maybe", {}, "hang"),
        ("/users/1?drip=abc", {}, "drip"),
        ("/users/1?drip=0/10ms", {}, "drip"),
        ("/users/1?drip=64/0.5ms", {}, "drip"),
        ("/users", {}, "ids"),
        ("/users?ids=1,x", {}, "ids"),
        ("/users?ids=" + ",".join(["1"] * 1001), {}, "ids"),
        ("/search", {}, "q"),
        ("/search?q=" + "a" * 201, {}, "q"),
        ("/large.json", {}, "mb"),
        ("/large.json?mb=0", {}, "mb"),
        ("/large.json?mb=big", {}, "mb"),
        ("/large.json?mb=65", {}, "mb"),
        ("/work/async-sleep", {}, "ms"),
        ("/work/async-sleep?ms=-1", {}, "ms"),
        ("/work/blocking-sleep?ms=20000", {}, "ms"),
        ("/work/cpu?ms=nan", {}, "ms"),
        ("/work/cpu-offloaded?ms=x", {}, "ms"),
    ],
)
@pytest.mark.asyncio
async def test_bad_parameter_gets_a_400_naming_the_field(
    mock_server: MockServer,
    http: aiohttp.ClientSession,
    path: str,
    headers: dict[str, str],
    field: str,
) -> None:
    """Every bad parameter answers 400 JSON {"error", "field", "allowed"} naming that field."""
    status, body, _ = await get(http, f"{mock_server.url}{path}", headers=headers)
    assert status == 400
    assert set(body) == {"error", "field", "allowed"}
    assert body["field"] == field
    assert body["error"]
    assert body["allowed"]
