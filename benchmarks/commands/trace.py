"""``asyncio-lab trace``: why a variant (or your own async program) is slow.

``trace SCENARIO:VARIANT`` or ``trace --script PATH.py [--func main]`` runs it once under all
probes (``benchmarks.tracing``), writes a Chrome Trace Event JSON (open it in
https://ui.perfetto.dev or chrome://tracing) and prints a short summary: the callbacks that
blocked the loop and on which line, loop lag, and request phase medians.
"""

from __future__ import annotations

import argparse
import math
import traceback
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from asyncio_perf_lab.benchmarks.commands.common import (
    add_command,
    add_latency,
    add_loop,
    add_out,
    add_program,
    add_routes,
    add_scenarios,
    argument_type,
    console,
)
from asyncio_perf_lab.benchmarks.probes.requests import PHASES
from asyncio_perf_lab.benchmarks.probes.session import ProbeSession
from asyncio_perf_lab.benchmarks.probes.watchdog import DEFAULT_THRESHOLD_S
from asyncio_perf_lab.reports.errors import UsageError
from asyncio_perf_lab.reports.stats import quantile

DEFAULT_OUT_DIR = Path("results")
TOP_BLOCKING = 8
MAX_THRESHOLD_MS = 60_000


def threshold_ms(text: str) -> float:
    """A finite number of milliseconds, > 0 and at most a minute (nan would reach the trace)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--threshold-ms {text!r} is not a number of milliseconds") from None
    if not (math.isfinite(value) and 0 < value <= MAX_THRESHOLD_MS):
        raise ValueError(
            f"--threshold-ms {text} is outside what is allowed: > 0, <= {MAX_THRESHOLD_MS}"
        )
    return value


def add_parser(sub: Any) -> None:
    """Register ``trace``."""
    parser = add_command(
        sub,
        "trace",
        "Chrome trace + blocking lines of one variant or of your own async script",
        "Run one variant (or your script's async function) once under all probes and write a "
        "Chrome Trace Event JSON for Perfetto / chrome://tracing, then print the blocking "
        "callbacks with their lines, loop lag and request phases.",
        "asyncio-lab trace sequential_vs_gather:gather",
    )
    add_program(parser, "trace")
    add_out(parser, None, help="file to write (default: results/trace-<scenario>-<variant>.json)")
    add_loop(parser)
    parser.add_argument(
        "--threshold-ms",
        type=argument_type(threshold_ms),
        default=DEFAULT_THRESHOLD_S * 1000,
        help=f"a callback this long blocks the loop (default 20; > 0, at most {MAX_THRESHOLD_MS})",
    )
    add_latency(parser, help="override the scenario's latency")
    add_scenarios(parser)
    add_routes(parser)


def run(args: argparse.Namespace) -> int:
    """Trace a variant or a script, write the trace atomically, print the summary."""
    from asyncio_perf_lab.benchmarks import findings, tracing
    from asyncio_perf_lab.benchmarks.chrome_trace import LOOP_TID, PID, to_chrome_trace

    threshold_s = args.threshold_ms / 1000
    if args.script is not None and (args.routes or args.scenarios):
        raise UsageError("--scenarios and --routes apply to SCENARIO:VARIANT, not to --script")
    program = tracing.choose_program(
        args.target, args.script, args.func, args.latency, "trace", args.scenarios
    )
    out = Path(args.out) if args.out else DEFAULT_OUT_DIR / f"trace-{program.stem}.json"
    tracing.check_writable(out)
    if program.func is not None:
        probes, error, meta = tracing.trace_script(program.func, args.loop, threshold_s)
    else:
        probes, error, meta = tracing.trace_variant(
            program.scenario, program.variant, program.latency, args.loop, threshold_s, args.routes
        )
    title = program.title
    trace = to_chrome_trace(probes, title=title, metadata=meta)
    requests = probes.transports.exchanges() if probes.transports is not None else []
    trace["traceEvents"] += findings.transport_trace_events(requests, PID, LOOP_TID)
    tracing.write_trace(out, trace)
    stdout = console(stderr=False)
    print_summary(stdout, probes, title, meta)
    findings.print_transport_requests(stdout, requests)
    findings.print_findings(stdout, findings.trace_findings(probes))
    stdout.print(f"wrote {out}  (open in https://ui.perfetto.dev or chrome://tracing)")
    return report_error(stdout, title, error, out)


def report_error(out: Console, title: str, error: BaseException | None, trace: Path) -> int:
    """Say how the traced program ended if not by returning; the exit code that matches it.

    Its own ``sys.exit(N)``: 0 for N 0 or None, else 1 (2 and 3 mean bad input and inconclusive
    here). An exception: 1, with the frames of the user's own files, innermost last.
    """
    if error is None:
        return 0
    if isinstance(error, SystemExit):
        code = error.code
        failed = code not in (0, None)
        style = "red" if failed else "green"
        out.print(
            f"[{style}]{title} called sys.exit({code!r})[/]; the trace in {trace} runs up to it",
            highlight=False,
        )
        return 1 if failed else 0
    out.print(f"[red]{title} raised[/] {type(error).__name__}: {error}", highlight=False)
    for frame in own_frames(error):
        out.print(f"  {frame}", highlight=False, soft_wrap=True)
    return 1


def own_frames(error: BaseException) -> list[str]:
    """``file.py:12 in main: the line`` for each traceback frame outside the lab's packages,
    outermost first: the part of the traceback the user wrote (and what it called)."""
    import asyncio_perf_lab
    from asyncio_perf_lab import benchmarks, mockserver, reports, scenarios

    lab = [
        Path(m.__file__).resolve().parent
        for m in (asyncio_perf_lab, benchmarks, mockserver, reports, scenarios)
    ]
    frames = []
    for frame in traceback.extract_tb(error.__traceback__):
        where = Path(frame.filename).resolve()
        if any(where.is_relative_to(folder) for folder in lab):
            continue
        frames.append(f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line or ''}")
    return frames


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def print_summary(console: Console, probes: ProbeSession, title: str, meta: dict[str, Any]) -> None:
    """The short text version of the trace: blocking lines, loop lag, request phases."""
    lag = probes.lag.summary()
    timed = (
        f"{probes.callback_count()} callbacks timed"
        if probes.callbacks is not None
        else "callbacks not timed (see note)"
    )
    head = f"[bold]{title}[/]  wall {_ms(probes.wall_s)}, loop {probes.loop_name}, {timed}"
    if "server" in meta:
        head += f", server max in flight {meta['server']['max_in_flight']}"
    console.print(head, highlight=False)

    blocking = probes.blocking()
    if blocking:
        table = Table(title=f"callbacks that blocked the loop (>= {_ms(probes.threshold_s)})")
        for column in ("held", "task", "function", "where"):
            table.add_column(column, justify="right" if column == "held" else "left")
        for b in blocking[:TOP_BLOCKING]:
            where = b["where"] or "(not sampled)"
            if b["located"] == "next-await":
                where = f"{where} (next await: the line itself ran in C holding the GIL)"
            callers: list[str] = []
            for frame in b.get("stack", [])[1:]:
                at = frame.rsplit(" in ", 1)[0]
                if at != where.split("\n")[0] and at not in callers:  # comprehensions repeat
                    callers.append(at)
            callers = callers[:2]
            if callers:
                where += f"\n  called from {', '.join(callers)}"
            if b.get("inner"):
                where += f"\n  inside {b['inner']}"
            held = ("≈" if b["source"] == "watchdog" else "") + f"{b['duration_ms']:.1f} ms"
            table.add_row(held, b["task"] or b["callback"] or "-", b["function"] or "-", where)
        console.print(table)
    else:
        console.print(f"no callback held the loop for {_ms(probes.threshold_s)} or more")

    console.print(
        f"loop lag: p50 {lag['p50_ms']:.2f} ms, p99 {lag['p99_ms']:.2f} ms, "
        f"max {lag['max_ms']:.2f} ms ({lag['samples']} ticks, {lag['over_10ms']} >= 10 ms)",
        highlight=False,
    )

    spans = probes.request_spans()
    if spans:
        table = Table(title=f"{len(spans)} requests: phase medians")
        for column in ("phase", "median", "p90", "max", "requests"):
            table.add_column(column, justify="left" if column == "phase" else "right")
        for phase in (*PHASES, "total"):
            if phase == "total":
                values = [s["end_s"] - s["start_s"] for s in spans]
            else:
                values = [s["phases"][phase] for s in spans if phase in s.get("phases", {})]
            if values:
                table.add_row(
                    phase,
                    _ms(quantile(values, 0.5)),
                    _ms(quantile(values, 0.9)),
                    _ms(max(values)),
                    str(len(values)),
                )
        console.print(table)
    else:
        console.print("no HTTP requests seen")
    for note in probes.unseen():
        console.print(f"[dim]note:[/] {note}", highlight=False)
