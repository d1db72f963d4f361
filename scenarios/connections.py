"""Connections: a session per request vs one shared session, and the connector limit of 100

A thousand concurrent requests to one API. A new ClientSession per request opens (and closes) a
TCP connection every time; one session per batch with aiohttp's default connector lets only 100
requests be in flight, so the batch runs in waves; one long-lived session, tuned for the
concurrency and kept warm, reuses its keep-alive connections and sends all of them at once.
"""

from __future__ import annotations

import asyncio
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from asyncio_perf_lab.scenarios.core import Context, Machine, Variant

QUESTION = (
    "A thousand requests at once through aiohttp: why does it take ten round trips instead "
    "of one, and what does a session per request cost?"
)
LESSON = (
    "A ClientSession owns a connection pool. Creating one per request throws the pool away: "
    "every request pays a TCP connect and a close, and nothing is reused. One shared session "
    "keeps connections alive between requests, but its connector admits only `limit` "
    "connections (aiohttp's default is 100): the 101st request waits in the pool queue, so "
    "1000 requests run as 10 waves. Size the limit for the concurrency you mean to have and "
    "keep the session for the life of the program."
)
LATENCY = "50ms"  # 10 waves of 50 ms with the default limit: one call stays near 0.5 s

REQUESTS = 1000
AIOHTTP_DEFAULT_LIMIT = 100  # TCPConnector(limit=100): what a plain ClientSession() gets


@dataclass(frozen=True)
class Workload:
    requests: int = REQUESTS


TINY = Workload(requests=50)


async def _get_user(session: aiohttp.ClientSession, ctx: Context, user_id: int) -> Any:
    async with session.get(ctx.url(f"/users/{user_id}")) as resp:
        resp.raise_for_status()
        return await resp.json()


async def session_per_request(ctx: Context) -> list:
    """Open a new ClientSession (and so a new connection) for every single request."""

    async def one(user_id: int) -> Any:
        # The probe run's tracer rides along, so the connect phase of each request shows.
        async with aiohttp.ClientSession(trace_configs=list(ctx.session.trace_configs)) as session:
            return await _get_user(session, ctx, user_id)

    return await asyncio.gather(*(one(i) for i in range(1, ctx.workload.requests + 1)))


async def default_limit(ctx: Context) -> list:
    """One ClientSession for the batch, with aiohttp's default connector (limit=100)."""
    async with aiohttp.ClientSession(trace_configs=list(ctx.session.trace_configs)) as session:
        return await asyncio.gather(
            *(_get_user(session, ctx, i) for i in range(1, ctx.workload.requests + 1))
        )


async def shared_session(ctx: Context) -> list:
    """The long-lived shared session: connector sized for 1000, connections kept alive."""
    return await asyncio.gather(
        *(_get_user(ctx.session, ctx, i) for i in range(1, ctx.workload.requests + 1))
    )


CALIBRATION_REQUESTS = 200
CALIBRATION_ROUNDS = 3


async def _request_cpu_s() -> float:
    """Seconds per request for client and server together: an in-process server, no latency."""

    async def user(request: web.Request) -> web.Response:
        user_id = int(request.match_info["id"])
        return web.json_response({"id": user_id, "name": "Ada Lovelace", "email": "ada@x.org"})

    app = web.Application()
    app.router.add_get("/users/{id}", user)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}/users/"
        connector = aiohttp.TCPConnector(limit=CALIBRATION_REQUESTS)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(i: int) -> Any:
                async with session.get(f"{base}{i}") as resp:
                    return await resp.json()

            best = math.inf
            for _ in range(CALIBRATION_ROUNDS + 1):  # the first round opens the connections
                start = time.perf_counter()
                await asyncio.gather(*(one(i) for i in range(CALIBRATION_REQUESTS)))
                best = min(best, time.perf_counter() - start)
            return best / CALIBRATION_REQUESTS
    finally:
        await runner.cleanup()


def calibrate(workload: Workload) -> dict[str, float]:
    """CPU seconds one keep-alive request costs client and server together on this machine."""
    # A loop of its own in a helper thread: works whether or not the caller runs a loop.
    with ThreadPoolExecutor(1, thread_name_prefix="calibrate") as pool:
        return {"request": pool.submit(asyncio.run, _request_cpu_s()).result()}


def _cpu_s(w: Workload, machine: Machine) -> float:
    # Client and server are separate processes: on two cores their halves of the work overlap.
    return w.requests * machine.cpu_s.get("request", 0.0) / min(2, machine.cores)


def _one_round_trip(w: Workload, latency_s: float, machine: Machine) -> float:
    return latency_s + _cpu_s(w, machine)


def _waves_of_default_limit(w: Workload, latency_s: float, machine: Machine) -> float:
    return math.ceil(w.requests / AIOHTTP_DEFAULT_LIMIT) * latency_s + _cpu_s(w, machine)


VARIANTS = {
    "session_per_request": Variant(
        session_per_request,
        label="new ClientSession per request",
        why="every request opens and closes its own connection: no keep-alive, no pool",
        ideal=_one_round_trip,
        anti_pattern=True,
    ),
    "default_limit": Variant(
        default_limit,
        label="one session, default limit=100",
        why="the connector admits 100 connections: the rest queue, 1000 requests = 10 waves",
        ideal=_waves_of_default_limit,
        anti_pattern=True,
        budget=1.5,
    ),
    "shared_session": Variant(
        shared_session,
        label="shared session, limit=1000, warm",
        why="kept-alive connections are reused and all requests are in flight at once",
        ideal=_one_round_trip,
        budget=3.0,  # the default limit's ten waves would be 5x and more
    ),
}
