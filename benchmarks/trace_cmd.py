"""``asyncio-lab trace``: why a variant (or your own async program) is slow.

Timings say how long; a trace shows why. ``trace SCENARIO:VARIANT`` runs the variant once warm,
then once inside a ``ProbeSession`` against a launched mock server (the scenario's latency and
default workload). ``trace --script PATH.py [--func main]`` loads your file with importlib and
awaits its coroutine function once under the same probes. Either way it writes a Chrome Trace
Event JSON (open it in https://ui.perfetto.dev or chrome://tracing) and prints a short summary:
the callbacks that blocked the loop and on which line, loop lag, and request phase medians.

Your own aiohttp sessions are traced when they accept ``trace_configs``: while the script runs,
``aiohttp.ClientSession.__init__`` is patched to append the lab's TraceConfig (and restored
after). Sessions created before that (at import time) and other HTTP clients stay invisible; the
summary says so. The script's ``if __name__ == "__main__":`` block does not run.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from asyncio_perf_lab.benchmarks.chrome_trace import to_chrome_trace
from asyncio_perf_lab.benchmarks.probes.callbacks import DEFAULT_THRESHOLD_S
from asyncio_perf_lab.benchmarks.probes.requests import PHASES
from asyncio_perf_lab.benchmarks.probes.session import ProbeSession
from asyncio_perf_lab.reports.errors import UsageError
from asyncio_perf_lab.reports.stats import quantile

DEFAULT_OUT_DIR = Path("results")
WIDTH = None if sys.stdout.isatty() else 160  # piped output: never cut paths to "scen…"
TOP_BLOCKING = 8


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``trace`` command on the CLI's subparsers."""
    from asyncio_perf_lab.benchmarks.loops import LOOPS

    parser = subparsers.add_parser(
        "trace",
        help="Chrome trace + blocking lines of one variant or of your own async script",
        description=(
            "Run one variant (or your script's async function) once under all probes and write "
            "a Chrome Trace Event JSON for Perfetto / chrome://tracing, then print the blocking "
            "callbacks with their lines, loop lag and request phases. "
            "Example: asyncio-lab trace sequential_vs_gather:gather"
        ),
    )
    parser.add_argument("target", nargs="?", metavar="SCENARIO:VARIANT")
    parser.add_argument("--script", metavar="PATH.py", help="trace your own async program")
    parser.add_argument("--func", default="main", help="async function of --script (default main)")
    parser.add_argument(
        "--out", metavar="FILE.json", help="default: results/trace-<scenario>-<variant>.json"
    )
    parser.add_argument("--loop", choices=LOOPS, default="asyncio")
    parser.add_argument(
        "--threshold-ms",
        type=float,
        default=DEFAULT_THRESHOLD_S * 1000,
        help="a callback this long blocks the loop (default 20)",
    )
    parser.add_argument("--latency", metavar="SPEC", help="override the scenario's latency")
    return parser


def run(args: argparse.Namespace) -> int:
    """Trace a variant or a script, write the trace atomically, print the summary."""
    from asyncio_perf_lab.benchmarks.loops import available_loops

    if (args.target is None) == (args.script is None):
        raise UsageError("trace needs exactly one of SCENARIO:VARIANT or --script PATH.py")
    if args.threshold_ms <= 0:
        raise UsageError(f"--threshold-ms must be > 0, got {args.threshold_ms:g}")
    if args.loop not in available_loops():
        raise UsageError(
            f"--loop {args.loop} is not available here; allowed: {', '.join(available_loops())}"
        )
    threshold_s = args.threshold_ms / 1000
    if args.script is not None:
        if args.latency is not None:
            raise UsageError("--latency applies to scenarios only, not to --script")
        func = load_script(args.script, args.func)
        stem = f"{Path(args.script).stem}-{args.func}"
        out = Path(args.out) if args.out else DEFAULT_OUT_DIR / f"trace-{stem}.json"
        check_writable(out)
        probes, error, meta = trace_script(func, args.loop, threshold_s)
        title = f"{args.script} {args.func}()"
    else:
        scenario, variant, latency = _resolve(args.target, args.latency)
        out = (
            Path(args.out)
            if args.out
            else DEFAULT_OUT_DIR / f"trace-{scenario.name}-{variant}.json"
        )
        check_writable(out)
        probes, error, meta = trace_variant(scenario, variant, latency, args.loop, threshold_s)
        title = f"{scenario.name}:{variant}"
    write_trace(out, to_chrome_trace(probes, title=title, metadata=meta))
    console = Console(width=WIDTH)
    print_summary(console, probes, title, meta)
    if error is not None:
        console.print(f"[red]{title} raised[/] {type(error).__name__}: {error}", highlight=False)
    console.print(f"wrote {out}  (open in https://ui.perfetto.dev or chrome://tracing)")
    return 1 if error is not None else 0


def _resolve(target: str, latency: str | None) -> tuple[Any, str, str]:
    from asyncio_perf_lab.benchmarks.selection import select
    from asyncio_perf_lab.mockserver import parse_latency

    name, _, variant = target.partition(":")
    selection = select([target])[0]
    if not variant:
        raise UsageError(
            f"trace needs one variant: {name}:VARIANT; allowed: "
            f"{', '.join(selection.scenario.variants)}"
        )
    if latency is not None:
        try:
            parse_latency(latency)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return selection.scenario, variant, latency or selection.scenario.latency


def trace_variant(
    scenario: Any, variant: str, latency: str, loop: str, threshold_s: float
) -> tuple[ProbeSession, BaseException | None, dict[str, Any]]:
    """Run the variant warm, then under probes against a launched mock server."""
    from asyncio_perf_lab.benchmarks.loops import new_event_loop
    from asyncio_perf_lab.benchmarks.probe_run import probe_variant
    from asyncio_perf_lab.mockserver import MockServer, raise_open_files_limit

    raise_open_files_limit()
    probes = ProbeSession(threshold_s=threshold_s)
    meta: dict[str, Any] = {
        "scenario": scenario.name,
        "variant": variant,
        "latency": latency,
        "workload": scenario.constants(),
    }
    with (
        MockServer(latency="0ms") as server,
        asyncio.Runner(loop_factory=lambda: new_event_loop(loop)) as runner,
    ):
        probe, _ = runner.run(
            probe_variant(
                scenario.variants[variant],
                server.url,
                latency,
                scenario.workload,
                server,
                session=probes,
            )
        )
    meta["server"] = probe["server"]
    meta["overhead"] = probe["overhead"]
    return probes, None, meta


def load_script(path: str, func: str) -> Callable[[], Coroutine[Any, Any, Any]]:
    """Import a user's file and return its no-argument coroutine function ``func``."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--script {path}: no such file")
    if file.suffix != ".py":
        raise UsageError(f"--script {path}: not a .py file")
    spec = importlib.util.spec_from_file_location(f"lab_traced_{file.stem}", file)
    if spec is None or spec.loader is None:
        raise UsageError(f"--script {path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(file.resolve().parent))  # so the script's sibling imports work
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        first = (str(exc).splitlines() or [""])[0]
        raise UsageError(
            f"--script {path}: importing it raised {type(exc).__name__}: {first}"
        ) from None
    fn = getattr(module, func, None)
    async_funcs = [n for n, v in vars(module).items() if inspect.iscoroutinefunction(v)]
    if fn is None:
        found = ", ".join(async_funcs) or "none"
        raise UsageError(f"--script {path} has no function {func!r}; async functions: {found}")
    if not inspect.iscoroutinefunction(fn):
        raise UsageError(f"--func {func} in {path} is not an async def function")
    required = [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if required:
        raise UsageError(f"--func {func} in {path} must take no arguments; it needs {required}")
    return fn


def trace_script(
    func: Callable[[], Coroutine[Any, Any, Any]], loop: str, threshold_s: float
) -> tuple[ProbeSession, BaseException | None, dict[str, Any]]:
    """Await the user's function once under all probes; its exception is returned, not raised."""
    from asyncio_perf_lab.benchmarks.loops import new_event_loop

    probes = ProbeSession(threshold_s=threshold_s, trace_new_sessions=True)

    async def traced() -> BaseException | None:
        task = asyncio.current_task()
        if task is not None:
            task.set_name(f"{func.__qualname__}()")  # name the track after the user's function
        async with probes:
            try:
                await func()
            except Exception as exc:  # the user's bug: still show the trace up to it
                return exc
        return None

    with asyncio.Runner(loop_factory=lambda: new_event_loop(loop)) as runner:
        error = runner.run(traced())
    return probes, error, {"script_func": func.__qualname__}


def check_writable(path: Path) -> None:
    """Refuse an --out that cannot be written before any work is done."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write --out {path}: {exc.strerror or exc}") from None
    if path.is_dir() or not os.access(path.parent, os.W_OK):
        raise UsageError(f"cannot write --out {path}: not a writable file path")


def write_trace(path: Path, trace: dict[str, Any]) -> None:
    """Write the trace atomically; an unwritable place is bad input."""
    from asyncio_perf_lab.reports.results_file import write_json_atomic

    try:
        write_json_atomic(path, trace)
    except OSError as exc:
        raise UsageError(f"cannot write --out {path}: {exc.strerror or exc}") from None


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
