"""1000 users on one server: async vs blocking vs CPU vs offloaded handlers

The same open-loop load (1000 requests at a fixed 5000 per second, so all of them arrive within
0.2 s) against four handlers of the mock server. The async handler waits 200 ms with
``asyncio.sleep``: all 1000 wait at once and the loop stays free. The blocking handler waits
only 3 ms, but with ``time.sleep``, and the CPU handler computes for 3 ms on the loop: requests
are served one at a time and queue behind each other. The offloaded handler computes in a
process pool: the loop stays free, but the CPU work still has only the machine's cores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asyncio_perf_lab.scenarios.core import Context, Machine, Variant
from asyncio_perf_lab.scenarios.loadgen import open_loop

QUESTION = (
    "Why doesn't an async server fall over with 1000 concurrent users, and what happens to "
    "its p99 when one handler blocks the loop for just 3 ms?"
)
LESSON = (
    "An `await asyncio.sleep` (any awaited I/O) costs the loop nothing while it waits, so 1000 "
    "users waiting 200 ms each are served in about 200 ms: the server really holds 1000 "
    "requests at once (max in-flight) and p99 stays near the handler time. A handler that "
    "blocks, with `time.sleep` or a synchronous client or 3 ms of CPU, holds the whole loop: "
    "requests are served one by one, every arrival queues behind all earlier ones, and p99 "
    "grows to the whole backlog (1000 x 3 ms, over ten times the async handler's although it "
    "waits 66 times less). The server's own loop lag shows the stall. Offloading CPU work to a "
    "process pool keeps the loop responsive, but only the cores do the work: past their "
    "capacity the requests queue in the pool instead. Latency here is counted from each "
    "request's intended start on a fixed schedule, so a stalled server shows up in p99, never "
    "as fewer requests sent."
)
LATENCY = "0ms"  # the handlers' own work is the latency here; nothing is injected on top

REQUESTS = 1000  # the "1000 users": one request each
RATE = 5000.0  # requests per second: all 1000 arrive within 0.2 s, inside one async wait
ASYNC_MS = 200  # the async handler's wait: longer than the arrivals, so all 1000 overlap
# The blocking and CPU handlers get 3 ms, not 200: served one at a time, 1000 x 200 ms would
# take 200 s. 1000 x 3 ms = 3 s bounds a call and still puts p99 over 10x the async one.
BLOCKING_MS = 3
TIMEOUT_S = 10.0  # a request still unanswered 10 s after its intended start is abandoned


@dataclass(frozen=True)
class Workload:
    requests: int = REQUESTS
    rate: float = RATE
    async_ms: int = ASYNC_MS
    blocking_ms: int = BLOCKING_MS
    timeout_s: float = TIMEOUT_S


TINY = Workload(requests=20, rate=1000.0, async_ms=20, blocking_ms=2)


async def _server_stats(ctx: Context, reset: bool = False) -> dict[str, Any]:
    """Open a stats window that samples the server's loop lag, or read it (lag included)."""
    if reset:
        async with ctx.session.post(f"{ctx.base_url}/stats/reset?loop_lag=1") as resp:
            resp.raise_for_status()
            return await resp.json()
    async with ctx.session.get(f"{ctx.base_url}/stats?loop_lag=1") as resp:
        resp.raise_for_status()
        return await resp.json()


async def _load(ctx: Context, path: str, ms: int) -> dict[str, int]:
    """Run the open-loop load against ``path`` and record what the client and server saw."""
    w = ctx.workload
    await _server_stats(ctx, reset=True)
    result = await open_loop(
        ctx.session, ctx.url(path, ms=ms), requests=w.requests, rate=w.rate, timeout_s=w.timeout_s
    )
    server = await _server_stats(ctx)
    summary = result.summary()
    for name in ("throughput_rps", "p50_ms", "p99_ms", "max_ms", "errors"):
        ctx.observe(name, summary[name])
    ctx.observe("server_max_in_flight", server["max_in_flight"])
    ctx.observe("server_loop_lag_p99_ms", server["loop_lag"]["p99_ms"])
    ctx.observe("server_loop_lag_max_ms", server["loop_lag"]["max_ms"])
    ctx.observe("client_slip_p99_ms", summary["slip_p99_ms"])
    ctx.observe("client_slip_max_ms", summary["slip_max_ms"])
    return {"sent": result.sent, "ok": result.ok}


async def blocking_sleep(ctx: Context) -> dict[str, int]:
    """Load a handler that waits with time.sleep: each request holds the server loop."""
    return await _load(ctx, "/work/blocking-sleep", ctx.workload.blocking_ms)


async def cpu(ctx: Context) -> dict[str, int]:
    """Load a handler that computes on the server loop: each request holds it for its CPU time."""
    return await _load(ctx, "/work/cpu", ctx.workload.blocking_ms)


async def async_sleep(ctx: Context) -> dict[str, int]:
    """Load a handler that awaits asyncio.sleep: every request waits at the same time."""
    return await _load(ctx, "/work/async-sleep", ctx.workload.async_ms)


async def cpu_offloaded(ctx: Context) -> dict[str, int]:
    """Load a handler that computes in a process pool: the loop stays free, the cores do not."""
    return await _load(ctx, "/work/cpu-offloaded", ctx.workload.blocking_ms)


def _schedule_s(w: Workload) -> float:
    """Seconds from the first request's intended start to the last one's."""
    return (w.requests - 1) / w.rate


def _all_wait_at_once(w: Workload, latency_s: float, machine: Machine) -> float:
    # Waiting occupies nothing: the last request arrives on schedule and waits its time.
    return _schedule_s(w) + w.async_ms / 1000


def _one_at_a_time(w: Workload, latency_s: float, machine: Machine) -> float:
    # The handler holds the server's one loop for its whole time (asleep or computing): requests
    # are served one after another from the first arrival on, and the last no sooner than it
    # arrives and is served.
    handler_s = w.blocking_ms / 1000
    return max(w.requests * handler_s, _schedule_s(w) + handler_s)


def _cores_compute(w: Workload, latency_s: float, machine: Machine) -> float:
    # CPU work overlaps only across cores: no server can finish before cores are through it.
    work_s = w.requests * w.blocking_ms / 1000
    return max(_schedule_s(w), work_s / machine.cores) + w.blocking_ms / 1000


VARIANTS = {
    "blocking_sleep": Variant(
        blocking_sleep,
        label="time.sleep in the handler",
        why="the loop is held for every request's wait, so requests are served one at a time",
        ideal=_one_at_a_time,
        anti_pattern=True,
    ),
    "cpu": Variant(
        cpu,
        label="CPU work on the server loop",
        why="computing holds the loop just as sleeping does: one request at a time, one core",
        ideal=_one_at_a_time,
        anti_pattern=True,
    ),
    "async_sleep": Variant(
        async_sleep,
        label="await asyncio.sleep in the handler",
        why="awaiting frees the loop: all 1000 requests wait at once",
        ideal=_all_wait_at_once,
        # Blocking the loop serves them one at a time: even at 3 ms each, 1000 take 3 s.
        budget=1.5,
        regression="blocking_sleep",
    ),
    "cpu_offloaded": Variant(
        cpu_offloaded,
        label="CPU work in a process pool",
        why="the loop stays free; the work runs on every core, and queues once they are busy",
        ideal=_cores_compute,
    ),
}
