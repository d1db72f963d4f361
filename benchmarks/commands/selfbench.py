"""``asyncio-lab selfbench NAME``: the lab measuring itself (``benchmarks/selfbench/``).

Each self-benchmark keeps its own flags (``asyncio-lab selfbench NAME --help``); this command
only picks one and hands it the rest of the command line.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from asyncio_perf_lab.benchmarks.commands.common import add_command

# name -> (module in benchmarks/selfbench/, what it answers)
BENCHES = {
    "server": ("server_throughput", "requests/s of the mock server vs a bare aiohttp handler"),
    "lab-overhead": ("lab_overhead", "the lab's timing vs a bare perf_counter loop"),
    "probe-overhead": ("probe_overhead", "what the probes add to a variant's time"),
    "gate": ("gate_power", "false-alarm rate and power of the regression gate"),
}


def add_parser(sub: Any) -> None:
    """Register ``selfbench``."""
    listing = "; ".join(f"{name}: {what}" for name, (_, what) in BENCHES.items())
    parser = add_command(
        sub,
        "selfbench",
        "the lab measuring itself: server throughput, overheads, gate power",
        f"Run one self-benchmark ({listing}). Its own flags follow its name.",
        "asyncio-lab selfbench gate --trials 200",
    )
    parser.add_argument("bench", choices=list(BENCHES), metavar="NAME", help=", ".join(BENCHES))
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the self-benchmark's own flags")


def run(args: argparse.Namespace) -> int:
    """Run the chosen self-benchmark with its own flags."""
    module, _ = BENCHES[args.bench]
    bench = importlib.import_module(f"asyncio_perf_lab.benchmarks.selfbench.{module}")
    return bench.main(args.args, prog=f"asyncio-lab selfbench {args.bench}")
