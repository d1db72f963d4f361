"""``asyncio-lab ab``: two revisions or two environments (Python, packages, loop), interleaved."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.commands.common import (
    add_command,
    add_gate_flags,
    add_loop,
    add_out,
    add_profile,
    add_routes,
    add_scenarios,
    add_targets,
    argument_type,
    bounded,
    console,
    progress_bar,
)
from asyncio_perf_lab.benchmarks.scheduling import DEFAULT_ROUNDS
from asyncio_perf_lab.benchmarks.side_envs import check_python


def add_parser(sub: Any) -> None:
    """Register ``ab``."""
    parser = add_command(
        sub,
        "ab",
        "A/B two revisions or environments (Python, packages, loop), interleaved in one job",
        "Check the base revision out in a temporary git worktree (none given: both sides run "
        "the working tree), run each side in its own interpreter, cached venv of a requirement "
        "set, and event loop, time base and head interleaved (ABBA) against one mock server, "
        "re-run flagged variants, compare. Exit 0 pass, 1 regression or a failed run, 2 bad input, "
        "3 inconclusive, 130 Ctrl-C, 143 SIGTERM (what was judged is kept).",
        "asyncio-lab ab --base origin/main sequential_vs_gather; "
        "asyncio-lab ab --base-python 3.11 --head-python 3.12 sequential_vs_gather",
    )
    add_targets(parser)
    add_scenarios(parser)
    add_routes(parser)
    parser.add_argument("--base", metavar="REV", help="base commit, branch or tag")
    parser.add_argument("--head", metavar="REV", help="default: the working tree, as it is")
    for side in ("base", "head"):
        parser.add_argument(
            f"--{side}-python",
            type=argument_type(check_python),
            metavar="PY",
            help=f"{side}'s interpreter or venv python: a path, a command, or 3.X "
            "(default: this one)",
        )
        parser.add_argument(
            f"--{side}-requirements",
            type=argument_type(requirements_file),
            metavar="FILE",
            help=f"run {side} in a cached venv with this requirement set (pins) and the lab's "
            f"own dependencies, built from --{side}-python or this interpreter",
        )
        parser.add_argument(
            f"--{side}-loop",
            type=argument_type(known_loop),
            metavar="LOOP",
            help=f"{side}'s event loop (default: --loop)",
        )
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
    parser.add_argument(
        "--all-rounds",
        action="store_true",
        help="run every round even when a variant's verdict is settled (no early stop)",
    )
    add_gate_flags(parser)
    add_loop(parser)
    add_out(parser)


def requirements_file(text: str) -> Path:
    """A readable requirements file (its pins are resolved by pip when the venv is built)."""
    path = Path(text)
    if not path.is_file():
        raise ValueError(f"{text}: no such requirements file")
    return path.resolve()


def known_loop(text: str) -> str:
    """A loop the lab knows; whether the side's interpreter has it is checked in that one."""
    from asyncio_perf_lab.benchmarks.loops import LOOPS

    if text not in LOOPS:
        raise ValueError(f"unknown loop {text!r}; allowed: {', '.join(LOOPS)}")
    return text


def side_requests(args: argparse.Namespace) -> dict[str, Any]:
    """Each side's environment request; UsageError with neither a revision nor an environment."""
    from asyncio_perf_lab.benchmarks.side_envs import EnvRequest
    from asyncio_perf_lab.reports.errors import UsageError

    envs = {
        side: EnvRequest(
            python=getattr(args, f"{side}_python"),
            requirements=getattr(args, f"{side}_requirements"),
            loop=getattr(args, f"{side}_loop") or args.loop,
        )
        for side in ("base", "head")
    }
    flags = [
        f"{side}_{what}" for side in ("base", "head") for what in ("python", "requirements", "loop")
    ]
    if args.base is None and all(getattr(args, flag) is None for flag in flags):
        raise UsageError(
            "nothing to compare: give --base REV, or an environment per side "
            "(--base/--head-python, --base/--head-requirements, --base/--head-loop)"
        )
    return envs


def run(args: argparse.Namespace) -> int:
    """Run the A/B, print the comparison table; the gate's exit code (0/1/2/3)."""
    from asyncio_perf_lab.benchmarks.ab import ABConfig, ABStopped, run_ab
    from asyncio_perf_lab.benchmarks.commands.compare import print_comparison
    from asyncio_perf_lab.benchmarks.profiles import PROFILES
    from asyncio_perf_lab.reports.gate import GateSettings

    envs = side_requests(args)
    config = ABConfig(
        base=args.base,
        head=args.head,
        targets=args.targets,
        profile=PROFILES[args.profile],
        rounds=args.rounds,
        rerun=not args.no_rerun,
        early_stop=not args.all_rounds,
        settings=GateSettings(alpha=args.alpha, floor=args.floor),
        loop=args.loop,
        out_dir=Path(args.out),
        scenarios=args.scenarios,
        routes=args.routes,
        envs=envs,
    )
    err = console()
    try:
        comparison, paths = run_ab(
            config,
            lambda: progress_bar(err, label_width=48),
            say=lambda line: err.print(line, highlight=False),
        )
    except ABStopped as stop:
        kept = f"; kept what was judged: {stop.paths['json']}" if stop.paths else ""
        err.print(f"[red]ab stopped:[/] {stop.reason}{kept}", highlight=False, soft_wrap=True)
        return stop.exit_code
    print_comparison(comparison, console(stderr=False))
    spent = sorted(comparison.meta["seconds_by_scenario"].items(), key=lambda kv: -kv[1])
    where = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in spent[:4])
    err.print(
        f"ab took {comparison.meta['wall_s']:.0f} s ({where}); "
        f"wrote {paths['json']} and {paths['html']}",
        highlight=False,
        soft_wrap=True,
    )
    return comparison.exit_code
