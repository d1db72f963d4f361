"""Connections: a session per request vs one shared session, and the connector limit of 100

A thousand concurrent requests to one API. A new ClientSession per request opens (and closes) a
TCP connection every time; one session per batch with aiohttp's default connector lets only 100
requests be in flight, so the batch runs in waves; one long-lived session, tuned for the
concurrency and kept warm, reuses its keep-alive connections and sends all of them at once.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

import aiohttp

from asyncio_perf_lab.scenarios.calibration import Site, in_lean_process, request_cpu_s
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
# 10 waves of 100 ms with the default limit, one call about 1 s: long enough that the waves, not
# the client's own CPU for 1000 requests (0.2-0.3 s here), are what separates the variants.
LATENCY = "100ms"

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


def calibrate(workload: Workload, site: Site) -> dict[str, float]:
    """CPU seconds one keep-alive request costs the client (on the run's loop) and the server,
    measured in a lean process."""
    cpu = in_lean_process(request_cpu_s, site)
    return {"request_client": cpu["client"], "request_server": cpu["server"]}


def _cpu_bound(w: Workload, machine: Machine) -> float:
    # Client and server are separate processes on separate cores: each must get through its own
    # share of the requests, one after another on its one loop, but the two overlap.
    cpu = machine.cpu_s
    return w.requests * max(cpu["request_client"], cpu["request_server"])


def _one_round_trip(w: Workload, latency_s: float, machine: Machine) -> float:
    # The latency overlaps with the CPU work of the other requests: the larger of the two.
    cpu = machine.cpu_s
    one = latency_s + cpu["request_client"] + cpu["request_server"]
    return max(one, _cpu_bound(w, machine))


def _waves_of_default_limit(w: Workload, latency_s: float, machine: Machine) -> float:
    # A wave cannot start before a connection of the previous one is free.
    waves = math.ceil(w.requests / AIOHTTP_DEFAULT_LIMIT)
    return max(waves * latency_s, _cpu_bound(w, machine))


VARIANTS = {
    "session_per_request": Variant(
        session_per_request,
        label="new ClientSession per request",
        why="every request opens and closes its own connection: no keep-alive, no pool",
        ideal=_one_round_trip,  # a floor that leaves out the connects it pays for
        anti_pattern=True,
    ),
    "default_limit": Variant(
        default_limit,
        label="one session, default limit=100",
        why="the connector admits 100 connections: the rest queue, 1000 requests = 10 waves",
        ideal=_waves_of_default_limit,
        anti_pattern=True,
        # No budget: the session per request is not worse by any floor a budget could use.
    ),
    "shared_session": Variant(
        shared_session,
        label="shared session, limit=1000, warm",
        why="kept-alive connections are reused and all requests are in flight at once",
        ideal=_one_round_trip,
        # The default limit's ten waves cost ten latencies, 3.5x this ideal or more; the fix read
        # up to 2.5x (its client does more per request than the calibration's) on a busy box.
        budget=3.0,
        regression="default_limit",
    ),
}
