"""The replay page: a recorded run played step by step, like Loupe but from the real loop.

A pure function of the replay JSON (``asyncio-lab replay --json``): the steps travel inside the
page as JSON (Jinja's ``tojson``, safe inside a script element) and a small inline script plays
them: panes for the running callback and its await stack, the ready queue, the timer heap, the
sockets waited on and the console, the source line of the step highlighted; controls to step,
play at a speed and scrub. Nothing is fetched: the Content-Security-Policy forbids it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from asyncio_perf_lab.reports.pages import generated_now, render_page, write_page

__all__ = ["render_replay_page", "write_replay_page"]


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    steps = data["steps"]
    return {
        "steps": len(steps),
        "turns": max((s["iteration"] for s in steps), default=0),
        "tasks": len({s["task"] for s in steps if s["task"]}),
        "printed": sum(1 for s in steps if s["stdout"]),
    }


def render_replay_page(data: dict[str, Any]) -> str:
    """The self-contained HTML page that plays ``data`` (a replay JSON document)."""
    return render_page(
        "replay.html.j2",
        data=data,
        meta=data.get("meta", {}),
        notes=data.get("notes", []),
        findings=data.get("findings", []),
        overhead=data.get("overhead", {}),
        summary=_summary(data),
        generated=generated_now(),
    )


def write_replay_page(path: str | os.PathLike[str], data: dict[str, Any]) -> Path:
    """Render and write the page atomically; returns its path."""
    return write_page(path, render_replay_page(data))
