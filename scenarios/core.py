"""The contract every scenario module follows: a context in, variants side by side, an ideal model.

A scenario module reads like the talk's slide: a docstring whose first line is the title, the
constants ``QUESTION``, ``LESSON`` and ``LATENCY`` (a latency SPEC every request carries, or
None to send none, so a user route's own latency applies), a frozen ``Workload`` dataclass (its
defaults are the UPPER_CASE workload constants), ``TINY`` (a small workload for smoke tests),
the variants as plain ``async def name(ctx) -> result`` functions, and the explicit
``VARIANTS`` mapping of
``Variant`` records. Optionally ``calibrate(workload, site) -> dict[str, float]`` measures the CPU
parts of the ideal model on this machine, outside any timed section, where and as the variants
run (``site``: the run's loop and server, see ``scenarios.calibration``); the one-argument
``calibrate(workload)`` of older scenarios still works. ``TEACHES`` (optional) names what the
scenario's headline may claim: "time" (the fixes are faster) and/or "loop_lag" (the fixes stall
the loop less); the default is ("time",). A scenario whose
variants show *different* behaviour on purpose (the ordering puzzles, say) sets
``EQUAL_RESULTS = False`` with a comment saying why; every other scenario's variants must return
equal results.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from asyncio_perf_lab.scenarios.calibration import Site

if TYPE_CHECKING:  # only annotations need aiohttp: the ordering puzzles run on a bare stdlib
    import aiohttp


@dataclass(frozen=True)
class Machine:
    """What an ideal model may know about the machine: its cores and calibrated CPU costs."""

    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    cpu_s: Mapping[str, float] = field(default_factory=dict)


IdealModel = Callable[[Any, float, Machine], float]
"""(workload, nominal latency in seconds, machine) -> the physical-limit time in seconds."""

IdealKind = Literal["floor", "estimate"]
""""floor": no call can beat the ideal. "estimate": a true floor was out of reach; the report
labels the ideal as an estimate, not a limit."""


@dataclass(frozen=True)
class Variant:
    """One way to do the scenario's job: the anti-pattern or one of its fixes."""

    run: Callable[[Context], Awaitable[Any]]
    label: str
    why: str
    ideal: IdealModel
    anti_pattern: bool = False
    budget: float | None = None  # max allowed measured/ideal; None means not gated
    # The sibling variant that does this variant's job the anti-pattern way. A budget must sit
    # below what that sibling scores against this variant's ideal, or the budget could not
    # catch the regression the scenario teaches (tests/test_budget_lessons.py runs it).
    regression: str | None = None
    ideal_kind: IdealKind = "floor"


@dataclass
class Context:
    """Everything a variant may use; built once per worker so the timed body stays the hot path."""

    session: aiohttp.ClientSession
    base_url: str
    latency: str | None  # None or "": send none, the server's route decides
    workload: Any
    thread_pool: Executor
    process_pool: Executor
    observations: dict[str, float] = field(default_factory=dict)

    def url(self, path: str, **params: Any) -> str:
        """The mock API URL for ``path``; the scenario's latency rides along unless overridden."""
        query = {"latency": self.latency, **params} if self.latency else params
        return f"{self.base_url}{path}?{urlencode(query)}" if query else f"{self.base_url}{path}"

    async def get_json(self, path: str, **params: Any) -> Any:
        """GET a mock API path and decode its JSON body, raising on HTTP errors."""
        async with self.session.get(self.url(path, **params)) as resp:
            resp.raise_for_status()
            return await resp.json()

    def observe(self, name: str, value: float) -> None:
        """Record a figure the probe run reports beside the timing (never part of the result)."""
        self.observations[name] = value


@dataclass(frozen=True)
class Scenario:
    """A loaded scenario module, flattened into the data the runner and results file need."""

    name: str
    title: str
    question: str
    lesson: str
    latency: str | None
    workload: Any
    tiny: Any
    variants: Mapping[str, Variant]
    calibrate: Callable[..., dict[str, float]] | None  # (workload, site) or (workload)
    module: ModuleType
    equal_results: bool = True
    teaches: tuple[str, ...] = ("time",)  # what its headline may claim (see TEACHES_KINDS)

    def constants(self, workload: Any | None = None) -> dict[str, Any]:
        """The workload as a plain dict, for the results file."""
        return dataclasses.asdict(workload if workload is not None else self.workload)

    def measure_machine(self, workload: Any, site: Site | None = None) -> dict[str, float]:
        """The calibrated CPU costs of the ideal models for ``workload`` ({} if none).

        ``calibrate(workload, site)`` is given the run's site; a one-argument
        ``calibrate(workload)`` (older user scenarios) is called as it was.
        """
        if self.calibrate is None:
            return {}
        if _takes_site(self.calibrate):
            return self.calibrate(workload, site if site is not None else Site())
        return self.calibrate(workload)


def _takes_site(calibrate: Callable[..., Any]) -> bool:
    """Whether ``calibrate`` accepts a second positional argument (the site)."""
    try:
        params = inspect.signature(calibrate).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable: call it the old way
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


def from_module(module: ModuleType) -> Scenario:
    """Build a Scenario from a module that follows the contract in this file's docstring."""
    doc = (module.__doc__ or "").strip()
    name = module.__name__.rsplit(".", 1)[-1]
    if not doc:
        raise TypeError(f"scenario {name} has no docstring (its first line is the title)")
    return Scenario(
        name=name,
        title=doc.splitlines()[0].strip(),
        question=module.QUESTION,
        lesson=module.LESSON,
        latency=module.LATENCY,
        workload=module.Workload(),
        tiny=module.TINY,
        variants=dict(module.VARIANTS),
        calibrate=getattr(module, "calibrate", None),
        module=module,
        equal_results=getattr(module, "EQUAL_RESULTS", True),
        teaches=_teaches(name, getattr(module, "TEACHES", ("time",))),
    )


TEACHES_KINDS = ("time", "loop_lag")
"""What a headline can state from a run: which variant is faster, which stalls the loop less."""


def _teaches(name: str, teaches: Any) -> tuple[str, ...]:
    unknown = [kind for kind in teaches if kind not in TEACHES_KINDS]
    if isinstance(teaches, str) or unknown:
        raise TypeError(f"TEACHES {teaches!r}: allowed is a tuple of {', '.join(TEACHES_KINDS)}")
    return tuple(teaches)
