"""Tracing one run under every probe: a scenario variant, or an async function of a user's file.

Timings say how long; a trace shows why. A variant runs once warm, then once inside a
``ProbeSession`` against a launched mock server (the scenario's latency and default workload). A
user's file is loaded with importlib and its coroutine function awaited once under the same
probes. Both return the session, for the Chrome export (``benchmarks.chrome_trace``) and the
command's summary (``asyncio-lab trace``).

Your own aiohttp sessions are traced when they accept ``trace_configs``: while the script runs,
``aiohttp.ClientSession.__init__`` is patched to append the lab's TraceConfig (and restored
after). Sessions created before that (at import time) and other HTTP clients stay invisible; the
summary says so. The script's ``if __name__ == "__main__":`` block does not run.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.probes.session import ProbeSession
from asyncio_perf_lab.reports.errors import UsageError

__all__ = [
    "Program",
    "check_writable",
    "choose_program",
    "load_script",
    "trace_script",
    "trace_variant",
    "write_trace",
]


@dataclass(frozen=True)
class Program:
    """What ``trace`` or ``replay`` runs: a scenario's variant, or a user's async function."""

    title: str  # "sequential_vs_gather:gather" or "app.py main()"
    stem: str  # for default file names: "sequential_vs_gather-gather", "app-main"
    scenario: Any = None
    variant: str = ""
    latency: str = ""
    func: Callable[[], Coroutine[Any, Any, Any]] | None = None


def choose_program(
    target: str | None,
    script: str | None,
    func: str,
    latency: str | None,
    verb: str,
    scenarios_dir: Path | None = None,
) -> Program:
    """The one program of ``SCENARIO:VARIANT`` or ``--script PATH.py --func NAME``.

    Bad input is a UsageError naming it; ``verb`` (trace, replay) names the command in it.
    ``latency`` (already checked by the ``--latency`` flag) overrides the scenario's;
    ``scenarios_dir``: a user's scenario folder, whose scenarios can be named too.
    """
    from asyncio_perf_lab.benchmarks.selection import select

    if (target is None) == (script is None):
        raise UsageError(f"{verb} needs exactly one of SCENARIO:VARIANT or --script PATH.py")
    if script is not None:
        if latency is not None:
            raise UsageError("--latency applies to scenarios only, not to --script")
        loaded = load_script(script, func)
        return Program(f"{script} {func}()", f"{Path(script).stem}-{func}", func=loaded)
    assert target is not None
    name, _, variant = target.partition(":")
    scenario = select([target], scenarios_dir)[0].scenario
    if not variant:
        raise UsageError(
            f"{verb} needs one variant: {name}:VARIANT; allowed: {', '.join(scenario.variants)}"
        )
    return Program(
        f"{scenario.name}:{variant}",
        f"{scenario.name}-{variant}",
        scenario,
        variant,
        latency or scenario.latency,
    )


def trace_variant(
    scenario: Any,
    variant: str,
    latency: str | None,
    loop: str,
    threshold_s: float,
    routes: Path | None = None,
) -> tuple[ProbeSession, BaseException | None, dict[str, Any]]:
    """Run the variant warm, then under probes against a launched mock server (with the user's
    ``routes``; a ``latency`` of None sends none, so each route's own applies)."""
    from asyncio_perf_lab.benchmarks.loops import new_event_loop
    from asyncio_perf_lab.benchmarks.probe_run import probe_variant
    from asyncio_perf_lab.mockserver import MockServer, raise_open_files_limit

    raise_open_files_limit()
    probes = ProbeSession(threshold_s=threshold_s, transports=True)
    meta: dict[str, Any] = {
        "scenario": scenario.name,
        "variant": variant,
        "latency": latency,
        "workload": scenario.constants(),
    }
    with (
        MockServer(latency="0ms", routes=routes) as server,
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
    """Await the user's function once under all probes; its exception (or SystemExit) is
    returned, not raised."""
    from asyncio_perf_lab.benchmarks.loops import new_event_loop

    probes = ProbeSession(threshold_s=threshold_s, trace_new_sessions=True, transports=True)

    async def traced() -> BaseException | None:
        task = asyncio.current_task()
        if task is not None:
            task.set_name(f"{func.__qualname__}()")  # name the track after the user's function
        async with probes:
            try:
                await func()
            except (Exception, SystemExit) as exc:  # its bug or its sys.exit: trace up to it
                return exc
        return None

    # The lab's own objects (50k from its imports) are collected and frozen out of the gc first:
    # a full collection of them inside the traced window would be reported as the user's code
    # holding the loop for ~30 ms. What the program itself allocates is still collected.
    gc.collect()
    gc.freeze()
    try:
        with asyncio.Runner(loop_factory=lambda: new_event_loop(loop)) as runner:
            error = runner.run(traced())
    finally:
        gc.unfreeze()
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
