"""Turns ``SCENARIO[:VARIANT]`` arguments into the scenarios and variants to run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.reports.errors import UsageError
from asyncio_perf_lab.scenarios import Scenario


@dataclass(frozen=True)
class Selection:
    """One scenario and the names of the variants of it to run, in the module's order."""

    scenario: Scenario
    variants: tuple[str, ...]


def select(specs: list[str], folder: str | Path | None = None) -> list[Selection]:
    """Resolve specs (all when empty); an unknown name raises UsageError listing the allowed.

    ``folder``: a user's scenario folder; its scenarios can be named, and are the default.
    """
    if not specs:
        return [Selection(s, tuple(s.variants)) for s in scenarios.all_scenarios(folder)]
    known = scenarios.names(folder)
    chosen: dict[str, list[str]] = {}
    for spec in specs:
        name, colon, variant = spec.partition(":")
        if name not in known:
            raise UsageError(f"unknown scenario {name!r}; allowed: {', '.join(known)}")
        if colon and not variant:  # "name:" is a typo, not "every variant"
            allowed = ", ".join(scenarios.load(name, folder).variants)
            raise UsageError(
                f"{spec!r} names no variant after ':'; allowed: {name} (all) or {name}:VARIANT "
                f"with VARIANT one of {allowed}"
            )
        wanted = chosen.setdefault(name, [])
        if not variant:
            wanted.extend(scenarios.load(name, folder).variants)
            continue
        allowed = scenarios.load(name, folder).variants
        if variant not in allowed:
            raise UsageError(
                f"unknown variant {variant!r} of {name}; allowed: {', '.join(allowed)}"
            )
        wanted.append(variant)
    selections = []
    for name, wanted in chosen.items():
        scenario = scenarios.load(name, folder)
        selections.append(
            Selection(scenario, tuple(v for v in scenario.variants if v in set(wanted)))
        )
    return selections
