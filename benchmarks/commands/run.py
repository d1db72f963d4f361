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
    bounded,
    console,
    progress_bar,
)
from asyncio_perf_lab.benchmarks.deadlines import Limits


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
    parser.add_argument(
        "--phase-limit",
        type=bounded(float, 1, 86400, "--phase-limit"),
        default=Limits.cap_s,
        metavar="SECONDS",
        help="the longest one variant's probe or timing may take (default 900); a variant "
        "that cannot fit even at its ideal time is refused before the run starts",
    )
    parser.add_argument("--no-report", action="store_true", help="skip writing report.html")
    parser.add_argument(
        "--check-budgets",
        action="store_true",
        help="exit 1 naming each variant whose median/ideal is over its budget",
    )


def run(args: argparse.Namespace) -> int:
    """Run, print the summary, write the report; the exit code says how it went.

    0 done, 1 a variant, its worker or the mock server failed (or the report could not be
    written), 130 Ctrl-C, 143 SIGTERM; what was measured before a stop is kept, marked incomplete.
    """
    from asyncio_perf_lab.benchmarks import runner
    from asyncio_perf_lab.benchmarks.deadlines import check_selections
    from asyncio_perf_lab.benchmarks.profiles import PROFILES
    from asyncio_perf_lab.benchmarks.run_dirs import check_out_dir, point_latest
    from asyncio_perf_lab.benchmarks.selection import select
    from asyncio_perf_lab.benchmarks.stopping import sigterm_stops_the_run
    from asyncio_perf_lab.reports.errors import UsageError

    err = console()
    limits = Limits(cap_s=args.phase_limit)
    config = runner.RunConfig(
        selections=select(args.targets, args.scenarios),
        profile=PROFILES[args.profile],
        loop=args.loop,
        latency_override=args.latency,
        out_dir=Path(args.out),
        scenarios=args.scenarios,
        routes=args.routes,
        limits=limits,
    )
    # Refused at the door, before a server starts: what cannot fit its limits, an --out that
    # cannot be written or has a real folder named `latest`.
    check_selections(config.selections, config.profile, config.latency_override, limits)
    check_out_dir(config.out_dir)
    err.print(limits.describe(), highlight=False, soft_wrap=True)
    code = 0
    try:
        with sigterm_stops_the_run(), progress_bar(err, label_width=40) as progress:
            path = runner.run(config, progress)
    except runner.RunStopped as stop:
        failed = "failed" if stop.exit_code == 1 else "stopped"
        err.print(f"[red]run {failed}:[/] {stop.reason}", highlight=False, soft_wrap=True)
        if stop.path is None:
            err.print("nothing was measured: no results written", highlight=False)
            return stop.exit_code
        err.print(
            f"incomplete results: {stop.path} (missing {len(stop.missing)}: "
            f"{', '.join(stop.missing)})",
            highlight=False,
            soft_wrap=True,
        )
        path, code = stop.path, stop.exit_code
    try:
        point_latest(config.out_dir, path.parent)
    except UsageError as exc:  # the results are written: say so, do not lose them
        err.print(f"[yellow]note:[/] {exc}", highlight=False)
    print_summary(path, err)
    if not args.no_report:
        from asyncio_perf_lab.reports import build_report

        try:
            err.print(f"report: {build_report(path)}", highlight=False)
        except UsageError as exc:  # the results file unreadable, or the page unwritable
            err.print(f"[red]report not written:[/] {exc}", highlight=False)
            return code or 1
    print(path)
    budgets = enforce_budgets(path, err) if args.check_budgets else 0
    return code or budgets


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


IDEAL_ABOVE = "ideal above measured: model or calibration is wrong"


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
    for scenario in data["scenarios"]:  # the runner's floor guard, never hidden
        for v in scenario["variants"]:
            if v.get("ideal_above_measured"):
                out.print(
                    f"[yellow]warning:[/] {scenario['name']}:{v['name']}: {IDEAL_ABOVE} "
                    f"(ideal {format_seconds(v['ideal_s'])}, fastest "
                    f"{format_seconds(min(v['values']))})",
                    highlight=False,
                )
    if spent := where_the_time_went(data):
        out.print(spent, highlight=False, soft_wrap=True)


def where_the_time_went(data: dict[str, Any], top: int = 4) -> str:
    """``slowest: server_load 36 s (probes 13, workers 23 (process starts 2)); ...``."""
    timed = [s for s in data["scenarios"] if s.get("seconds")]  # older results have none
    timed.sort(key=lambda s: -s["seconds"]["total"])
    parts = []
    for scenario in timed[:top]:
        seconds = scenario["seconds"]
        phases = ", ".join(
            f"{phase} {seconds[phase]:.0f}"
            for phase in ("calibration", "probes", "workers")
            if seconds[phase] >= 0.5
        )
        if seconds.get("worker_overhead", 0.0) >= 0.5:
            phases += f" (process starts {seconds['worker_overhead']:.0f})"
        parts.append(f"{scenario['name']} {seconds['total']:.0f} s ({phases})")
    return f"slowest: {'; '.join(parts)}" if parts else ""
