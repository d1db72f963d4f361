"""A user's routes file: every field served by the real mock server, and every bad file refused.

The good routes run in one real server process (``MockServer(routes=...)``) driven by an aiohttp
client over real sockets; the bad files go through ``asyncio-lab serve --routes`` as a user would
type it, and must cost one line on stderr and exit code 2.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from asyncio_perf_lab.mockserver import MockServer
from tests.lab_cli import run_lab

ROUTES = """
[[route]]
path = "/carts/{cart_id}"
latency = "30ms"
json = { cart = "{cart_id}", items = [{ sku = "sku-{cart_id}", qty = 2 }], "{cart_id}" = true }

[[route]]
method = "post"
path = "/carts/{cart_id}/checkout"
status = 201
json = { order = "order-for-{cart_id}", total = 12.5 }

[[route]]
path = "/catalog"
body_bytes = 3000

[[route]]
path = "/flaky"
fail = 1.0

[[route]]
path = "/busy"
ratelimit = 7

[[route]]
path = "/gone"
reset = true

[[route]]
path = "/stuck"
hang = true

[[route]]
path = "/slow-body"
drip = "10/25ms"
json = "0123456789abcdefghijklmnopqrst"

[[route]]
path = "/teapot"
status = 418
json = { error = "short and stout" }

[[route]]
path = "/wide/{a}/{b}"
latency = "200ms"
"""


@pytest.fixture(name="api", scope="module")
def _api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    routes = tmp_path_factory.mktemp("routes") / "routes.toml"
    routes.write_text(ROUTES)
    with MockServer(routes=routes) as server:
        yield server


async def fetch(
    method: str, url: str, give_up_s: float = 10.0
) -> tuple[int, dict[str, str], bytes, float]:
    """(status, headers, body, seconds) of one request on a fresh connection."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=give_up_s)) as session:
        start = time.perf_counter()
        async with session.request(method, url) as resp:
            body = await resp.read()
            return resp.status, dict(resp.headers), body, time.perf_counter() - start


@pytest.mark.asyncio
async def test_path_parameters_fill_the_json_body_values_and_keys(api: MockServer) -> None:
    """{cart_id} in the route's JSON strings (nested, and in a key) becomes the requested id."""
    status, _, body, _ = await fetch("GET", f"{api.url}/carts/c-42")
    assert status == 200
    items = [{"sku": "sku-c-42", "qty": 2}]
    assert json.loads(body) == {"cart": "c-42", "items": items, "c-42": True}


@pytest.mark.asyncio
async def test_a_route_latency_delays_it_and_a_request_latency_overrides_it(
    api: MockServer,
) -> None:
    """The route's 30 ms is injected; ``?latency=0`` on the request sends it at once instead."""
    _, headers, _, elapsed = await fetch("GET", f"{api.url}/carts/1")
    assert headers["X-Injected-Delay-Ms"] == "30"
    assert elapsed >= 0.030
    _, headers, _, elapsed = await fetch("GET", f"{api.url}/carts/1?latency=0")
    assert headers["X-Injected-Delay-Ms"] == "0"
    assert elapsed < 0.030


@pytest.mark.asyncio
async def test_method_and_status_are_the_routes_own(api: MockServer) -> None:
    """A POST route answers POST with its status 201 and body, and not GET (404)."""
    status, _, body, _ = await fetch("POST", f"{api.url}/carts/9/checkout")
    assert (status, json.loads(body)) == (201, {"order": "order-for-9", "total": 12.5})
    status, _, _, _ = await fetch("GET", f"{api.url}/carts/9/checkout")
    assert status == 404
    status, _, body, _ = await fetch("GET", f"{api.url}/teapot")
    assert (status, json.loads(body)) == (418, {"error": "short and stout"})


@pytest.mark.asyncio
async def test_body_bytes_is_deterministic_json_of_about_that_size(api: MockServer) -> None:
    """body_bytes = 3000 gives the same valid JSON every time, 3000 bytes up to one record more."""
    first = (await fetch("GET", f"{api.url}/catalog"))[2]
    second = (await fetch("GET", f"{api.url}/catalog"))[2]
    assert first == second
    assert 3000 <= len(first) < 3400
    assert isinstance(json.loads(first), list)


@pytest.mark.asyncio
async def test_fail_and_ratelimit_answer_like_the_query_faults(api: MockServer) -> None:
    """fail = 1.0 answers 500; ratelimit = 7 answers 429 with Retry-After: 7."""
    status, _, body, _ = await fetch("GET", f"{api.url}/flaky")
    assert (status, json.loads(body)["fault"]) == (500, "fail")
    status, headers, _, _ = await fetch("GET", f"{api.url}/busy")
    assert (status, headers["Retry-After"]) == (429, "7")


@pytest.mark.asyncio
async def test_reset_drops_the_connection_and_hang_never_answers(api: MockServer) -> None:
    """reset = true ends in a connection error; hang = true runs into the client's timeout."""
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch("GET", f"{api.url}/gone")
    with pytest.raises(asyncio.TimeoutError):
        await fetch("GET", f"{api.url}/stuck", give_up_s=0.3)


@pytest.mark.asyncio
async def test_drip_sends_the_body_in_timed_chunks(api: MockServer) -> None:
    """drip = "10/25ms" sends the 32-byte body in 4 chunks, 3 pauses of 25 ms between them."""
    status, _, body, elapsed = await fetch("GET", f"{api.url}/slow-body")
    assert (status, json.loads(body)) == (200, "0123456789abcdefghijklmnopqrst")
    assert elapsed >= 0.075


@pytest.mark.asyncio
async def test_stats_count_user_routes_with_their_max_in_flight(api: MockServer) -> None:
    """Eight overlapping requests to a user route show as 8 requests and max in flight 8."""
    api.reset_stats()
    async with aiohttp.ClientSession() as session:

        async def one(i: int) -> int:
            async with session.get(f"{api.url}/wide/{i}/x") as resp:
                return resp.status

        assert await asyncio.gather(*(one(i) for i in range(8))) == [200] * 8
    stats = api.stats()
    assert stats["requests"]["/wide/{a}/{b}"] == 8
    assert stats["max_in_flight"] == 8
    assert stats["requests"]["POST /carts/{cart_id}/checkout"] == 0  # listed, keyed by method


BAD_FILES = {
    "toml_syntax": ('[[route]]\npath = "/a"\nstatus = \n', "not valid TOML", "line 3"),
    "unknown_field": ('[[route]]\npath = "/a"\nlatncy = "5ms"\n', "route 1 (/a)", "'latncy'"),
    "bad_latency": ('[[route]]\npath = "/a"\nlatency = "fast"\n', "route 1 (/a)", "latency"),
    "duplicate": (
        '[[route]]\npath = "/c/{id}"\n[[route]]\npath = "/c/{cart}"\n',
        "route 2 (GET /c/{cart})",
        "duplicates route 1",
    ),
    "no_leading_slash": ('[[route]]\npath = "carts"\n', "route 1 (carts)", "path"),
    "json_and_body_bytes": (
        '[[route]]\npath = "/a"\njson = {}\nbody_bytes = 10\n',
        "route 1 (/a)",
        "json and body_bytes",
    ),
    "builtin_clash": ('[[route]]\npath = "/users/{uid}"\n', "route 1", "built-in route"),
    "unknown_placeholder": (
        '[[route]]\npath = "/a/{id}"\njson = { x = "{idd}" }\n',
        "route 1 (/a/{id})",
        "json",
    ),
    "bad_status": ('[[route]]\npath = "/a"\nstatus = 99\n', "route 1 (/a)", "status"),
    "bad_method": ('[[route]]\npath = "/a"\nmethod = "FETCH"\n', "route 1 (/a)", "method"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_routes_file_is_one_line_naming_file_route_and_field_with_exit_2(
    tmp_path: Path, case: str
) -> None:
    """Each bad routes file stops `serve` with one line naming the file, the route and the field."""
    text, where, what = BAD_FILES[case]
    routes = tmp_path / f"{case}.toml"
    routes.write_text(text)
    proc = run_lab("serve", "--routes", str(routes), timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(routes) in lines[0]
    assert where in lines[0]
    assert what in lines[0]
    assert "Traceback" not in proc.stderr
