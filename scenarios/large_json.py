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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from asyncio_perf_lab.scenarios.blocking_cpu import cpu_seconds
from asyncio_perf_lab.scenarios.core import Context, Machine, Variant

QUESTION = (
    "Parsing an 8 MiB JSON response freezes the loop: does `asyncio.to_thread(json.loads)` "
    "fix it, and what does?"
)
LESSON = (
    "What the loop-lag probe measured (8 MiB, the lab's 2-core box): `resp.json()` stalls the "
    "loop for the whole decode and parse, a max lag of 120-170 ms. `to_thread(json.loads)` "
    "stalls it about as long, 95-120 ms: json.loads is C code that never releases the GIL, so "
    "the loop thread cannot run until the parse ends; threads only help code that waits or "
    "releases the GIL. A process pool removes the stall if the child returns something small: "
    "parsing and summarising in the child left a max lag of 3-4 ms. Returning the parsed object "
    "instead stalled the loop 80-110 ms while the executor unpickled it, which costs about as "
    "much as parsing. orjson shortens the stall only modestly on records like these (object "
    "creation dominates): 95-115 ms, still a stall on the loop."
)
LATENCY = "20ms"

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


def _sample_body(size: int) -> bytes:
    """A JSON list of records shaped like the mock API's, at least ``size`` bytes."""
    words = ("async", "await", "loop", "task", "future", "gather", "timeout", "executor")
    parts, total, i = [], 2, 0
    while total < size:
        i += 1
        record = {
            "id": i,
            "name": f"Grace Hopper{i % 7}",
            "email": f"grace.hopper{i}@example.com",
            "score": (i * 7919 % 10007) / 100,
            "active": i % 3 != 0,
            "tags": [words[i % 8], words[(i * 5 + 1) % 8]],
            "bio": " ".join(words[(i + k) % 8] for k in range(6)),
        }
        part = json.dumps(record, separators=(",", ":"))
        parts.append(part)
        total += len(part) + 1
    return ("[" + ",".join(parts) + "]").encode()


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


@contextmanager
def _own_objects_out_of_gc() -> Iterator[None]:
    """Keep the calibrating process's own objects out of the garbage collections a parse runs.

    A parse allocates enough containers to trigger full collections, which walk every object
    in the process: the runner's heap (report and CLI imports) would inflate the figure well
    past what the lean worker that runs the variant pays.
    """
    if gc.get_freeze_count():  # someone froze objects already: leave their state alone
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def calibrate(w: Workload) -> dict[str, float]:
    """Transfer and parse times on this machine for a body of the workload's size."""
    body = _sample_body(round(w.mb * (1 << 20)))
    with _own_objects_out_of_gc():
        records = json.loads(body)
        pickled = pickle.dumps(records)
        return {
            "transfer": min(_loopback_transfer_s(body) for _ in range(3)),
            "json_parse": cpu_seconds(lambda: json.loads(body)),
            "orjson_parse": cpu_seconds(lambda: orjson.loads(body)),
            "pickle_roundtrip": cpu_seconds(lambda: pickle.dumps(records))
            + cpu_seconds(lambda: pickle.loads(pickled)),
        }


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
        budget=2.0,
    ),
    "to_thread": Variant(
        to_thread,
        label="to_thread(json.loads)",
        why="json.loads holds the GIL for the whole parse: the loop is frozen just as long",
        ideal=_fetch_then_json,
        anti_pattern=True,
        budget=2.0,
    ),
    "process_pool_object": Variant(
        process_pool_object,
        label="process pool, returns the object",
        why="the parse leaves the loop, but unpickling the parsed list back stalls it again",
        ideal=_fetch_json_and_ship_back,
        anti_pattern=True,
        budget=2.5,
    ),
    "process_pool_summary": Variant(
        process_pool_summary,
        label="process pool, returns a summary",
        why="parse and reduce in the child: the loop only copies bytes out and a summary in",
        ideal=_fetch_then_json,
        budget=2.5,
    ),
    "orjson_on_loop": Variant(
        orjson_on_loop,
        label="orjson.loads on the loop",
        why="a faster parser shortens the stall, but it is still on the loop",
        ideal=_fetch_then_orjson,
        budget=2.0,
    ),
}
