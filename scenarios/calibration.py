"""Measuring the machine for ideal models: where and as the variants run, and as a floor.

An ideal is a floor: no call of the variant can beat it, so a variant measured below its ideal
means the model or its calibration is wrong. Every CPU figure an ideal uses is therefore taken

- on the run's own event loop (uvloop when the run asks for it): ``Site.new_loop``;
- against the run's own mock server and its payloads: ``Site.base_url``;
- in a lean process whose inherited objects are frozen out of the garbage collector
  (``in_lean_process``): a parse in the runner's big heap pays for collections that walk it,
  which the pyperf worker and the pool child never pay;
- as the minimum of several tries, never a mean: noise on a shared machine only adds time;
- by the lesser of two clocks, wall and the thread's CPU time: preemption adds to the first, and
  on a virtual machine stolen time shows in the second (here it read 160 ms for a job whose wall
  time was 85 ms), so each only ever overstates the work and the lesser is the floor.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import math
import multiprocessing
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from threading import Thread
from typing import Any, TypeVar

__all__ = [
    "TRIES",
    "Site",
    "cpu_seconds",
    "in_lean_process",
    "loop_clock_step_s",
    "loop_turn_s",
    "request_cpu_s",
]

T = TypeVar("T")

TRIES = 5  # the minimum of five: one quiet moment is enough to see the floor


@dataclass(frozen=True)
class Site:
    """Where the variants run, handed to ``calibrate(workload, site)`` so it measures as they do.

    ``new_loop`` must pickle (a module-level function or a ``functools.partial`` of one), so a
    calibration can take it into a lean process.
    """

    new_loop: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
    base_url: str | None = None  # the mock server the variants call; None outside a run

    def run(self, main: Callable[[], Awaitable[T]]) -> T:
        """``main()`` to completion on a fresh loop of the run's kind, in a thread of its own
        (so it works whether or not the caller is inside a running loop)."""

        def on_own_loop() -> T:
            loop = self.new_loop()
            try:
                return loop.run_until_complete(main())
            finally:
                loop.close()

        with ThreadPoolExecutor(1, thread_name_prefix="calibrate") as pool:
            return pool.submit(on_own_loop).result()

    def url(self, path: str) -> str:
        """The run's mock server URL for ``path`` (a calibration that needs the server's bytes)."""
        if self.base_url is None:
            raise ValueError("this calibration needs the run's mock server: Site(base_url=...)")
        return f"{self.base_url}{path}"


def in_lean_process(fn: Callable[..., T], /, *args: Any) -> T:
    """``fn(*args)`` in a fresh forkserver child with every object it inherited frozen out of gc.

    Lighter than the pyperf worker and the lab's pool children alike, so what it measures is a
    floor for both. ``fn`` and ``args`` must pickle.
    """
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(1, mp_context=context, initializer=gc.freeze) as pool:
        return pool.submit(fn, *args).result()


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.thread_time()


def _since(start: tuple[float, float]) -> float:
    """Seconds since ``start`` by the lesser of the wall clock and this thread's CPU clock."""
    wall, cpu = start
    return min(time.perf_counter() - wall, time.thread_time() - cpu)


SPREAD_S = 0.5  # a short job is tried for at least this long: a busy stretch passes, a floor shows
MAX_RUNS = 100


def cpu_seconds(fn: Callable[[], object], runs: int = TRIES) -> float:
    """The time ``fn()`` needs on this thread: the least of at least ``runs`` calls, by the lesser
    clock, repeated (up to MAX_RUNS) until SPREAD_S has passed.

    Five calls of a 10 ms job fit inside one busy stretch of a shared machine, and all five read
    high (on this VM, 17 ms for a job a worker ran in 11); spread over half a second, one lands
    in a quiet moment.
    """
    best = math.inf
    began = time.perf_counter()
    done = 0
    while done < runs or (time.perf_counter() - began < SPREAD_S and done < MAX_RUNS):
        start = _now()
        result = fn()
        best = min(best, _since(start))
        del result  # freed outside the clock: the variant's caller frees it, not the call
        done += 1
    return best


async def _chain_s(turns: int) -> float:
    """Seconds of ``turns`` loop iterations, each running one callback that re-queues itself."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    left = turns

    def step() -> None:
        nonlocal left
        left -= 1
        if left:
            loop.call_soon(step)
        else:
            done.set_result(None)

    start = _now()
    loop.call_soon(step)
    await done
    return _since(start)


def loop_turn_s(site: Site, turns: int = 2000, tries: int = TRIES) -> float:
    """Seconds of the cheapest event-loop iteration on the run's loop.

    Every iteration of the chain polls the selector and runs one trivial handle: the least any
    iteration that runs a callback can cost. Chains are repeated over SPREAD_S, like
    ``cpu_seconds``.
    """

    async def least() -> float:
        best, began, done = math.inf, time.perf_counter(), 0
        while done < tries or (time.perf_counter() - began < SPREAD_S and done < MAX_RUNS):
            best = min(best, await _chain_s(turns))
            done += 1
        return best / turns

    return site.run(least)


def loop_clock_step_s(site: Site, turns: int = 5000) -> float:
    """The smallest step of the run's loop clock (``loop.time()``) between iterations.

    A timer's deadline is the loop clock plus its delay, so a timer can fire up to one step
    early by a finer clock: about 1 ms on uvloop, whose clock is libuv's cached millisecond
    count; microseconds on the standard loop. An ideal that counts timers on the client's loop
    gives back one step per timer, so it stays a floor.
    """

    async def smallest_step() -> float:
        loop = asyncio.get_running_loop()
        seen: list[float] = []
        done = loop.create_future()

        def step() -> None:
            seen.append(loop.time())
            if len(seen) < turns:
                loop.call_soon(step)
            else:
                done.set_result(None)

        loop.call_soon(step)
        await done
        steps = [b - a for a, b in itertools.pairwise(seen) if b > a]
        return min(steps) if steps else 0.0

    return site.run(smallest_step)


def _serve_in_thread(started: Future[str], stop: Future[None]) -> None:
    """A minimal aiohttp server on the standard loop (like the mock server's) in this thread."""
    from aiohttp import web  # here, not at the top: the ordering puzzles need no aiohttp

    async def user(request: web.Request) -> web.Response:
        return web.json_response({"id": int(request.match_info["id"])})

    async def cpu_of_this_thread(request: web.Request) -> web.Response:
        return web.json_response({"thread_time": time.thread_time()})

    async def serve() -> None:
        app = web.Application()
        app.router.add_get("/users/{id}", user)
        app.router.add_get("/cpu", cpu_of_this_thread)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            started.set_result(f"http://127.0.0.1:{runner.addresses[0][1]}")
            await asyncio.wrap_future(stop)
        finally:
            await runner.cleanup()

    asyncio.run(serve())


def request_cpu_s(site: Site, requests: int = 200, tries: int = TRIES) -> dict[str, float]:
    """Seconds one keep-alive GET costs the client and the server, each on its own thread.

    The client runs on the run's loop and measures its own thread; the server, a bare aiohttp
    handler in a thread of its own, reports its thread's CPU time (each capped by the round's wall
    time). Both do less per request than a variant and the mock server do, so the figures are
    floors. The least of ``tries`` rounds of ``requests`` concurrent GETs (the connections are
    opened before the first).
    """
    import aiohttp

    started: Future[str] = Future()
    stop: Future[None] = Future()
    server = Thread(target=_serve_in_thread, args=(started, stop), name="calibrate-server")
    server.start()
    try:
        base = started.result(timeout=30)

        async def rounds() -> dict[str, float]:
            connector = aiohttp.TCPConnector(limit=requests)
            async with aiohttp.ClientSession(connector=connector) as session:

                async def get(path: str) -> Any:
                    async with session.get(f"{base}{path}") as resp:
                        resp.raise_for_status()
                        return await resp.json()

                async def batch() -> None:
                    await asyncio.gather(*(get(f"/users/{i}") for i in range(requests)))

                await batch()  # opens the connections: keep-alive from here on
                client = server_cpu = math.inf
                for _ in range(tries):
                    server_before = (await get("/cpu"))["thread_time"]
                    start = _now()
                    await batch()
                    client = min(client, _since(start))
                    server_after = (await get("/cpu"))["thread_time"]
                    wall = time.perf_counter() - start[0]
                    server_cpu = min(server_cpu, server_after - server_before, wall)
                return {"client": client / requests, "server": server_cpu / requests}

        return site.run(rounds)
    finally:
        if not stop.done():
            stop.set_result(None)
        server.join(timeout=30)
