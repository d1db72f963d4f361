"""Replay one run: a coroutine function awaited once with the loop recorded, then its findings.

``replay_coroutine`` is the one recorded run: it installs the transport probe (requests from
any asyncio client) and the ``Recorder``, runs the coroutine as its own task, and stops
recording the moment that task is done, so the harness's own steps never show. A scenario
variant goes through ``replay_variant``: warm once, timed once plain, then recorded, so the
recording's overhead is a measured ratio (recorded wall time over plain wall time).

The ``ordering`` puzzles log labels instead of printing them; ``CONSOLE_HOOKS`` shows each
logged label in the console pane of the step that logged it, so the replay's printed order can
be held against the order the puzzle returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from asyncio_perf_lab.benchmarks.findings import blocking_findings, staircases
from asyncio_perf_lab.benchmarks.probes.transports import TransportProbe
from asyncio_perf_lab.benchmarks.replay.recorder import DEFAULT_LIMIT, Recorder, supports_replay
from asyncio_perf_lab.benchmarks.replay.tasks import TaskStepRecorder

__all__ = ["CONSOLE_HOOKS", "Replay", "replay_coroutine", "replay_variant"]

# scenario -> (class in its module, method whose first argument is the label it logs)
CONSOLE_HOOKS = {"ordering": ("_Recorder", "log")}
DEFAULT_THRESHOLD_S = 0.020


@dataclass
class Replay:
    """A finished recording with what was measured around it."""

    recorder: Recorder | TaskStepRecorder
    transports: TransportProbe
    error: BaseException | None
    result: Any
    notes: list[str]
    overhead: dict[str, Any]

    def findings(self, threshold_s: float = DEFAULT_THRESHOLD_S) -> list[dict[str, Any]]:
        """Staircases among the requests seen, and steps that held the loop too long."""
        long_steps = [
            {
                "duration_ms": s.duration_ms,
                "task": s.named.task,
                "callback": s.named.name,
                "where": s.named.where,
                "function": None,
                "start_s": s.t_ms / 1000,
            }
            for s in self.recorder.steps
            if s.duration_ms >= threshold_s * 1000
        ]
        return staircases(self.requests()) + blocking_findings(long_steps)

    def requests(self) -> list[dict[str, Any]]:
        """The requests seen at the transport level while recording (times since its start)."""
        return [r for r in self.transports.exchanges() if r["sent_s"] >= 0]


async def replay_coroutine(
    func: Callable[[], Coroutine[Any, Any, Any]],
    *,
    name: str,
    limit: int = DEFAULT_LIMIT,
    echo: bool = True,
    plain_wall_s: float | None = None,
    on_start: Callable[[Recorder | TaskStepRecorder], None] | None = None,
    transports: TransportProbe | None = None,
) -> Replay:
    """Await ``func()`` once as task ``name`` with the running loop recorded step by step.

    ``transports``: a probe the caller installed earlier (and removes), so connections opened
    before the recording (kept alive by a session) are known too; by default one is installed
    for the recording alone.
    """
    loop = asyncio.get_running_loop()
    own_probe = transports is None
    transports = transports or TransportProbe()
    notes: list[str] = []
    if supports_replay(loop):
        recorder: Recorder | TaskStepRecorder = Recorder(
            limit=limit, echo=echo, describe_io=transports.request_for
        )
    else:
        recorder = TaskStepRecorder(limit=limit, echo=echo)
        notes.append(recorder.missing(loop))
    if own_probe:
        transports.install(loop)
    recorder.install(loop)
    transports.t0 = recorder.t0
    if on_start is not None:
        on_start(recorder)
    error = result = None
    try:
        task = recorder.create_task(loop, func(), name)
        recorder.stop_when_done(task)
        try:
            result = await task
        except Exception as exc:  # the program's own error: still show the run up to it
            error = exc
    finally:
        recorder.uninstall()
        if own_probe:
            transports.uninstall()
    notes += transports.unseen()
    recorded = recorder.wall_s
    overhead: dict[str, Any] = {
        "recorded_wall_s": round(recorded, 6),
        "recording_s": round(recorder.record_s, 6),
        "recording_share": round(recorder.record_s / recorded, 4) if recorded > 0 else None,
        "steps": len(recorder.steps),
    }
    if plain_wall_s:
        overhead["plain_wall_s"] = round(plain_wall_s, 6)
        overhead["ratio"] = round(recorded / plain_wall_s, 3)
    return Replay(recorder, transports, error, result, notes, overhead)


@contextlib.contextmanager
def console_hook(scenario: Any, recorders: list[Any]) -> Iterator[None]:
    """Show what a scenario logs (``CONSOLE_HOOKS``) in the console of the step that logs it."""
    hook = CONSOLE_HOOKS.get(scenario.name)
    if hook is None:
        yield
        return
    cls = getattr(scenario.module, hook[0])
    original = getattr(cls, hook[1])

    def logged(self: Any, label: Any, *args: Any, **kwargs: Any) -> Any:
        for recorder in recorders:
            recorder.out.append(f"{label}\n")
        return original(self, label, *args, **kwargs)

    setattr(cls, hook[1], logged)
    try:
        yield
    finally:
        setattr(cls, hook[1], original)


async def replay_variant(
    scenario: Any,
    variant: str,
    ctx: Any,
    *,
    limit: int = DEFAULT_LIMIT,
    echo: bool = False,
    transports: TransportProbe | None = None,
) -> Replay:
    """Run a variant warm, then timed plain, then recorded: the replay and its measured overhead."""
    run = scenario.variants[variant].run
    await run(ctx)  # warm: connections, caches, executors
    start = time.perf_counter()
    await run(ctx)
    plain = time.perf_counter() - start
    ctx.observations.clear()
    recorders: list[Any] = []
    with console_hook(scenario, recorders):
        return await replay_coroutine(
            lambda: run(ctx),
            name=f"{scenario.name}:{variant}",
            limit=limit,
            echo=echo,
            plain_wall_s=plain,
            on_start=recorders.append,
            transports=transports,
        )
