"""``asyncio-lab``: list, run and inspect the lab's scenarios.

Every command turns bad input into one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from asyncio_perf_lab.benchmarks import ab, compare, matrix, trace_cmd
from asyncio_perf_lab.reports.errors import UsageError
from asyncio_perf_lab.reports.units import format_seconds

# Piped output (CI logs, tests) gets a wide console so names are never cut to "sequenti…".
WIDTH = None if sys.stderr.isatty() else 160
console = Console(stderr=True, width=WIDTH)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def cmd_list(args: argparse.Namespace) -> int:
    """Print the scenarios and their variants as a table."""
    from asyncio_perf_lab import scenarios

    table = Table(title="scenarios and variants")
    for column in ("scenario", "variant", "label", "anti-pattern", "why"):
        table.add_column(column)
    for scenario in scenarios.all_scenarios():
        for i, (name, variant) in enumerate(scenario.variants.items()):
            table.add_row(
                scenario.name if i == 0 else "",
                name,
                variant.label,
                "yes" if variant.anti_pattern else "",
                variant.why,
            )
    Console(width=None if sys.stdout.isatty() else 160).print(table)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Time the selected variants, probe them, write results/<run-id>/ and print a summary."""
    from asyncio_perf_lab.benchmarks import runner
    from asyncio_perf_lab.benchmarks.loops import available_loops
    from asyncio_perf_lab.benchmarks.profiles import PROFILES
    from asyncio_perf_lab.benchmarks.selection import select
    from asyncio_perf_lab.mockserver import parse_latency

    if args.latency is not None:
        try:
            parse_latency(args.latency)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if args.loop not in available_loops():
        raise UsageError(
            f"--loop {args.loop} is not available here; allowed: {', '.join(available_loops())}"
        )
    config = runner.RunConfig(
        selections=select(args.targets),
        profile=PROFILES[args.profile],
        loop=args.loop,
        latency_override=args.latency,
        out_dir=Path(args.out),
    )
    columns = (
        TextColumn("{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            path = runner.run(config, progress)
    except runner.RunError as exc:
        console.print(f"[red]run failed:[/] {exc}", highlight=False)
        return 1
    print_summary(path)
    if not args.no_report:
        from asyncio_perf_lab.reports import build_report
        from asyncio_perf_lab.reports.results_file import ResultsFileError

        try:
            console.print(f"report: {build_report(path)}", highlight=False)
        except ResultsFileError as exc:
            console.print(f"[red]report not written:[/] {exc}", highlight=False)
            return 1
    print(path)
    if args.check_budgets:
        from asyncio_perf_lab.benchmarks.budgets import enforce_budgets

        return enforce_budgets(path, console)
    return 0


def print_summary(results_path: Path) -> None:
    """The end-of-run table: median, ideal, efficiency, loop lag, server concurrency."""
    import json

    data = json.loads(results_path.read_text())
    table = Table(title=f"run {data['run']['id']} ({data['run']['wall_s']:.0f} s)")
    for column in ("scenario", "variant", "median", "ideal", "efficiency", "lag p99", "in-flight"):
        table.add_column(column, justify="left" if column in ("scenario", "variant") else "right")
    for scenario in data["scenarios"]:
        for i, v in enumerate(scenario["variants"]):
            name = f"[red]{v['name']}[/]" if v["anti_pattern"] else v["name"]
            eff = f"{v['efficiency']:.0%}" if v["efficiency"] is not None else "-"
            table.add_row(
                scenario["name"] if i == 0 else "",
                name,
                format_seconds(v["stats"]["median"]),
                format_seconds(v["ideal_s"]),
                eff,
                f"{v['probe']['loop_lag']['p99_ms']:.1f} ms",
                str(v["probe"]["server"]["max_in_flight"]),
            )
    console.print(table)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"list": cmd_list, "run": cmd_run}
COMMANDS |= {"compare": compare.cmd_compare, "ab": ab.cmd_ab, "trace": trace_cmd.run}
COMMANDS |= {"matrix": matrix.cmd_matrix}


def build_parser() -> Parser:
    """The argument parser of every command; help texts end with an example."""
    from asyncio_perf_lab.benchmarks.loops import LOOPS
    from asyncio_perf_lab.benchmarks.profiles import PROFILES

    parser = Parser(prog="asyncio-lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    sub.add_parser(
        "list",
        help="list scenarios and variants",
        description="List scenarios and variants. Example: asyncio-lab list",
    )
    run = sub.add_parser(
        "run",
        help="time scenarios and write results/<run-id>/",
        description=(
            "Time variants in pyperf workers against the mock API, probe each once, write "
            "results.json, pyperf.json and report.html. "
            "Example: asyncio-lab run sequential_vs_gather --profile quick"
        ),
    )
    run.add_argument("targets", nargs="*", metavar="SCENARIO[:VARIANT]", help="default: all")
    run.add_argument("--profile", choices=list(PROFILES), default="default")
    run.add_argument("--latency", metavar="SPEC", help="override every scenario's latency")
    run.add_argument("--loop", choices=LOOPS, default="asyncio")
    run.add_argument("--out", default="results", metavar="DIR", help="default: results")
    run.add_argument("--no-report", action="store_true", help="skip writing report.html")
    run.add_argument(
        "--check-budgets",
        action="store_true",
        help="exit 1 naming each variant whose median/ideal is over its budget",
    )
    compare.add_parser(sub)
    ab.add_parser(sub)
    trace_cmd.add_parser(sub)
    matrix.add_parser(sub)
    return parser


def _delegated(command: str) -> Callable[[list[str]], int] | None:
    """Commands whose parser lives with their own module (interim, until commands/ owns all)."""
    if command in ("report", "trend", "readme-chart"):
        from asyncio_perf_lab.reports.__main__ import main as reports_main

        return lambda rest: reports_main(["build" if command == "report" else command, *rest])
    if command == "serve":
        from asyncio_perf_lab.mockserver.__main__ import main as serve_main

        return serve_main
    if command == "loadgen":
        from asyncio_perf_lab.benchmarks.loadgen import main as loadgen_main

        return loadgen_main
    return None


def main(argv: list[str] | None = None) -> int:
    """Parse, dispatch, and turn UsageError into one line + exit 2."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and (delegate := _delegated(argv[0])) is not None:
        return delegate(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
