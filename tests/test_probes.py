"""The probes: blocking callbacks and their lines, eager tasks, request phases, Chrome trace."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import itertools
import json
import sys
import threading
import time
import types
from pathlib import Path

import aiohttp
import pytest

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks.chrome_trace import check_trace, to_chrome_trace
from asyncio_perf_lab.benchmarks.loops import available_loops, new_event_loop
from asyncio_perf_lab.benchmarks.probe_run import probe_variant
from asyncio_perf_lab.benchmarks.probes.callbacks import CallbackProbe
from asyncio_perf_lab.benchmarks.probes.locations import snapshot
from asyncio_perf_lab.benchmarks.probes.requests import PHASES, RequestTracer
from asyncio_perf_lab.benchmarks.probes.session import ProbeSession
from asyncio_perf_lab.mockserver import MockServer
from asyncio_perf_lab.reports.results_file import schema

ROOT = Path(__file__).resolve().parent.parent
BLOCK_S = 0.060
ORIGINAL_RUN = asyncio.events.Handle._run
ORIGINAL_SESSION_INIT = aiohttp.ClientSession.__init__


def _line_of(func, marker: str) -> int:
    """The line number of the statement in ``func`` that carries ``marker`` as a comment."""
    lines, first = inspect.getsourcelines(func)
    return next(first + i for i, text in enumerate(lines) if marker in text)


def _sleep_on_loop() -> None:
    time.sleep(BLOCK_S)  # blocks the loop


def _spin_on_loop() -> int:
    spins = 0
    end = time.perf_counter() + BLOCK_S
    while time.perf_counter() < end:  # spins the loop
        spins += 1  # spins the loop
    return spins


async def _blocker(block) -> None:
    await asyncio.sleep(0.002)
    block()
    await asyncio.sleep(0.002)  # the next await


def _only(records: list[dict], function: str) -> dict:
    found = [b for b in records if b["function"] == function]
    assert len(found) == 1, records
    return found[0]


@pytest.mark.asyncio
async def test_sleeping_callback_is_reported_with_its_function_and_line() -> None:
    """A task that calls time.sleep(60 ms) on the loop is named, with the sleep's file:line."""
    async with ProbeSession() as probes:
        await asyncio.create_task(_blocker(_sleep_on_loop), name="blocker")
    record = _only(probes.blocking(), "_sleep_on_loop")
    line = _line_of(_sleep_on_loop, "# blocks the loop")
    assert record["where"] == f"tests/test_probes.py:{line}"
    assert record["task"] == "blocker"
    assert record["located"] == "sampled"
    assert record["source"] == "callback"
    assert record["duration_ms"] >= BLOCK_S * 1000 * 0.9


@pytest.mark.asyncio
async def test_busy_loop_is_reported_on_the_spinning_lines() -> None:
    """A CPU-bound busy loop of 60 ms is reported inside the loop statement that spins."""
    async with ProbeSession() as probes:
        await asyncio.create_task(_blocker(_spin_on_loop), name="spinner")
    record = _only(probes.blocking(), "_spin_on_loop")
    first = _line_of(_spin_on_loop, "# spins the loop")
    assert record["where"] in {f"tests/test_probes.py:{n}" for n in (first, first + 1)}
    assert record["task"] == "spinner"
    assert record["duration_ms"] >= BLOCK_S * 1000 * 0.9


@pytest.mark.asyncio
async def test_short_callbacks_are_not_blocking() -> None:
    """Callbacks well under the threshold are timed but never reported as blocking."""
    async with ProbeSession() as probes:
        for _ in range(20):
            await asyncio.sleep(0)
    assert probes.blocking() == []
    assert probes.callback_count() >= 19  # the step running at entry is not timed
    assert not any(blocking for *_, blocking in probes.callback_timeline())


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop not installed")
def test_uvloop_uses_the_watchdog_alone_and_says_so() -> None:
    """On uvloop the watchdog still finds the blocking line and the note says why it is alone."""
    import uvloop

    async def main() -> ProbeSession:
        async with ProbeSession() as probes:
            await asyncio.create_task(_blocker(_sleep_on_loop), name="blocker")
        return probes

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        probes = runner.run(main())
    record = _only(probes.blocking(), "_sleep_on_loop")
    assert record["where"] == f"tests/test_probes.py:{_line_of(_sleep_on_loop, '# blocks')}"
    assert record["source"] == "watchdog"
    assert record["task"] == "blocker"
    assert probes.callbacks is None
    assert any("Handle._run" in note for note in probes.unseen())


@pytest.mark.asyncio
async def test_a_block_in_the_step_that_enters_the_session_is_not_lost() -> None:
    """Code run before the first await inside the block (the variant's first step) is timed."""
    async with ProbeSession() as probes:
        _sleep_on_loop()
        await asyncio.sleep(0.002)
    record = _only(probes.blocking(), "_sleep_on_loop")
    assert record["where"] == f"tests/test_probes.py:{_line_of(_sleep_on_loop, '# blocks')}"
    assert record["task"] == asyncio.current_task().get_name()
    assert record["duration_ms"] >= BLOCK_S * 1000 * 0.9


def _parse(text: str) -> int:
    return len(json.loads(text))  # parses in C


@pytest.mark.asyncio
async def test_a_parse_in_c_names_the_user_line_and_the_library_frame() -> None:
    """json.loads holds the GIL in C; the block names the calling line, json's frame inside."""
    text = json.dumps([{"id": i, "name": "x" * 20, "tags": [1, 2, 3]} for i in range(80_000)])

    async def handler() -> int:
        await asyncio.sleep(0.002)
        return _parse(text)

    async with ProbeSession() as probes:
        await asyncio.create_task(handler(), name="handler")
    (record,) = probes.blocking()  # one stall only: nothing leaks into later callbacks
    assert record["where"] == f"tests/test_probes.py:{_line_of(_parse, '# parses in C')}"
    assert record["task"] == "handler"
    assert record["inner"].startswith("json/")
    assert record["stack"][1].endswith(
        "in test_a_parse_in_c_names_the_user_line_and_the_library_frame.<locals>.handler"
    )


@pytest.mark.asyncio
async def test_without_a_sample_the_next_await_stands_in_and_says_so() -> None:
    """When the watchdog got no look (C code held the GIL), the task's next await is named."""
    async with ProbeSession() as probes:
        await asyncio.create_task(_blocker(_sleep_on_loop), name="blocker")
    probes.watchdog.samples.clear()  # as if the callback never let the watchdog run
    (record,) = probes.blocking()
    assert record["located"] == "next-await"
    assert record["where"] == f"tests/test_probes.py:{_line_of(_blocker, '# the next await')}"
    assert record["task"] == "blocker"


def test_a_stack_snapshot_holds_no_frame_objects() -> None:
    """The watchdog copies (code, line) pairs, so it never keeps the program's locals alive."""
    stack = snapshot(sys._getframe())
    assert stack
    assert all(isinstance(c, types.CodeType) and isinstance(n, int) for c, n in stack)


@pytest.mark.parametrize("loop_name", available_loops())
def test_a_block_in_the_step_that_ends_the_session_is_not_lost(loop_name: str) -> None:
    """A stall in the very step that leaves the session is still reported with its line."""

    async def main() -> ProbeSession:
        async with ProbeSession() as probes:
            await asyncio.sleep(0.002)
            _sleep_on_loop()
        return probes

    with asyncio.Runner(loop_factory=lambda: new_event_loop(loop_name)) as runner:
        probes = runner.run(main())
    record = _only(probes.blocking(), "_sleep_on_loop")
    assert record["where"] == f"tests/test_probes.py:{_line_of(_sleep_on_loop, '# blocks')}"
    assert record["duration_ms"] >= BLOCK_S * 1000 * 0.9
    assert probes.lag.summary()["max_ms"] >= BLOCK_S * 1000 * 0.9


@pytest.mark.skipif(not hasattr(asyncio, "eager_task_factory"), reason="eager tasks: 3.12+")
def test_eager_first_step_is_attributed_to_the_eager_task() -> None:
    """An eager task's first step, run inside its creator's callback, is billed to the new task."""

    async def child() -> None:
        _sleep_on_loop()
        await asyncio.sleep(0)

    async def parent() -> None:
        await asyncio.sleep(0)  # the next step is a plain callback of "parent"
        await asyncio.create_task(child(), name="child")

    async def main() -> ProbeSession:
        loop = asyncio.get_running_loop()
        async with ProbeSession() as probes:
            loop.set_task_factory(asyncio.eager_task_factory)
            await asyncio.sleep(0)
            await asyncio.create_task(parent(), name="parent")
            loop.set_task_factory(None)
        return probes

    probes = asyncio.run(main())
    record = _only(probes.blocking(), "_sleep_on_loop")
    assert record["task"] == "child"
    assert record["callback"] == "eager step"
    creator = next(s for s in probes.slices() if any(c.task == "child" for c in s.children))
    assert creator.task == "parent"
    assert not creator.blocking
    assert creator.self_s < creator.duration / 2


@pytest.mark.asyncio
async def test_handle_run_and_task_factory_are_always_restored() -> None:
    """The Handle._run wrap and the task-factory hook are undone, even when the block raises."""
    loop = asyncio.get_running_loop()
    factory = loop.get_task_factory()
    wrapped = []

    async def fail() -> None:
        async with ProbeSession():
            wrapped.append(asyncio.events.Handle._run is not ORIGINAL_RUN)
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        await fail()
    assert wrapped == [True]
    assert asyncio.events.Handle._run is ORIGINAL_RUN
    assert loop.get_task_factory() is factory
    assert "set_task_factory" not in vars(loop)


@pytest.mark.asyncio
async def test_a_second_probe_on_the_same_loop_is_refused_cleanly() -> None:
    """Two callback probes on one loop would double-count; the second is refused, nothing leaks."""
    with CallbackProbe(), pytest.raises(RuntimeError, match="already active"), CallbackProbe():
        pass
    assert asyncio.events.Handle._run is ORIGINAL_RUN
    threads = threading.active_count()
    async with ProbeSession():
        second = ProbeSession(trace_new_sessions=True)
        with pytest.raises(RuntimeError, match="already active"):
            await second.__aenter__()
        assert second.lag._handle is None
    assert aiohttp.ClientSession.__init__ is ORIGINAL_SESSION_INIT
    assert asyncio.events.Handle._run is ORIGINAL_RUN
    assert threading.active_count() == threads


def test_probes_never_switch_on_debug_mode() -> None:
    """No probe module, the probe run or the trace command turns asyncio debug mode on."""
    files = [*sorted((ROOT / "benchmarks" / "probes").glob("*.py"))]
    files += [ROOT / "benchmarks" / name for name in ("probe_run.py", "tracing.py")]
    files += [ROOT / "benchmarks" / "commands" / "trace.py"]
    for path in files:
        text = path.read_text()
        assert "set_debug(" not in text, path.name
        assert "debug=True" not in text, path.name

    async def inside() -> bool:
        async with ProbeSession():
            return asyncio.get_running_loop().get_debug()

    with asyncio.Runner(debug=False) as runner:
        assert runner.run(inside()) is False


@pytest.mark.asyncio
async def test_gather_of_ten_requests_gives_ten_ordered_spans_that_add_up(
    server: MockServer,
) -> None:
    """Ten gathered requests give ten spans whose phases are in order and sum to the request."""
    tracer = RequestTracer()
    connector = aiohttp.TCPConnector(limit=3)  # 3 slots for 10 requests: 7 must queue
    async with aiohttp.ClientSession(connector=connector, trace_configs=[tracer.config]) as s:

        async def get(i: int) -> dict:
            async with s.get(f"{server.url}/users/{i}?latency=20ms") as resp:
                return await resp.json()

        async with ProbeSession(tracer=tracer) as probes:
            await asyncio.gather(*(get(i) for i in range(1, 11)))
    spans = probes.request_spans()
    assert len(spans) == 10
    for span in spans:
        phases = span["phases"]
        assert list(phases) == [p for p in PHASES if p in phases], "phases out of order"
        assert all(v >= 0 for v in phases.values())
        assert sum(phases.values()) == pytest.approx(span["end_s"] - span["start_s"], abs=1e-9)
        assert span["status"] == 200
        assert phases["ttfb"] >= 0.020 * 0.9  # the injected latency is server time
    assert sum("pool_wait" in span["phases"] for span in spans) >= 7
    assert sum("connect" in span["phases"] for span in spans) >= 3


@pytest.mark.asyncio
async def test_callback_timeline_is_thinned_to_the_longest_without_overlaps() -> None:
    """The timeline keeps the longest stretches, in time order, never overlapping."""
    async with ProbeSession() as probes:
        for _ in range(300):
            await asyncio.sleep(0)
        await asyncio.create_task(_blocker(_sleep_on_loop), name="blocker")
    timeline = probes.callback_timeline(max_entries=50)
    assert len(timeline) == 50
    starts = [start for start, *_ in timeline]
    assert starts == sorted(starts)
    for (s1, d1, *_), (s2, *_) in itertools.pairwise(timeline):
        assert s1 + d1 <= s2 + 1e-6
    longest = max(timeline, key=lambda entry: entry[1])
    assert longest[2] == "blocker"
    assert longest[3] is True


@pytest.mark.asyncio
async def test_chrome_trace_validates_and_nests(server: MockServer) -> None:
    """The trace has the keys each event type needs, and slices on one track nest properly."""
    tracer = RequestTracer()
    async with aiohttp.ClientSession(trace_configs=[tracer.config]) as s:

        async def get(i: int) -> None:
            async with s.get(f"{server.url}/users/{i}?latency=10ms") as resp:
                await resp.read()

        async with ProbeSession(tracer=tracer) as probes:
            await asyncio.gather(*(get(i) for i in range(1, 6)))
            await asyncio.create_task(_blocker(_sleep_on_loop), name="blocker")
    trace = json.loads(
        json.dumps(to_chrome_trace(probes, title="test", metadata={}), allow_nan=False)
    )
    assert check_trace(trace) == []
    events = trace["traceEvents"]
    for event in events:
        assert {"name", "ph", "ts", "pid", "tid"} <= event.keys()
    phs = {e["ph"] for e in events}
    assert {"M", "X", "b", "e", "C"} <= phs
    assert all("dur" in e for e in events if e["ph"] == "X")
    assert all("id" in e and "cat" in e for e in events if e["ph"] in "be")
    assert all(e["args"] for e in events if e["ph"] == "C")
    requests = [e for e in events if e["ph"] == "b" and e["name"].startswith("GET ")]
    assert len(requests) == 5
    red = [e for e in events if e.get("cname") == "terrible"]
    assert red
    assert all(e["args"]["function"] == "_sleep_on_loop" for e in red)


def test_trace_checker_catches_partial_overlap_and_missing_keys() -> None:
    """The checker is not vacuous: crossing slices, unpaired async ends and bare events fail."""
    base = {"pid": 1, "tid": 1, "cat": "c"}
    bad = {
        "traceEvents": [
            {"name": "a", "ph": "X", "ts": 0, "dur": 10, **base},
            {"name": "b", "ph": "X", "ts": 5, "dur": 10, **base},
            {"name": "r", "ph": "b", "ts": 0, "id": 1, **base},
            {"name": "q", "ph": "e", "ts": 1, "id": 1, **base},
            {"name": "x", "ph": "X", "ts": 0},
            {"name": "lag", "ph": "C", "ts": 0, "pid": 1, "tid": 1},
        ]
    }
    problems = check_trace(bad)
    assert any("partly overlaps" in p for p in problems)
    assert any("'e' of 'q'" in p for p in problems)
    assert any("misses" in p for p in problems)
    assert any("counter without args" in p for p in problems)


@pytest.mark.asyncio
async def test_probe_record_carries_blocking_callbacks_and_overhead(server: MockServer) -> None:
    """probe_variant fills blocking, the callback timeline and overhead, valid per the schema."""
    import jsonschema

    scenario = scenarios.load("sequential_vs_gather")
    probe, result = await probe_variant(
        scenario.variants["gather"], server.url, "5ms", scenario.workload, server
    )
    assert result["user"]
    jsonschema.validate(probe, {"$defs": schema()["$defs"], "$ref": "#/$defs/probe"})
    assert probe["blocking"] == []
    assert probe["callbacks"]
    assert all(len(entry) == 4 for entry in probe["callbacks"])
    assert len(probe["requests"]) == 3
    overhead = probe["overhead"]
    assert overhead["lag_sampler_ratio"] >= 1.0
    assert overhead["full_tracing_ratio"] >= overhead["lag_sampler_ratio"]
