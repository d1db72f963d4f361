"""How much does the lab's measurement add? Its timing of a variant vs a bare perf_counter loop.

Both measure the same coroutine (``sequential_vs_gather:gather`` by default) against the same mock
server in one run, interleaved A B A B, so machine drift hits both alike. Prints the ratio of
medians; the target is <= 1.03. Usage: ``make bench-overhead`` (``asyncio-lab selfbench
lab-overhead``).
"""

from __future__ import annotations

import asyncio

from rich.table import Table

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks.commands.common import Parser, add_profile, console
from asyncio_perf_lab.benchmarks.context import open_context
from asyncio_perf_lab.benchmarks.profiles import PROFILES
from asyncio_perf_lab.benchmarks.selection import select
from asyncio_perf_lab.benchmarks.selfbench.hand_timing import time_awaits
from asyncio_perf_lab.benchmarks.workers import WorkerTask, time_in_workers
from asyncio_perf_lab.mockserver import MockServer, parse_latency
from asyncio_perf_lab.reports.stats import median


async def bare_loop(
    base_url: str, scenario: scenarios.Scenario, variant: str, n: int
) -> list[float]:
    """What a careful person would write by hand: warm up once, then time each await."""
    async with open_context(base_url, scenario.latency, scenario.workload) as ctx:
        return await time_awaits(scenario.variants[variant].run, ctx, n)


def main(argv: list[str] | None = None, prog: str = "asyncio-lab selfbench lab-overhead") -> int:
    """Interleave the lab's timing and a bare loop; print each round and the ratio of medians."""
    parser = Parser(
        prog=prog,
        description=__doc__.splitlines()[0],
        epilog="Example: asyncio-lab selfbench lab-overhead --rounds 4",
    )
    parser.add_argument("--target", default="sequential_vs_gather:gather")
    parser.add_argument("--rounds", type=int, default=4, help="A/B rounds (default 4)")
    add_profile(parser, default="quick")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds {args.rounds}: allowed: 1 or more")
    selection = select([args.target])[0]
    scenario, variant = selection.scenario, selection.variants[0]
    profile = PROFILES[args.profile]
    ideal = scenario.variants[variant].ideal(
        scenario.workload, parse_latency(scenario.latency).nominal_s, scenarios.Machine()
    )
    lab, bare = [], []
    table = Table(title=f"lab vs bare perf_counter loop: {args.target}")
    for column in ("round", "lab median", "bare median", "ratio"):
        table.add_column(column, justify="right")
    with MockServer() as server:
        for i in range(args.rounds):
            task = WorkerTask(
                scenario.name,
                variant,
                server.url,
                scenario.latency,
                scenario.constants(scenario.workload),
            )
            bench = time_in_workers(task, profile, ideal)
            values = list(bench.get_values())
            lab.extend(values)
            hand = asyncio.run(bare_loop(server.url, scenario, variant, len(values)))
            bare.extend(hand)
            a, b = median(values), median(hand)
            table.add_row(str(i + 1), f"{a * 1e3:.2f} ms", f"{b * 1e3:.2f} ms", f"{a / b:.4f}")
    ratio = median(lab) / median(bare)
    table.add_row(
        "all",
        f"{median(lab) * 1e3:.2f} ms",
        f"{median(bare) * 1e3:.2f} ms",
        f"{ratio:.4f}",
    )
    out = console(stderr=False)
    out.print(table)
    out.print(f"overhead ratio (lab/bare, medians): {ratio:.4f}  target <= 1.03")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
