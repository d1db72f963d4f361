"""A ProbeSession as Chrome Trace Event JSON, for Perfetto (ui.perfetto.dev) or chrome://tracing.

Layout (one process): the loop thread's track holds every callback as a complete ("X") slice,
eager first steps nested inside their creator; one track per task holds that task's steps;
requests are async slices ("b"/"e", category ``request``) with their phases nested inside; loop
lag is a counter ("C"). Blocking slices are coloured ``terrible`` (red). Times are microseconds
since the session's ``t0``. ``check_trace`` verifies the structure the viewers rely on.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from asyncio_perf_lab.benchmarks.probes.requests import PHASES

if TYPE_CHECKING:
    from asyncio_perf_lab.benchmarks.probes.session import ProbeSession, Slice

PID = 1
LOOP_TID = 1
FIRST_TASK_TID = 10
MAX_COUNTER_POINTS = 20_000
BLOCKING_COLOR = "terrible"
EPS_US = 1e-3  # float rounding allowance when checking nesting


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 3)


def _x(name: str, start: float, end: float, tid: int, cat: str, **args: Any) -> dict[str, Any]:
    ts, stop = _us(start), _us(end)
    return {
        "name": name,
        "ph": "X",
        "cat": cat,
        "ts": ts,
        "dur": round(stop - ts, 3),
        "pid": PID,
        "tid": tid,
        "args": {k: v for k, v in args.items() if v is not None},
    }


def _meta(kind: str, tid: int, **args: Any) -> dict[str, Any]:
    return {"name": kind, "ph": "M", "ts": 0, "pid": PID, "tid": tid, "args": args}


def to_chrome_trace(
    session: ProbeSession, *, title: str, metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The trace document: ``{"traceEvents": [...], "displayTimeUnit": "ms", "otherData": {}}``."""
    loop_track = "event loop: callbacks"
    if session.callbacks is None:
        loop_track = f"event loop ({session.loop_name}): blocked periods from the watchdog"
    events: list[dict[str, Any]] = [
        _meta("process_name", LOOP_TID, name=title),
        _meta("thread_name", LOOP_TID, name=loop_track),
        _meta("thread_sort_index", LOOP_TID, sort_index=0),
    ]
    task_tids: dict[str, int] = {}

    def task_tid(name: str) -> int:
        if name not in task_tids:
            tid = FIRST_TASK_TID + len(task_tids)
            task_tids[name] = tid
            events.append(_meta("thread_name", tid, name=f"task {name}"))
            events.append(_meta("thread_sort_index", tid, sort_index=tid))
        return task_tids[name]

    for item in _walk(session.slices()):
        events.extend(_callback_events(item, task_tid))
    if session.callbacks is None:
        for b in session.blocking(limit=10_000):
            end = b["start_s"] + b["duration_ms"] / 1000
            name = f"blocked {b['duration_ms']:.0f} ms: {b['function'] or '?'}"
            event = _x(name, b["start_s"], end, LOOP_TID, "blocking", **_where(b))
            event["cname"] = BLOCKING_COLOR
            events.append(event)
    for i, span in enumerate(session.request_spans(), start=1):
        events.extend(_request_events(i, span))
    events.extend(_lag_events(session))
    other = {
        "title": title,
        "loop": session.loop_name,
        "threshold_ms": session.threshold_s * 1000,
        "wall_s": session.wall_s,
        "callbacks": session.callback_count(),
        "notes": session.unseen(),
        **(metadata or {}),
    }
    return {"traceEvents": events, "displayTimeUnit": "ms", "otherData": other}


def _where(b: dict[str, Any]) -> dict[str, Any]:
    return {
        "task": b.get("task"),
        "where": b.get("where"),
        "function": b.get("function"),
        "inner": b.get("inner"),
        "stack": b.get("stack") or None,
        "located": b.get("located"),
        "duration_ms": b.get("duration_ms"),
    }


def _callback_events(item: Slice, task_tid: Any) -> list[dict[str, Any]]:
    loc = item.location
    args = {
        "task": item.task,
        "callback": item.label,
        "self_ms": round(item.self_s * 1000, 3),
        "where": loc.where if loc else None,
        "function": loc.function if loc else None,
        "inner": loc.inner if loc else None,
        "stack": list(loc.stack) if loc and loc.stack else None,
        "located": item.located,
    }
    name = item.task if item.task is not None else item.label
    if item.eager:
        name = f"{item.task} (eager step)"
    cat = "blocking" if item.blocking else ("eager" if item.eager else "callback")
    if item.blocking:
        name = f"blocking {item.self_s * 1000:.0f} ms: {loc.function if loc else name}"
    out = [_x(name, item.start, item.end, LOOP_TID, cat, **args)]
    if item.task is not None:
        step = "eager step" if item.eager else "step"
        out.append(_x(step, item.start, item.end, task_tid(item.task), cat, **args))
        if item.blocking:
            out[-1]["name"] = name
    if item.blocking:
        for event in out:
            event["cname"] = BLOCKING_COLOR
    return out


def _request_events(i: int, span: dict[str, Any]) -> list[dict[str, Any]]:
    name = f"{span['method']} {span['path']}"
    args = {"status": span["status"], **({"error": span["error"]} if "error" in span else {})}
    args["phases_ms"] = {k: round(v * 1000, 3) for k, v in span.get("phases", {}).items()}
    common = {"cat": "request", "id": i, "pid": PID, "tid": LOOP_TID}
    out = [{"name": name, "ph": "b", "ts": _us(span["start_s"]), "args": args, **common}]
    at = span["start_s"]
    phases = span.get("phases", {})
    for phase in PHASES:
        if phase not in phases:
            continue
        end = at + phases[phase]
        if phase == PHASES[-1]:
            end = span["end_s"]  # the phases sum to the span; avoid float drift on the last
        out.append({"name": phase, "ph": "b", "ts": _us(at), "args": {}, **common})
        out.append({"name": phase, "ph": "e", "ts": _us(end), "args": {}, **common})
        at = end
    out.append({"name": name, "ph": "e", "ts": _us(span["end_s"]), "args": {}, **common})
    return out


def _lag_events(session: ProbeSession) -> list[dict[str, Any]]:
    samples = session.lag.samples
    if len(samples) > MAX_COUNTER_POINTS:
        # Keep the worst sample of each bucket so spikes survive thinning.
        step = len(samples) / MAX_COUNTER_POINTS
        samples = [
            max(samples[int(i * step) : int((i + 1) * step)], key=lambda s: s[1])
            for i in range(MAX_COUNTER_POINTS)
        ]
    return [
        {
            "name": "loop lag (ms)",
            "ph": "C",
            "ts": _us(t),
            "pid": PID,
            "tid": LOOP_TID,
            "args": {"lag_ms": round(lag * 1000, 3)},
        }
        for t, lag in samples
    ]


def _walk(slices: list[Slice]):
    for item in slices:
        yield item
        yield from _walk(item.children)


# Checking ------------------------------------------------------------------------------------

_REQUIRED = ("name", "ph", "ts", "pid", "tid")


def check_trace(trace: Any) -> list[str]:
    """Problems that would make Perfetto / chrome://tracing misdraw the trace (empty: valid).

    Every event has name/ph/ts/pid/tid; "X" has a non-negative dur; async "b"/"e" carry id and
    cat and pair up innermost-first; "C" has numeric args; "X" slices on one track nest properly
    (a slice starting inside another ends inside it too).
    """
    if not isinstance(trace, dict) or not isinstance(trace.get("traceEvents"), list):
        return ["not a trace document: no traceEvents list"]
    problems: list[str] = []
    tracks: dict[tuple[Any, Any], list[tuple[float, float, str]]] = defaultdict(list)
    asyncs: dict[tuple[Any, Any, Any], list[dict[str, Any]]] = defaultdict(list)
    for n, event in enumerate(trace["traceEvents"]):
        missing = [k for k in _REQUIRED if k not in event]
        if missing:
            problems.append(f"event {n} misses {missing}")
            continue
        ph = event["ph"]
        if ph == "X":
            dur = event.get("dur")
            if not isinstance(dur, int | float) or dur < 0:
                problems.append(f"event {n} ({event['name']}): X without a valid dur")
                continue
            tracks[(event["pid"], event["tid"])].append(
                (event["ts"], event["ts"] + dur, event["name"])
            )
        elif ph in ("b", "e"):
            if "id" not in event or "cat" not in event:
                problems.append(f"event {n} ({event['name']}): async {ph} without id and cat")
                continue
            asyncs[(event["pid"], event["cat"], event["id"])].append(event)
        elif ph == "C":
            args = event.get("args")
            if not isinstance(args, dict) or not args:
                problems.append(f"event {n} ({event['name']}): counter without args")
            elif not all(isinstance(v, int | float) for v in args.values()):
                problems.append(f"event {n} ({event['name']}): counter args not numeric")
    for track, slices in tracks.items():
        problems.extend(_check_nesting(f"track {track}", slices))
    for key, group in asyncs.items():
        problems.extend(_check_async(key, group))
    return problems


def _check_nesting(where: str, slices: list[tuple[float, float, str]]) -> list[str]:
    problems = []
    stack: list[tuple[float, float, str]] = []
    for start, end, name in sorted(slices, key=lambda s: (s[0], -s[1])):
        while stack and start >= stack[-1][1] - EPS_US:
            stack.pop()
        if stack and end > stack[-1][1] + EPS_US:
            problems.append(
                f"{where}: {name!r} [{start}, {end}] partly overlaps {stack[-1][2]!r} "
                f"[{stack[-1][0]}, {stack[-1][1]}]"
            )
            continue
        stack.append((start, end, name))
    return problems


def _check_async(key: tuple[Any, Any, Any], group: list[dict[str, Any]]) -> list[str]:
    problems = []
    open_: list[dict[str, Any]] = []
    # Stable sort by time: at equal times the file order (the writer's nesting order) holds.
    for event in sorted(group, key=lambda e: e["ts"]):
        if event["ph"] == "b":
            open_.append(event)
        elif not open_ or open_[-1]["name"] != event["name"]:
            expected = open_[-1]["name"] if open_ else None
            problems.append(f"async {key}: 'e' of {event['name']!r} but open is {expected!r}")
        else:
            open_.pop()
    problems.extend(f"async {key}: {e['name']!r} never ends" for e in open_)
    return problems
