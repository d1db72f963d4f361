"""Parsing a large JSON response: on the loop vs to_thread vs a process pool vs orjson

One response of several MiB (a list of user records), reduced to a small summary. Parsing it is
pure CPU work: ``resp.json()`` does it on the loop, freezing every other coroutine for the whole
parse. ``to_thread(json.loads)`` looks like the fix but the parser holds the GIL from start to
end, so the loop is frozen just as long. A process pool that parses *and summarises* in the
child leaves the loop free; one that ships the parsed object back pays the same stall again to
unpickle it. orjson parses faster, which shortens the stall without removing it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import pickle
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import orjson

from asyncio_perf_lab.scenarios.calibration import TRIES, Site, cpu_seconds, in_lean_process
from asyncio_perf_lab.scenarios.core import Context, Machine, Variant

QUESTION = (
    "Parsing an 8 MiB JSON response freezes the loop: does `asyncio.to_thread(json.loads)` "
    "fix it, and what does?"
)
LESSON = (
    "`resp.json()` stalls the loop for the whole decode and parse. `to_thread(json.loads)` "
    "stalls it about as long: json.loads is C code that never releases the GIL, so the loop "
    "thread cannot run until the parse ends; threads only help code that waits or releases "
    "the GIL. A process pool removes the stall if the child returns something small: parsing "
    "and summarising in the child leaves the loop free. Returning the parsed object instead "
    "stalls the loop again while the executor unpickles it, which costs about as much as "
    "parsing. orjson shortens the stall only modestly on records like these (object creation "
    "dominates): it is still a stall on the loop. The loop-lag figures of this report show "
    "each stall as measured in this run."
)
LATENCY = "20ms"
# The headline claims the stall only: every place the parse runs costs about the same time.
TEACHES: tuple[str, ...] = ("loop_lag",)

MB = 8  # MiB of JSON: a parse of the order of 100 ms on one core


@dataclass(frozen=True)
class Workload:
    mb: float = MB


TINY = Workload(mb=0.5)


def summarize(records: list[dict[str, Any]]) -> dict[str, int]:
    """The small result every variant returns: a count and checksums over a few fields."""
    return {
        "records": len(records),
        "id_sum": sum(r["id"] for r in records),
        "active": sum(1 for r in records if r["active"]),
        "email_chars": sum(len(r["email"]) for r in records),
    }


def parse_and_summarize(body: bytes) -> dict[str, int]:
    """Parse and summarise in one call, so a child process sends back only the summary."""
    return summarize(json.loads(body))


async def _body(ctx: Context) -> bytes:
    async with ctx.session.get(ctx.url("/large.json", mb=ctx.workload.mb)) as resp:
        resp.raise_for_status()
        return await resp.read()


async def on_loop(ctx: Context) -> dict[str, int]:
    """Decode the response with ``await resp.json()``: json.loads runs on the loop."""
    return summarize(await ctx.get_json("/large.json", mb=ctx.workload.mb))


async def to_thread(ctx: Context) -> dict[str, int]:
    """Read the bytes, then parse them with ``asyncio.to_thread(json.loads, body)``."""
    body = await _body(ctx)
    return summarize(await asyncio.to_thread(json.loads, body))


async def process_pool_object(ctx: Context) -> dict[str, int]:
    """Parse in the process pool and send the whole parsed list back to summarise here."""
    body = await _body(ctx)
    records = await asyncio.get_running_loop().run_in_executor(ctx.process_pool, json.loads, body)
    return summarize(records)


async def process_pool_summary(ctx: Context) -> dict[str, int]:
    """Parse and summarise in the process pool: only a four-number summary comes back."""
    body = await _body(ctx)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(ctx.process_pool, parse_and_summarize, body)


async def orjson_on_loop(ctx: Context) -> dict[str, int]:
    """Read the bytes and parse them with orjson, still on the loop."""
    return summarize(orjson.loads(await _body(ctx)))


def _server_body(site: Site, mb: float) -> bytes:
    """The very bytes the run's mock server sends for ``mb`` (no proxy: it is on loopback)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(site.url(f"/large.json?mb={mb}"), timeout=60) as resp:
        return resp.read()


def _loopback_transfer_s(body: bytes) -> float:
    """Seconds to push ``body`` through a loopback TCP connection (sender in a thread)."""

    def send(address: tuple[str, int]) -> None:
        with socket.create_connection(address) as client:
            client.sendall(body)

    with socket.create_server(("127.0.0.1", 0)) as listener:
        sender = threading.Thread(target=send, args=(listener.getsockname(),))
        start = time.perf_counter()
        sender.start()
        conn, _ = listener.accept()
        with conn:
            received = 0
            while received < len(body):
                chunk = conn.recv(1 << 20)
                if not chunk:
                    break
                received += len(chunk)
        elapsed = time.perf_counter() - start
        sender.join()
    return elapsed


def _measure(w: Workload, site: Site) -> dict[str, float]:
    body = _server_body(site, w.mb)
    records = json.loads(body)
    pickled = pickle.dumps(records)
    # The calibration's own live copies are not the variant's: out of the collections the
    # timed parses run, as the worker has no such copies to walk.
    gc.freeze()
    return {
        "transfer": min(_loopback_transfer_s(body) for _ in range(TRIES)),
        "json_parse": cpu_seconds(lambda: json.loads(body)),
        "orjson_parse": cpu_seconds(lambda: orjson.loads(body)),
        "pickle_roundtrip": cpu_seconds(lambda: pickle.dumps(records))
        + cpu_seconds(lambda: pickle.loads(pickled)),
    }


def calibrate(w: Workload, site: Site) -> dict[str, float]:
    """Transfer, parse and pickle times of the server's own body, in a lean process."""
    return in_lean_process(_measure, w, site)


def _fetch_then_json(w: Workload, latency_s: float, machine: Machine) -> float:
    # Wherever json.loads runs, the caller waits for it: the parse is on the critical path.
    return latency_s + machine.cpu_s["transfer"] + machine.cpu_s["json_parse"]


def _fetch_json_and_ship_back(w: Workload, latency_s: float, machine: Machine) -> float:
    cpu = machine.cpu_s
    return latency_s + cpu["transfer"] + cpu["json_parse"] + cpu["pickle_roundtrip"]


def _fetch_then_orjson(w: Workload, latency_s: float, machine: Machine) -> float:
    return latency_s + machine.cpu_s["transfer"] + machine.cpu_s["orjson_parse"]


VARIANTS = {
    "on_loop": Variant(
        on_loop,
        label="resp.json() on the loop",
        why="json.loads runs on the loop: nothing else runs until the whole body is parsed",
        ideal=_fetch_then_json,
        anti_pattern=True,
    ),
    "to_thread": Variant(
        to_thread,
        label="to_thread(json.loads)",
        why="json.loads holds the GIL for the whole parse: the loop is frozen just as long",
        ideal=_fetch_then_json,
        anti_pattern=True,
    ),
    "process_pool_object": Variant(
        process_pool_object,
        label="process pool, returns the object",
        why="the parse leaves the loop, but unpickling the parsed list back stalls it again",
        ideal=_fetch_json_and_ship_back,
        anti_pattern=True,
    ),
    "process_pool_summary": Variant(
        process_pool_summary,
        label="process pool, returns a summary",
        why="parse and reduce in the child: the loop only copies bytes out and a summary in",
        ideal=_fetch_then_json,
        # Shipping the parsed object back adds a pickle round trip, about twice the parse: 3.6x
        # this ideal or more; the fix itself read up to 2.5x on a busy 2-core box.
        budget=2.5,
        regression="process_pool_object",
    ),
    "orjson_on_loop": Variant(
        orjson_on_loop,
        label="orjson.loads on the loop",
        why="a faster parser shortens the stall, but it is still on the loop",
        ideal=_fetch_then_orjson,
        # No budget: on these records json.loads costs only a fifth more, less than orjson's
        # own spread, so no budget could pass orjson and fail json.
    ),
}
# The lesson is the stall, which wall time does not show: resp.json() and to_thread cost what
# the summary fix costs. Their budgets would gate nothing the scenario teaches; the loop-lag
# probe and tests/test_scenario_large_json.py hold the stall instead.
