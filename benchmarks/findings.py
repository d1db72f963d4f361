"""Findings in any program: staircases of sequential requests and callbacks that blocked the loop.

Shared by ``trace`` and ``replay``. A *staircase* is requests issued by one task one after
another, each starting right after the previous one ended (within ``max(GAP_FLOOR_S,
GAP_SHARE * previous duration)``), at least ``MIN_STEPS`` of them. It is a candidate, never a
verdict: the program may need each answer before asking the next. Overlapped, the requests would
cost about the longest one instead of their sum. A staircase whose requests come from one line
(a loop) points at the ``await_in_loop`` scenario; from different lines at
``sequential_vs_gather``; a line is the outermost user frame of the request (the task's
own `await`). A *blocking* finding is a callback that held the loop over the
threshold, pointing at ``blocking_cpu``. Each finding is a plain dict, so the replay JSON and
the page carry it as is.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

__all__ = ["blocking_findings", "print_findings", "staircases"]

GAP_FLOOR_S = 0.005
GAP_SHARE = 0.25
MIN_STEPS = 2
MAX_BLOCKING = 8
SCENARIO_COMMAND = "asyncio-lab run {scenario}"


def _gap_ok(previous: dict[str, Any], current: dict[str, Any]) -> bool:
    gap = current["start_s"] - previous["end_s"]
    allowed = max(GAP_FLOOR_S, GAP_SHARE * (previous["end_s"] - previous["start_s"]))
    return -1e-6 <= gap <= allowed


def _chains(requests: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Runs of one task's requests, each starting right after the previous one ended."""
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for request in requests:
        if request.get("task") and request.get("answered", True):
            by_task[request["task"]].append(request)
    chains = []
    for mine in by_task.values():
        mine.sort(key=lambda r: r["start_s"])
        chain = [mine[0]]
        for request in mine[1:]:
            if _gap_ok(chain[-1], request):
                chain.append(request)
                continue
            chains.append(chain)
            chain = [request]
        chains.append(chain)
    return [c for c in chains if len(c) >= MIN_STEPS]


def _task_line(request: dict[str, Any]) -> str:
    """The request's line in the task's own code: the outermost user frame of its stack."""
    stack = request.get("stack") or []
    if stack:
        return stack[-1].rsplit(" in ", 1)[0]
    return request.get("where") or "?"


def staircases(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Staircase candidates among request records (``start_s``, ``end_s``, ``task``, ``where``)."""
    found = []
    for chain in _chains(requests):
        durations = [r["end_s"] - r["start_s"] for r in chain]
        lines = [_task_line(r) for r in chain]
        distinct = list(dict.fromkeys(lines))
        scenario = "await_in_loop" if len(distinct) < len(lines) else "sequential_vs_gather"
        total, longest = sum(durations), max(durations)
        found.append(
            {
                "kind": "staircase",
                "task": chain[0]["task"],
                "requests": len(chain),
                "lines": distinct,
                "labels": [r.get("label") for r in chain],
                "start_s": round(chain[0]["start_s"], 6),
                "took_ms": round((chain[-1]["end_s"] - chain[0]["start_s"]) * 1000, 3),
                "sum_ms": round(total * 1000, 3),
                "max_ms": round(longest * 1000, 3),
                "scenario": scenario,
                "message": (
                    f"candidate staircase: task {chain[0]['task']} made {len(chain)} requests "
                    f"one after another ({', '.join(distinct)}), each starting right after the "
                    f"previous ended: {total * 1000:.1f} ms in sum; overlapped (gather, "
                    f"TaskGroup) they would take about the longest, {longest * 1000:.1f} ms. "
                    "Only if each request does not need the previous answer. "
                    f"The pattern measured: {SCENARIO_COMMAND.format(scenario=scenario)}"
                ),
            }
        )
    found.sort(key=lambda f: -(f["sum_ms"] - f["max_ms"]))
    return found


def blocking_findings(blocking: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blocking records (``duration_ms``, ``task``, ``where``, ``function``) as findings."""
    found = []
    for b in sorted(blocking, key=lambda b: -b["duration_ms"])[:MAX_BLOCKING]:
        where = b.get("where") or "(line not found)"
        who = b.get("task") or b.get("callback") or "a callback"
        found.append(
            {
                "kind": "blocking",
                "task": b.get("task"),
                "lines": [where],
                "start_s": b.get("start_s"),
                "took_ms": round(b["duration_ms"], 3),
                "scenario": "blocking_cpu",
                "message": (
                    f"{who} held the loop {b['duration_ms']:.1f} ms at {where}"
                    + (f" in {b['function']}" if b.get("function") else "")
                    + ": nothing else ran meanwhile. Offload it (asyncio.to_thread, an executor) "
                    "or yield in chunks. The pattern measured: "
                    + SCENARIO_COMMAND.format(scenario="blocking_cpu")
                ),
            }
        )
    return found


def print_findings(console: Any, findings: list[dict[str, Any]]) -> None:
    """Print each finding as one paragraph (Rich console), or say there were none."""
    if not findings:
        console.print("findings: no staircase of sequential requests, no blocking callback")
        return
    console.print(f"[bold]findings ({len(findings)})[/]", highlight=False)
    for finding in findings:
        console.print(f"- {finding['message']}", highlight=False)


def trace_findings(probes: Any) -> list[dict[str, Any]]:
    """Findings of a ProbeSession: staircases among its transport requests, blocking callbacks."""
    requests = probes.transports.exchanges() if probes.transports is not None else []
    return staircases(requests) + blocking_findings(probes.blocking())


# Requests seen at the transport level, for the trace's summary and its Chrome export ------------

TRANSPORT_CATEGORY = "transport"


def print_transport_requests(console: Any, requests: list[dict[str, Any]], top: int = 12) -> None:
    """A table of the requests seen at the transport level: any asyncio client, with its wait."""
    from rich.table import Table

    if not requests:
        console.print("no connection seen at the transport level")
        return
    table = Table(title=f"{len(requests)} requests seen at the transport level (any client)")
    for column in ("start", "request", "task", "line", "connect", "wait", "total"):
        table.add_column(
            column, justify="right" if column in ("start", "connect", "wait", "total") else "left"
        )
    for r in requests[:top]:
        table.add_row(
            f"{r['start_s'] * 1000:.1f} ms",
            r["label"],
            r["task"] or "-",
            r["where"] or "-",
            f"{r['connect_s'] * 1000:.1f} ms" if r["new_connection"] else "reused",
            f"{r['wait_s'] * 1000:.1f} ms" if r["wait_s"] is not None else "no answer",
            f"{(r['end_s'] - r['start_s']) * 1000:.1f} ms",
        )
    console.print(table)
    if len(requests) > top:
        console.print(f"... and {len(requests) - top} more in the trace file", highlight=False)


def transport_trace_events(requests: list[dict[str, Any]], pid: int, tid: int) -> list[dict]:
    """Chrome async slices, one per transport request, its ``wait`` phase nested inside."""
    events: list[dict[str, Any]] = []
    for i, r in enumerate(requests):
        common = {"cat": TRANSPORT_CATEGORY, "id": i, "pid": pid, "tid": tid}
        name = f"{r['label']} (transport)"
        args = {k: r[k] for k in ("task", "where", "peer", "sent_bytes", "read_bytes")}
        events.append({"name": name, "ph": "b", "ts": _us(r["start_s"]), "args": args, **common})
        if r["wait_s"] is not None:
            sent = r["sent_s"]
            answer = min(sent + r["wait_s"], r["end_s"])
            events.append({"name": "wait", "ph": "b", "ts": _us(sent), "args": {}, **common})
            events.append({"name": "wait", "ph": "e", "ts": _us(answer), "args": {}, **common})
        events.append({"name": name, "ph": "e", "ts": _us(r["end_s"]), "args": {}, **common})
    return events


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 3)
