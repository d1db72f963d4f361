"""Which way of running jobs reports their errors, and how many the others lose (counted)."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pytest

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.benchmarks.context import open_context
from asyncio_perf_lab.mockserver import MockServer
from asyncio_perf_lab.scenarios import error_handling

SCENARIO = scenarios.load("error_handling")
FAILING = sum(1 for i in range(SCENARIO.tiny.jobs) if i % SCENARIO.tiny.fail_every == 0)


async def run_variant(server: MockServer, name: str) -> tuple[Any, dict[str, float]]:
    """Run one variant with the TINY workload: (result, observations)."""
    async with open_context(server.url, SCENARIO.latency, SCENARIO.tiny) as ctx:
        result = await SCENARIO.variants[name].run(ctx)
        return result, dict(ctx.observations)


@pytest.mark.asyncio
async def test_fire_and_forget_reports_nothing_and_loses_every_error(server: MockServer) -> None:
    """The caller hears of no error; each failure shows up only as a 'never retrieved' report."""
    loop = asyncio.get_running_loop()
    handler_before = loop.get_exception_handler()
    result, observed = await run_variant(server, "fire_and_forget")
    assert result["failing"] == FAILING > 0
    assert result["errors_reported"] == 0
    assert observed["lost_errors"] == FAILING
    assert loop.get_exception_handler() is handler_before, "the counting handler was restored"


@pytest.mark.asyncio
async def test_never_awaited_reporter_loses_every_error_with_a_warning(server: MockServer) -> None:
    """The reporter coroutine never runs: nothing reported, one RuntimeWarning per dropped error."""
    filters_before = list(warnings.filters)
    result, observed = await run_variant(server, "never_awaited")
    assert result["errors_reported"] == 0
    assert observed["lost_errors"] == FAILING
    assert warnings.filters == filters_before, "the warning filters were restored"


@pytest.mark.asyncio
async def test_gather_return_exceptions_reports_every_error(server: MockServer) -> None:
    """gather(return_exceptions=True) hands every failure back to the caller, none lost."""
    result, observed = await run_variant(server, "gather_return_exceptions")
    assert result["errors_reported"] == FAILING
    assert observed["lost_errors"] == 0


@pytest.mark.asyncio
async def test_task_group_reports_errors_and_cancels_the_rest(server: MockServer) -> None:
    """A TaskGroup stops at the fast failures: every job either failed to the caller or was
    cancelled (none of the slow successes finished), and none is lost."""
    result, observed = await run_variant(server, "task_group")
    assert 1 <= result["errors_reported"] <= FAILING
    assert observed["lost_errors"] == 0
    assert observed["cancelled_jobs"] == SCENARIO.tiny.jobs - result["errors_reported"]


@pytest.mark.asyncio
async def test_counting_handler_passes_other_reports_to_the_previous_handler() -> None:
    """Reports other than 'never retrieved' still reach the handler that was installed before."""
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    loop.set_exception_handler(lambda _loop, context: seen.append(context["message"]))
    try:
        with error_handling._LostErrors() as lost:
            loop.call_exception_handler({"message": "something else"})
            loop.call_exception_handler({"message": error_handling.NEVER_RETRIEVED})
    finally:
        loop.set_exception_handler(None)
    assert seen == ["something else"]
    assert lost.count == 1


@pytest.mark.asyncio
async def test_lost_errors_counts_dropped_coroutines_and_reissues_other_warnings() -> None:
    """A coroutine dropped inside the block counts as lost; an unrelated warning is re-issued."""

    async def report() -> None:
        """Never runs: it is only called, never awaited."""

    lost = error_handling._LostErrors()

    def drop_one_and_warn() -> None:
        with lost:
            report()  # dropped at once: 'coroutine ... was never awaited'
            warnings.warn("unrelated", UserWarning, stacklevel=1)

    with pytest.warns(UserWarning, match="unrelated"):
        drop_one_and_warn()
    assert lost.count == 1
