"""``asyncio-lab run``: time the variants, probe them, write results/<run-id>/ and a summary."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.commands.common import (
    add_command,
    add_latency,
    add_loop,
    add_out,
    add_profile,
    add_routes,
    add_scenarios,
    add_targets,
    console,
    progress_bar,
)


def add_parser(sub: Any) -> None:
    """Register ``run``."""
    parser = add_command(
        sub,
        "run",
        "time scenarios and write results/<run-id>/",
        "Time variants in pyperf workers against the mock API, probe each once, write "
        "results.json, pyperf.json and report.html.",
        "asyncio-lab run sequential_vs_gather --profile quick",
    )
    add_targets(parser)
    add_scenarios(parser)
    add_routes(parser)
    add_profile(parser, default="default")
    add_latency(parser, help="override every scenario's latency")
    add_loop(parser)
    add_out(parser)
    parser.add_argument("--no-report", action="store_true", help="skip writing report.html")
    parser.add_argument(
        "--check-budgets",
        action="store_true",
        help="exit 1 naming each variant whose median/ideal is over its budget",
    )


def run(args: argparse.Namespace) -> int:
    """Run, print the summary, write the report; 1 if a worker or the report failed."""
    from asyncio_perf_lab.benchmarks import runner
    from asyncio_perf_lab.benchmarks.profiles import PROFILES
    from asyncio_perf_lab.benchmarks.selection import select
    from asyncio_perf_lab.benchmarks.workers import RunError

    err = console()
    config = runner.RunConfig(
        selections=select(args.targets, args.scenarios),
        profile=PROFILES[args.profile],
        loop=args.loop,
        latency_override=args.latency,
        out_dir=Path(args.out),
        scenarios=args.scenarios,
        routes=args.routes,
    )
    try:
        with progress_bar(err, label_width=40) as progress:
            path = runner.run(config, progress)
    except RunError as exc:
        err.print(f"[red]run failed:[/] {exc}", highlight=False)
        return 1
    print_summary(path, err)
    if not args.no_report:
        from asyncio_perf_lab.reports import build_report
        from asyncio_perf_lab.reports.errors import UsageError

        try:
            err.print(f"report: {build_report(path)}", highlight=False)
        except UsageError as exc:  # the results file unreadable, or the page unwritable
            err.print(f"[red]report not written:[/] {exc}", highlight=False)
            return 1
    print(path)
    return enforce_budgets(path, err) if args.check_budgets else 0


def enforce_budgets(results_path: Path, out: Any) -> int:
    """``--check-budgets``: each variant over its budget, then a tally; 1 if any is over.

    The rule (median/ideal against the budget) is ``reports.budgets``; this is its console.
    """
    from asyncio_perf_lab.reports.budgets import check_budgets
    from asyncio_perf_lab.reports.results_file import load_results

    checks = check_budgets(load_results(results_path))
    over = [check for check in checks if check.over]
    for check in over:
        out.print(f"[red]over budget:[/] {check.describe()}", highlight=False)
    out.print(
        f"budgets: {len(checks) - len(over)} of {len(checks)} gated variants within budget"
        + (f", {len(over)} over -> exit 1" if over else ""),
        highlight=False,
    )
    return 1 if over else 0


def print_summary(results_path: Path, out: Any) -> None:
    """The end-of-run table: median, ideal, efficiency, loop lag, server concurrency."""
    import json

    from rich.table import Table

    from asyncio_perf_lab.reports.units import format_seconds

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
    out.print(table)
