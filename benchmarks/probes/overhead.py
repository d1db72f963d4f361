"""What the probes cost, estimated for every probe run without re-running the variant.

``calibrate()`` measures once per process and loop type (tens of milliseconds, outside any
timed section) what one lag tick and one timed callback cost on this machine; ``estimate()``
multiplies by what a session counted and adds the watchdog thread's own measured time holding
the GIL. The result is an upper bound on the time added to the run, as if every probe
microsecond sat on the critical path. ``make bench-overhead`` measures the
real ratios (interleaved A/B runs).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asyncio_perf_lab.benchmarks.probes.callbacks import CallbackProbe, supports_callbacks
from asyncio_perf_lab.benchmarks.probes.lag import LoopLagProbe

if TYPE_CHECKING:
    from asyncio_perf_lab.benchmarks.probes.session import ProbeSession

CHAIN = 2000  # callbacks per calibration chain
REPEATS = 3


@dataclass(frozen=True)
class Costs:
    """Seconds one probe event costs on the loop thread."""

    per_tick_s: float
    per_callback_s: float


_cache: dict[type, Costs] = {}


async def _chain(n: int) -> float:
    """Time n callbacks that each schedule the next (the loop's own per-callback cost)."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    left = n

    def step() -> None:
        nonlocal left
        left -= 1
        if left:
            loop.call_soon(step)
        else:
            done.set_result(None)

    start = time.perf_counter()
    loop.call_soon(step)
    await done
    return time.perf_counter() - start


async def _ticks(n: int) -> float:
    """Time n lag-probe ticks back to back (interval 0): a tick plus the loop turn it costs."""
    probe = LoopLagProbe(0.0)
    start = time.perf_counter()
    probe.start()
    while len(probe.samples) < n:
        await asyncio.sleep(0.001)
    probe.stop()
    elapsed = time.perf_counter() - start
    return elapsed / max(1, len(probe.samples))


async def calibrate() -> Costs:
    """Per-event probe costs on the running loop's type (cached per process)."""
    loop = asyncio.get_running_loop()
    cached = _cache.get(type(loop))
    if cached is not None:
        return cached
    per_callback = 0.0
    if supports_callbacks(loop):
        bare, timed = [], []
        for _ in range(REPEATS):
            bare.append(await _chain(CHAIN))
            with CallbackProbe():
                timed.append(await _chain(CHAIN))
        per_callback = max(0.0, (min(timed) - min(bare)) / CHAIN)
    per_tick = min([await _ticks(200) for _ in range(REPEATS)])
    costs = Costs(per_tick_s=per_tick, per_callback_s=per_callback)
    _cache[type(loop)] = costs
    return costs


def estimate(session: ProbeSession, wall_s: float, costs: Costs) -> dict[str, Any]:
    """The probe record's ``overhead``: estimated ratios (probed / unprobed time) and inputs."""
    ticks = len(session.lag.samples)
    callbacks = session.callback_count(include_lag_ticks=True)  # a tick pays the wrap too
    watchdog_s = session.watchdog.busy_s if session.watchdog else 0.0
    lag_s = ticks * costs.per_tick_s
    full_s = lag_s + callbacks * costs.per_callback_s + watchdog_s

    def ratio(added: float) -> float | None:
        base = wall_s - added
        return round(wall_s / base, 4) if base > 0 else None

    return {
        "method": "estimate: calibrated per-event cost x events counted (upper bound)",
        "lag_sampler_ratio": ratio(lag_s),
        "full_tracing_ratio": ratio(full_s),
        "ticks": ticks,
        "callbacks": callbacks,
        "per_tick_us": round(costs.per_tick_s * 1e6, 3),
        "per_callback_us": round(costs.per_callback_s * 1e6, 3),
        "watchdog_ms": round(watchdog_s * 1000, 3),
    }
