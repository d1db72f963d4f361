"""What do the probes add? The same variant timed bare, under the lag sampler, and fully traced.

One process, one loop, one mock server; per latency and variant, rounds interleave the three
modes (rotating their order each round, A B C / B C A / C A B ...) so machine drift hits all
alike. ``none`` uses a plain session; ``lag`` wraps each call in a ``LoopLagProbe``; ``full``
wraps it in a ``ProbeSession`` (lag + per-callback timing + watchdog thread + request
TraceConfig on its session). The timer is inside the probes, as in the probe run's ``wall_s``;
the sessions' set-up and analysis happen outside it and are shown apart. "A/A noise" is the
bare calls' odd half against their even half: ratios closer to 1 than that are noise. A small
latency makes per-callback costs visible; the scenario's own latency shows the usual case.
Targets: lag sampler <= 1.01x, full tracing <= 1.3x (ratio of medians).

Usage: ``make bench-overhead`` (``--latency 5ms --latency 100ms --rounds 6``);
the defaults take about half a minute.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rich.table import Table

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks.commands.common import Parser, add_loop, console
from asyncio_perf_lab.benchmarks.context import open_context
from asyncio_perf_lab.benchmarks.loops import new_event_loop
from asyncio_perf_lab.benchmarks.probes.lag import LoopLagProbe
from asyncio_perf_lab.benchmarks.probes.requests import RequestTracer
from asyncio_perf_lab.benchmarks.probes.session import ProbeSession
from asyncio_perf_lab.mockserver import MockServer
from asyncio_perf_lab.reports.stats import median

MODES = ("none", "lag", "full")
TARGETS = {"lag": 1.01, "full": 1.3}
DEFAULT_LATENCIES = ("5ms", "100ms")


async def _timed(run: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await run()
    return time.perf_counter() - start


async def measure_variant(
    base_url: str, scenario: scenarios.Scenario, variant: str, latency: str, rounds: int, calls: int
) -> dict[str, list[float]]:
    """Interleaved timings of one variant per mode, plus the full session's set-up cost."""
    run = scenario.variants[variant].run
    times: dict[str, list[float]] = {mode: [] for mode in (*MODES, "full_setup")}
    tracer = RequestTracer()
    async with (
        open_context(base_url, latency, scenario.workload) as plain,
        open_context(base_url, latency, scenario.workload, trace_configs=[tracer.config]) as traced,
    ):
        await run(plain)  # warm both sessions: connections, server caches
        await run(traced)
        for r in range(rounds):
            order = MODES[r % 3 :] + MODES[: r % 3]
            for mode in order:
                for _ in range(calls):
                    if mode == "none":
                        times[mode].append(await _timed(lambda: run(plain)))
                    elif mode == "lag":
                        async with LoopLagProbe():
                            times[mode].append(await _timed(lambda: run(plain)))
                    else:
                        outer = time.perf_counter()
                        async with ProbeSession(tracer=tracer) as probes:
                            inner = await _timed(lambda: run(traced))
                        probes.blocking()  # the analysis, outside the timed window
                        probes.callback_timeline()
                        times[mode].append(inner)
                        times["full_setup"].append(time.perf_counter() - outer - inner)
    return times


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main(argv: list[str] | None = None, prog: str = "asyncio-lab selfbench probe-overhead") -> int:
    """Interleave bare, lag-only and fully traced calls; print the ratios of medians."""
    parser = Parser(
        prog=prog,
        description=__doc__.splitlines()[0],
        epilog="Example: asyncio-lab selfbench probe-overhead --rounds 6",
    )
    parser.add_argument("--scenario", default="sequential_vs_gather", choices=scenarios.NAMES)
    parser.add_argument("--latency", action="append", help="repeatable; default: 5ms and 100ms")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds (default 6)")
    parser.add_argument("--calls", type=int, default=3, help="calls per mode per round")
    add_loop(parser)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.calls < 1:
        parser.error("--rounds and --calls must be >= 1")
    scenario = scenarios.load(args.scenario)
    latencies = args.latency or list(DEFAULT_LATENCIES)
    out = console(stderr=False)
    table = Table(
        title=f"probe overhead: {scenario.name}, {args.rounds} rounds x {args.calls} calls, "
        f"loop {args.loop} (ratio of medians; targets lag <= {TARGETS['lag']}, "
        f"full <= {TARGETS['full']})"
    )
    columns = ("latency", "variant", "none", "A/A noise", "lag", "lag ratio", "full", "full ratio")
    for column in columns:
        table.add_column(column, justify="left" if column in ("latency", "variant") else "right")
    table.add_column("session set-up", justify="right")
    worst = {"lag": 0.0, "full": 0.0}
    with (
        MockServer(latency="0ms") as server,
        asyncio.Runner(loop_factory=lambda: new_event_loop(args.loop)) as runner,
    ):
        for latency in latencies:
            for variant in scenario.variants:
                times = runner.run(
                    measure_variant(server.url, scenario, variant, latency, args.rounds, args.calls)
                )
                med = {mode: median(values) for mode, values in times.items()}
                bare = times["none"]
                # A/A: the bare calls against each other, the noise floor of these ratios.
                noise = median(bare[::2]) / median(bare[1::2]) if bare[1:] else 1
                cells = []
                for mode in ("lag", "full"):
                    ratio = med[mode] / med["none"]
                    worst[mode] = max(worst[mode], ratio)
                    colour = "green" if ratio <= TARGETS[mode] else "red"
                    cells += [_ms(med[mode]), f"[{colour}]{ratio:.4f}[/]"]
                table.add_row(
                    latency,
                    variant,
                    _ms(med["none"]),
                    f"{noise:.4f}",
                    cells[0],
                    cells[1],
                    cells[2],
                    cells[3],
                    _ms(med["full_setup"]),
                )
    out.print(table)
    out.print(
        f"worst ratio: lag sampler {worst['lag']:.4f} (target <= {TARGETS['lag']}), "
        f"full tracing {worst['full']:.4f} (target <= {TARGETS['full']})",
        highlight=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
