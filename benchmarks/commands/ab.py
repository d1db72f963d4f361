"""``asyncio-lab ab``: a base revision against the working tree, interleaved in one job."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.ab import DEFAULT_ROUNDS
from asyncio_perf_lab.benchmarks.commands.common import (
    add_command,
    add_gate_flags,
    add_loop,
    add_out,
    add_profile,
    add_routes,
    add_scenarios,
    add_targets,
    bounded,
    console,
    progress_bar,
)


def add_parser(sub: Any) -> None:
    """Register ``ab``."""
    parser = add_command(
        sub,
        "ab",
        "A/B a base revision against the working tree, interleaved in one job",
        "Check the base revision out in a temporary git worktree, time base and head "
        "interleaved (ABBA) against one mock server, re-run flagged variants, compare. "
        "Exit 0 pass, 1 regression, 2 bad input, 3 inconclusive.",
        "asyncio-lab ab --base origin/main sequential_vs_gather",
    )
    add_targets(parser)
    add_scenarios(parser)
    add_routes(parser)
    parser.add_argument("--base", required=True, metavar="REV", help="base commit, branch or tag")
    parser.add_argument("--head", metavar="REV", help="default: the working tree, as it is")
    add_profile(parser, default="quick")
    parser.add_argument(
        "--rounds",
        type=bounded(int, 1, 1000, "--rounds"),
        default=DEFAULT_ROUNDS,
        metavar="N",
        help=f"ABBA rounds (default {DEFAULT_ROUNDS})",
    )
    parser.add_argument(
        "--no-rerun", action="store_true", help="judge flagged variants without re-run"
    )
    add_gate_flags(parser)
    add_loop(parser)
    add_out(parser)


def run(args: argparse.Namespace) -> int:
    """Run the A/B, print the comparison table; the gate's exit code (0/1/2/3)."""
    from asyncio_perf_lab.benchmarks.ab import ABConfig, run_ab
    from asyncio_perf_lab.benchmarks.commands.compare import print_comparison
    from asyncio_perf_lab.benchmarks.profiles import PROFILES
    from asyncio_perf_lab.benchmarks.workers import RunError
    from asyncio_perf_lab.reports.gate import GateSettings

    config = ABConfig(
        base=args.base,
        head=args.head,
        targets=args.targets,
        profile=PROFILES[args.profile],
        rounds=args.rounds,
        rerun=not args.no_rerun,
        settings=GateSettings(alpha=args.alpha, floor=args.floor),
        loop=args.loop,
        out_dir=Path(args.out),
        scenarios=args.scenarios,
        routes=args.routes,
    )
    err = console()
    try:
        comparison, paths = run_ab(config, lambda: progress_bar(err, label_width=48))
    except RunError as exc:
        err.print(f"[red]ab failed:[/] {exc}", highlight=False)
        return 1
    print_comparison(comparison, console(stderr=False))
    err.print(
        f"ab took {comparison.meta['wall_s']:.0f} s; wrote {paths['json']} and {paths['html']}",
        highlight=False,
        soft_wrap=True,
    )
    return comparison.exit_code
