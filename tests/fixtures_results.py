"""Synthetic results files, so the report can be built and tested without running a benchmark.

``synthetic_results()`` is a small, realistic, schema-valid run: three scenarios, each with an
anti-pattern and its fixes, a request staircase (sequential awaits) against a stack (gather), a
loop-lag spike with a blocking callback (CPU work on the loop), and a microsecond-long scenario
whose variants return different results on purpose (callback ordering). Every probe record holds
what the probes record: callbacks, blocking callbacks, observations, overhead and the returned
value. ``large_results()`` is the shape of a full run (about 12 scenarios x 4 variants, up to
2000 requests and 3000 callbacks each) for timing the report build.
"""

from __future__ import annotations

import copy
import inspect
import json
import random
from collections.abc import Sequence
from typing import Any

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.reports.stats import quantile, summarize  # the runner's own statistics

# The registry's own code, taken as the runner takes it, so the page shows what a real run shows.
_SEQUENTIAL_VS_GATHER = scenarios.load("sequential_vs_gather").variants
SEQUENTIAL_SOURCE = inspect.getsource(_SEQUENTIAL_VS_GATHER["sequential"].run)
GATHER_SOURCE = inspect.getsource(_SEQUENTIAL_VS_GATHER["gather"].run)

BLOCKING_SOURCE = '''async def blocking(ctx: Context) -> list:
    """Hash every chunk right on the loop: nothing else runs until it is done."""
    return [crunch(chunk) for chunk in chunks(ctx.workload)]
'''


def timings(rng: random.Random, median: float, n: int = 20, noise: float = 0.02) -> list[float]:
    """Per-call seconds scattered around ``median`` with a slow tail, like a shared machine."""
    values = [median * (1 + rng.gauss(0, noise)) for _ in range(n)]
    values[rng.randrange(n)] = median * (1 + 6 * noise)  # one noisy neighbour
    return [max(v, median * 0.5) for v in values]


def request(
    start: float, latency: float, path: str, *, connect: float = 0.0, pool_wait: float = 0.0
) -> dict[str, Any]:
    """One traced request whose phases add up to its duration."""
    phases = {}
    if pool_wait:
        phases["pool_wait"] = pool_wait
    if connect:
        phases["connect"] = connect
    phases.update({"send": 0.00008, "ttfb": latency + 0.0011, "body": 0.00015})
    return {
        "start_s": round(start, 6),
        "end_s": round(start + sum(phases.values()), 6),
        "method": "GET",
        "path": path,
        "status": 200,
        "phases": phases,
    }


def staircase(paths: Sequence[str], latency: float) -> list[dict[str, Any]]:
    """Requests awaited one after another: each starts when the previous one ended."""
    spans, t = [], 0.0004
    for i, path in enumerate(paths):
        span = request(t, latency, path, connect=0.0009 if i == 0 else 0.0)
        spans.append(span)
        t = span["end_s"] + 0.00025
    return spans


def stack(paths: Sequence[str], latency: float, limit: int | None = None) -> list[dict[str, Any]]:
    """Requests started together; beyond ``limit`` they queue for a connection slot."""
    spans = []
    for i, path in enumerate(paths):
        wave = i // limit if limit else 0
        pool_wait = wave * (latency + 0.0013)
        spans.append(
            request(0.0003 + i * 0.00004, latency, path, connect=0.0009, pool_wait=pool_wait)
        )
    return spans


def lag_probe(
    duration_s: float, spikes: Sequence[tuple[float, float]] = (), rng: random.Random | None = None
) -> dict[str, Any]:
    """A loop-lag record: 1 ms ticks with sub-ms jitter, plus (at_s, lag_ms) spikes."""
    rng = rng or random.Random(0)
    series, t = [], 0.0
    pending = sorted(spikes)
    while t < duration_s:
        lag = abs(rng.gauss(0.08, 0.05))
        if pending and t >= pending[0][0]:
            lag = pending.pop(0)[1]
        t += 0.001 + lag / 1000
        series.append([round(t, 6), round(lag, 3)])
    lags = [lag for _, lag in series]
    return {
        "interval_ms": 1.0,
        "samples": len(series),
        "p50_ms": quantile(lags, 0.5),
        "p99_ms": quantile(lags, 0.99),
        "max_ms": max(lags),
        "over_10ms": sum(lag >= 10 for lag in lags),
        "over_100ms": sum(lag >= 100 for lag in lags),
        "series": series,
    }


def callbacks_of(
    requests: Sequence[dict[str, Any]],
    blocking: Sequence[dict[str, Any]] = (),
    task: str = "Task-1",
    extra: Sequence[list[Any]] = (),
) -> list[list[Any]]:
    """The probe's callback timeline: ``[start_s, dur_s, task or None, blocking]``, time-ordered.

    The main task's first step, a step per request start (its task) and a plain callback per
    response (the transport reading it), each blocking callback, and ``extra`` entries.
    """
    entries: list[list[Any]] = [[0.00004, 0.0002, task, False], *map(list, extra)]
    for i, r in enumerate(requests):
        entries.append([round(r["start_s"] - 0.00003, 6), 0.00018, f"Task-{i + 2}", False])
        entries.append([round(r["end_s"], 6), 0.00011, None, False])
    for b in blocking:
        entries.append([b["start_s"], round(b["duration_ms"] / 1000, 6), b.get("task"), True])
    return sorted(entries, key=lambda e: e[0])


def overhead(rng: random.Random) -> dict[str, Any]:
    """An estimated probe overhead record, as ``benchmarks.probes.overhead.estimate`` writes."""
    lag = 1 + rng.uniform(0.001, 0.004)
    return {
        "method": "estimate: calibrated per-event cost x events counted (upper bound)",
        "lag_sampler_ratio": round(lag, 4),
        "full_tracing_ratio": round(lag + rng.uniform(0.001, 0.006), 4),
        "ticks": 300,
        "callbacks": 340,
        "per_tick_us": 7.5,
        "per_callback_us": 0.9,
        "watchdog_ms": 0.4,
    }


def variant(
    rng: random.Random,
    name: str,
    label: str,
    *,
    ideal_s: float,
    median: float,
    requests: list[dict[str, Any]],
    anti_pattern: bool = False,
    budget: float | None = 1.5,
    source: str = "",
    spikes: Sequence[tuple[float, float]] = (),
    blocking: list[dict[str, Any]] | None = None,
    observations: dict[str, float] | None = None,
    why: str = "",
    callbacks: list[list[Any]] | None = None,
    result: Any = None,
) -> dict[str, Any]:
    """One variant record (schema 1) with values, stats, efficiency and a probe run."""
    values = timings(rng, median)
    stats = summarize(values)
    if callbacks is None:
        callbacks = callbacks_of(requests, blocking or ())
    ends = [r["end_s"] for r in requests] + [c[0] + c[1] for c in callbacks]
    wall = max([median, *ends])
    in_flight = _max_overlap(requests)
    return {
        "name": name,
        "label": label,
        "why": why or f"why {label} behaves this way",
        "anti_pattern": anti_pattern,
        "ideal_s": ideal_s,
        "budget": budget,
        "source": source or f"async def {name}(ctx: Context) -> None:\n    ...\n",
        "doc": f"{label}: the docstring of the variant.",
        "values": values,
        "stats": stats,
        "efficiency": ideal_s / stats["median"] if ideal_s > 0 else None,
        "probe": {
            "wall_s": wall,
            "loop_lag": lag_probe(wall, spikes, rng),
            "server": {
                "max_in_flight": in_flight,
                "requests": len(requests),
                "injected_delay_s": sum(r["phases"]["ttfb"] for r in requests),
            },
            "requests": requests,
            "blocking": blocking or [],
            "callbacks": callbacks,
            "overhead": overhead(rng),
            "observations": observations or {},
            "result": json.dumps(result, sort_keys=True),
        },
    }


def _max_overlap(requests: Sequence[dict[str, Any]]) -> int:
    # The server sees a request once it left the client's pool and connected.
    starts = [
        r["start_s"] + r["phases"].get("pool_wait", 0) + r["phases"].get("connect", 0)
        for r in requests
    ]
    events = sorted([(s, 1) for s in starts] + [(r["end_s"], -1) for r in requests])
    best = now = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def run_block() -> dict[str, Any]:
    """The ``run`` block: metadata of a quick run on a small shared machine."""
    return {
        "id": "20260101-120000-quick",
        "created": "2026-01-01T12:00:00+00:00",
        "profile": "quick",
        "loop": "asyncio",
        "latency_override": None,
        "wall_s": 41.7,
        "pyperf": {"processes": 2, "values": 5, "warmups": 1, "min_time": 0.05},
        "env": {
            "python": "3.11.7",
            "implementation": "CPython",
            "executable": "/work/main/.venv/bin/python",
            "loop": "asyncio",
            "loop_version": None,
            "aiohttp": "3.9.5",
            "pyperf": "2.7.0",
            "cpu_count": 2,
            "load_avg": [0.42, 0.31, 0.2],
            "platform": "Linux-6.1.0-x86_64-with-glibc2.36",
            "hostname": "lab",
            "git_revision": "dac5c26f0c1e2b3a4d5e6f708192a3b4c5d6e7f8",
            "git_dirty": True,
        },
    }


def sequential_vs_gather(rng: random.Random) -> dict[str, Any]:
    """Three independent requests: the staircase, and two ways to stack them."""
    latency = 0.1
    paths = ["/users/1", "/users/1/posts", "/posts/1/comments"]
    returned = {
        "user": {"id": 1, "name": "Alan Allen"},
        "posts": [{"id": 1, "user_id": 1}],
        "comments": [{"id": 11, "post_id": 1}],
    }
    return {
        "name": "sequential_vs_gather",
        "title": "Sequential awaits vs asyncio.gather vs TaskGroup",
        "question": (
            "Three independent requests: why does awaiting them one by one take three times "
            "as long?"
        ),
        "lesson": (
            "`await` suspends the coroutine until the result is there; nothing else of *this* "
            "coroutine runs meanwhile. Independent requests must be started together (gather or "
            "TaskGroup) so their waits overlap: the cost drops from the sum of latencies to the "
            "maximum."
        ),
        "latency": "100ms",
        "latency_s": latency,
        "workload": {"user_id": 1, "post_id": 1},
        "machine": {"cores": 2, "cpu_s": {}},
        "results_equal": True,
        "variants": [
            variant(
                rng,
                "sequential",
                "sequential awaits",
                ideal_s=3 * latency,
                median=0.3094,
                requests=staircase(paths, latency),
                anti_pattern=True,
                budget=1.3,
                source=SEQUENTIAL_SOURCE,
                result=returned,
                why="each await waits for the previous response before the next request starts",
            ),
            variant(
                rng,
                "gather",
                "asyncio.gather",
                ideal_s=latency,
                median=0.1049,
                requests=stack(paths, latency),
                source=GATHER_SOURCE,
                result=returned,
                why="all requests are in flight together; cost is the slowest one",
            ),
            variant(
                rng,
                "task_group",
                "asyncio.TaskGroup",
                ideal_s=latency,
                median=0.1056,
                requests=stack(paths, latency),
                why="same overlap as gather, with structured cancellation on failure",
                result=returned,
            ),
        ],
    }


def cpu_on_the_loop(rng: random.Random) -> dict[str, Any]:
    """CPU work on the loop stalls concurrent requests; offloading keeps the loop free."""
    latency = 0.02
    paths = [f"/users/{i}" for i in range(1, 41)]
    cpu = 0.2
    blocked = stack(paths, latency, limit=10)
    for span in blocked:  # the requests could only start after the loop was given back
        span["start_s"] = round(span["start_s"] + cpu, 6)
        span["end_s"] = round(span["end_s"] + cpu, 6)
    returned = {"checksums": [736969766, 56259597], "users": 40}
    return {
        "name": "cpu_on_the_loop",
        "title": "Blocking CPU on the loop vs chunked yielding vs executors",
        "question": "Why do forty quick requests wait for one slow computation?",
        "lesson": (
            "A callback that computes for 200 ms holds the whole loop: every timer, socket and "
            "task waits. Move CPU work off the loop with `asyncio.to_thread` or a "
            "`ProcessPoolExecutor`, or at least `await asyncio.sleep(0)` between chunks."
        ),
        "latency": "20ms",
        "latency_s": latency,
        "workload": {"requests": 40, "chunks": 8, "cpu_ms_per_chunk": 25},
        "machine": {"cores": 2, "cpu_s": {"chunk": 0.025}},
        "results_equal": True,
        "variants": [
            variant(
                rng,
                "blocking",
                "CPU on the loop",
                ideal_s=cpu,
                median=0.262,
                requests=blocked,
                anti_pattern=True,
                budget=None,
                source=BLOCKING_SOURCE,
                spikes=[(0.0005, 201.4)],
                blocking=[
                    {
                        "start_s": 0.0005,
                        "duration_ms": 201.4,
                        "task": "Task-7",
                        "callback": "step",
                        "where": "scenarios/cpu.py:41",
                        "function": "crunch",
                        "inner": None,
                        "stack": ["scenarios/cpu.py:41 in crunch"],
                        "located": "sampled",
                        "source": "callback",
                    },
                ],
                observations={"concurrent_request_delay_ms": 201.9},
                why="the loop cannot serve sockets while the computation runs",
                result=returned,
            ),
            variant(
                rng,
                "chunked",
                "chunked + sleep(0)",
                ideal_s=cpu,
                median=0.228,
                requests=stack(paths, latency, limit=10),
                spikes=[(0.001 + i * 0.026, 25.3) for i in range(8)],
                observations={"concurrent_request_delay_ms": 25.8, "chunks": 8},
                result=returned,
            ),
            variant(
                rng,
                "to_thread",
                "asyncio.to_thread",
                ideal_s=cpu,
                median=0.214,
                requests=stack(paths, latency, limit=10),
                observations={"concurrent_request_delay_ms": 1.2},
                result=returned,
            ),
            variant(
                rng,
                "process_pool",
                "ProcessPoolExecutor",
                ideal_s=cpu / 2,
                median=0.131,
                requests=stack(paths, latency, limit=10),
                observations={"concurrent_request_delay_ms": 0.9, "workers": 2},
                result=returned,
            ),
        ],
    }


ORDERS = {
    "call_soon": ("call_soon chain", True, ["sync end", "soon 1", "timer", "soon 2"]),
    "sleep_0": ("await asyncio.sleep(0)", False, ["soon", "after await", "timer"]),
    "eager_task": ("eager_task_factory (3.12+)", False, ["task start", "sync end", "task end"]),
    "create_task": ("asyncio.create_task", True, ["sync end", "task start", "task end"]),
}


def ordering(rng: random.Random) -> dict[str, Any]:
    """Microsecond-long variants that return different orders on purpose; one ideal is 0."""
    variants = []
    for i, (name, (label, anti, order)) in enumerate(ORDERS.items()):
        steps = [[0.00003, 0.00018, "Task-1", False]]
        steps += [[0.00022 + k * 0.000007, 0.000003, None, False] for k in range(len(order))]
        steps.append([0.00026, 0.0001, "Task-1", False])
        variants.append(
            variant(
                rng,
                name,
                label,
                ideal_s=0.0 if name == "create_task" else 0.0000105,
                median=0.0000071 + i * 0.0000023,
                requests=[],
                anti_pattern=anti,
                budget=None,
                callbacks=steps,
                result=order,
            )
        )
    return {
        "name": "ordering",
        "title": "Callback ordering: call_soon, sleep(0) and tasks",
        "question": "In which order do callbacks, timers and tasks run?",
        "lesson": "asyncio has no microtask queue: one ready queue, run one snapshot per loop "
        "iteration.",
        "latency": "0ms",
        "latency_s": 0.0,
        "workload": {},
        "machine": {"cores": 2, "cpu_s": {"loop_iteration": 0.0000055}},
        "results_equal": None,
        "variants": variants,
    }


def synthetic_results(seed: int = 7) -> dict[str, Any]:
    """A schema-valid results document: three scenarios, anti-patterns and fixes, probes."""
    rng = random.Random(seed)
    return {
        "schema": 1,
        "kind": "asyncio-perf-lab/results",
        "run": run_block(),
        "scenarios": [sequential_vs_gather(rng), cpu_on_the_loop(rng), ordering(rng)],
    }


def large_results(
    scenarios: int = 12, variants: int = 4, requests: int = 2000, seed: int = 3
) -> dict[str, Any]:
    """A full-size run: many scenarios, each variant tracing up to ``requests`` requests."""
    rng = random.Random(seed)
    base = synthetic_results(seed)
    entries = []
    for i in range(scenarios):
        latency = 0.01
        paths = [f"/users/{k}" for k in range(requests)]
        records = []
        for j in range(variants):
            limit = None if j == variants - 1 else 100 * (j + 1)
            spans = staircase(paths[:50], latency) if j == 0 else stack(paths, latency, limit)
            median = max(s["end_s"] for s in spans)
            busy = [[k * median / 3000, median / 9000, f"T-{k % 40}", False] for k in range(3000)]
            stall = {"start_s": 0.002, "duration_ms": 12.0 * (variants - j), "task": "Task-1"}
            blocking = [{**stall, "where": "scenarios/x.py:1", "function": "f"}] if j < 2 else []
            records.append(
                variant(
                    rng,
                    f"v{j}",
                    f"variant {j}",
                    ideal_s=median * 0.9,
                    median=median,
                    requests=spans,
                    anti_pattern=j == 0,
                    spikes=[(0.002, 12.0 * (variants - j))],
                    callbacks=callbacks_of([], blocking, extra=busy)[:3000],
                    blocking=blocking,
                    observations={"requests_sent": len(spans), "lost_errors": j},
                    result=list(range(300)),
                )
            )
        entry = copy.deepcopy(base["scenarios"][i % 2])
        entry.update(name=f"scenario_{i}", title=f"Scenario {i}", variants=records)
        entries.append(entry)
    base["scenarios"] = entries
    return base
