"""A recording as plain data: the replay JSON the page plays and ``--json`` writes.

``{"steps": [{"i", "t_ms", "running", "task", "stack", "ready", "timers", "io", "stdout"}, ...]}``
with ``ready`` the names in queue order and ``timers`` a list of ``{"callback", "due_ms"}``.
Each step also carries ``where`` (the file:line it runs or resumes at), ``iteration`` (the loop
turn), ``this_turn`` (how many of ``ready`` still run in this same turn: the rest were queued
during it and wait for the next), ``queued`` and ``timers_added`` (what it scheduled), and
``waited``: when the callback joined the ready queue and the callbacks that were ahead of it.
Beside the steps: ``meta``, ``notes`` (what could not be seen, the step limit), ``overhead``,
``findings``, ``requests`` and ``sources`` (the user files the steps point into, for the page's
highlighted line).
"""

from __future__ import annotations

import linecache
from typing import Any

from asyncio_perf_lab.benchmarks.replay.recorder import Recorder, Step

__all__ = ["SCHEMA", "recording_to_json", "step_order"]

SCHEMA = "asyncio-lab-replay/1"
MAX_SOURCE_FILES = 20
MAX_SOURCE_LINES = 3000


def _waited(steps: list[Step], names: dict[int, Any]) -> list[dict[str, Any] | None]:
    """For each step: the step it was queued or timed at, and who was ahead in the ready queue."""
    queued_at: dict[int, tuple[int, str]] = {}
    first_seen: dict[int, tuple[int, list[str]]] = {}
    out: list[dict[str, Any] | None] = []
    for step in steps:
        for h in step.queued:
            queued_at.setdefault(h, (step.i, "call_soon"))
        for h in step.timers_added:
            queued_at.setdefault(h, (step.i, "timer"))
        waited = None
        seen = first_seen.get(step.handle)
        origin = queued_at.get(step.handle)
        if seen is not None or origin is not None:
            waited = {
                "queued_at": origin[0] if origin else None,
                "how": origin[1] if origin else None,
                "ready_since": seen[0] if seen else step.i,
                "behind": seen[1] if seen else [],
            }
        out.append(waited)
        for n, h in enumerate(step.ready):
            if h not in first_seen:
                ahead = [step.named.name] + [names[a].name for a in step.ready[:n]]
                first_seen[h] = (step.i, ahead)
    return out


def _sources(paths: set[str]) -> dict[str, list[str]]:
    """The text of the user files the steps point into (bounded), keyed as the steps name them."""
    out: dict[str, list[str]] = {}
    for path in sorted(paths)[:MAX_SOURCE_FILES]:
        lines = linecache.getlines(path)
        if lines:
            out[path] = [line.rstrip("\n") for line in lines[:MAX_SOURCE_LINES]]
    return out


def _file_of(where: str | None) -> str | None:
    return where.rsplit(":", 1)[0] if where else None


def recording_to_json(
    recorder: Recorder,
    *,
    meta: dict[str, Any],
    notes: list[str] | None = None,
    overhead: dict[str, Any] | None = None,
    findings: list[dict[str, Any]] | None = None,
    requests: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The replay JSON of a finished recording."""
    names = recorder.names
    all_notes = list(notes or [])
    if recorder.cut:
        all_notes.append(
            f"cut at the step limit of {recorder.limit} steps: {recorder.cut} more callbacks ran "
            "after it and are not shown (raise it with --limit)"
        )
    steps = []
    files: set[str] = set()
    for step, waited in zip(recorder.steps, _waited(recorder.steps, names), strict=True):
        named = step.named
        files.update(f for f in (_file_of(named.where), *map(_frame_file, named.stack)) if f)
        steps.append(
            {
                "i": step.i,
                "t_ms": round(step.t_ms, 3),
                "duration_ms": round(step.duration_ms, 3),
                "iteration": step.iteration,
                "running": named.name,
                "where": named.where,
                "starts": named.starts,
                "task": named.task,
                "stack": list(named.stack),
                "ready": [names[h].name for h in step.ready],
                "ready_total": step.ready_total,
                "this_turn": step.this_turn,
                "timers": [
                    {"callback": names[h].name, "due_ms": round(due, 3)} for h, due in step.timers
                ],
                "timers_total": step.timers_total,
                "io": step.io,
                "io_total": step.io_total,
                "stdout": step.stdout,
                "queued": [names[h].name for h in step.queued],
                "timers_added": [names[h].name for h in step.timers_added],
                "waited": waited,
            }
        )
    return {
        "schema": SCHEMA,
        "meta": {**meta, "limit": recorder.limit, "cut": recorder.cut},
        "notes": all_notes,
        "overhead": overhead or {},
        "findings": findings or [],
        "requests": requests or [],
        "sources": _sources(files),
        "steps": steps,
    }


def _frame_file(frame: str) -> str | None:
    return _file_of(frame.rsplit(" in ", 1)[0])


def step_order(data: dict[str, Any]) -> list[str]:
    """Everything the run printed, in step order, one entry per printed line."""
    text = "".join(step["stdout"] for step in data["steps"])
    return [line for line in text.splitlines() if line]
