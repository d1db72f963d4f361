"""``asyncio-lab replay``: the real event loop turn by turn, played in a self-contained page.

``replay SCENARIO:VARIANT`` runs the variant against a launched mock server (warm, timed plain,
then recorded); ``replay --script FILE [--func NAME]`` awaits your coroutine function once,
recorded. Either way the page (``--out``) plays every callback the loop ran, with the ready
queue behind it, the timers, the sockets waited on and what was printed, and ``--json`` writes
the steps. Findings (staircases of sequential requests, blocking callbacks) come with it.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.commands.common import (
    add_command,
    add_latency,
    add_loop,
    add_program,
    argument_type,
    console,
)
from asyncio_perf_lab.reports.errors import UsageError

DEFAULT_OUT_DIR = Path("results")


def step_limit(text: str) -> int:
    """A step limit: a whole number from 1 to 100000."""
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"--limit must be a whole number of steps, got {text!r}") from None
    if not 1 <= value <= 100_000:
        raise ValueError(f"--limit must be between 1 and 100000 steps, got {value}")
    return value


def add_parser(sub: Any) -> None:
    """Register ``replay``."""
    from asyncio_perf_lab.benchmarks.replay.recorder import DEFAULT_LIMIT

    parser = add_command(
        sub,
        "replay",
        "play the real event loop callback by callback in a page (like Loupe, from a real run)",
        "Record one variant (or your script's async function) one callback at a time: what ran "
        "and where it resumes, the ready queue behind it, the timer heap, the sockets waited "
        "on and what it printed; write a self-contained page that plays it, and findings.",
        "asyncio-lab replay ordering:call_soon --out call_soon.html",
    )
    add_program(parser, "replay")
    parser.add_argument(
        "--out", metavar="PAGE.html", help="default: results/replay-<scenario>-<variant>.html"
    )
    parser.add_argument("--json", metavar="STEPS.json", help="also write the steps as JSON")
    parser.add_argument(
        "--limit",
        type=argument_type(step_limit),
        default=DEFAULT_LIMIT,
        help=f"record at most this many steps (default {DEFAULT_LIMIT})",
    )
    add_loop(parser)
    add_latency(parser, help="override the scenario's latency")


def run(args: argparse.Namespace) -> int:
    """Record, write the page (and JSON) atomically, print a short summary."""
    from asyncio_perf_lab.benchmarks import tracing

    program = tracing.choose_program(args.target, args.script, args.func, args.latency, "replay")
    stem = program.stem
    out = Path(args.out) if args.out else DEFAULT_OUT_DIR / f"replay-{stem}.html"
    outputs = [out] + ([Path(args.json)] if args.json else [])
    for path in outputs:
        tracing.check_writable(path)
    if program.func is not None:
        replay, meta = _replay_script(program.func, args)
    else:
        replay, meta = _replay_scenario(program.scenario, program.variant, args)
    data = _to_json(replay, {**meta, "title": program.title, "loop": args.loop})
    _write(out, data, Path(args.json) if args.json else None)
    _summary(data, replay, out, args.json)
    return 1 if replay.error is not None else 0


def _replay_script(func: Any, args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    from asyncio_perf_lab.benchmarks.loops import new_event_loop
    from asyncio_perf_lab.benchmarks.replay.run import replay_coroutine

    with asyncio.Runner(loop_factory=lambda: new_event_loop(args.loop)) as runner:
        replay = runner.run(
            replay_coroutine(func, name=f"{func.__qualname__}()", limit=args.limit, echo=False)
        )
    return replay, {"source": "script", "script": args.script, "func": args.func}


def _replay_scenario(scenario: Any, variant: str, args: argparse.Namespace) -> tuple[Any, dict]:
    from asyncio_perf_lab.benchmarks.context import open_context
    from asyncio_perf_lab.benchmarks.loops import new_event_loop
    from asyncio_perf_lab.benchmarks.probes.transports import TransportProbe
    from asyncio_perf_lab.benchmarks.replay.run import replay_variant
    from asyncio_perf_lab.mockserver import MockServer, raise_open_files_limit

    latency = args.latency or scenario.latency
    raise_open_files_limit()

    async def replayed(url: str) -> Any:
        # Installed before the session opens: its kept-alive connections are known when reused.
        with TransportProbe() as transports:
            async with open_context(url, latency, scenario.workload) as ctx:
                return await replay_variant(
                    scenario, variant, ctx, limit=args.limit, transports=transports
                )

    with (
        MockServer(latency="0ms") as server,
        asyncio.Runner(loop_factory=lambda: new_event_loop(args.loop)) as runner,
    ):
        replay = runner.run(replayed(server.url))
    meta = {
        "source": "scenario",
        "scenario": scenario.name,
        "variant": variant,
        "latency": latency,
        "result": _short(replay.result),
    }
    return replay, meta


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _to_json(replay: Any, meta: dict[str, Any]) -> dict[str, Any]:
    from asyncio_perf_lab.benchmarks.replay.export import recording_to_json

    meta = {**meta, "python": platform.python_version()}
    if replay.error is not None:
        meta["error"] = f"{type(replay.error).__name__}: {replay.error}"
    return recording_to_json(
        replay.recorder,
        meta=meta,
        notes=replay.notes,
        overhead=replay.overhead,
        findings=replay.findings(),
        requests=replay.requests(),
    )


def _write(page: Path, data: dict[str, Any], steps_json: Path | None) -> None:
    from asyncio_perf_lab.reports.replay_page import write_replay_page
    from asyncio_perf_lab.reports.results_file import write_json_atomic

    try:
        if steps_json is not None:
            write_json_atomic(steps_json, data)
        write_replay_page(page, data)
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or page}: {exc.strerror or exc}") from None


def _summary(data: dict[str, Any], replay: Any, page: Path, steps_json: str | None) -> None:
    from asyncio_perf_lab.benchmarks.findings import print_findings

    out = console(stderr=False)
    over = data["overhead"]
    line = (
        f"[bold]{data['meta']['title']}[/]  {len(data['steps'])} steps in "
        f"{max((s['iteration'] for s in data['steps']), default=0)} loop turns, "
        f"recording took {over['recording_s'] * 1000:.1f} ms of "
        f"{over['recorded_wall_s'] * 1000:.1f}"
        " ms"
    )
    if "ratio" in over:
        line += f", {over['ratio']:.2f}x the plain run ({over['plain_wall_s'] * 1000:.3f} ms)"
    out.print(line, highlight=False)
    printed = [s["stdout"] for s in data["steps"] if s["stdout"]]
    if printed:
        out.print("printed: " + " ".join("".join(printed).split()), highlight=False)
    for note in data["notes"]:
        out.print(f"[dim]note:[/] {note}", highlight=False)
    print_findings(out, data["findings"])
    if replay.error is not None:
        out.print(f"[red]raised[/] {data['meta']['error']}", highlight=False)
    out.print(f"wrote {page}" + (f" and {steps_json}" if steps_json else ""), highlight=False)
