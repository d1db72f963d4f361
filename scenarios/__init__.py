"""The registry of scenarios: one module per asyncio pattern, listed here explicitly.

A user's folder of scenario modules (``--scenarios DIR``, ``scenarios.user_folder``) joins them:
pass ``folder`` to ``load`` and ``all_scenarios``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from asyncio_perf_lab.scenarios.core import Context, Machine, Scenario, Variant, from_module
from asyncio_perf_lab.scenarios.user_folder import ScenarioError, load_folder

NAMES: tuple[str, ...] = (
    "sequential_vs_gather",
    "await_in_loop",
    "blocking_cpu",
    "large_json",
    "batching",
    "offloading",
    "combinators",
    "timeouts",
    "error_handling",
    "debounce_throttle",
    "ordering",
    "connections",
    "server_load",
)

__all__ = [
    "NAMES",
    "Context",
    "Machine",
    "Scenario",
    "ScenarioError",
    "Variant",
    "all_scenarios",
    "load",
    "names",
    "user_scenarios",
]

Folder = str | Path | None


def user_scenarios(folder: str | Path) -> dict[str, Scenario]:
    """The scenarios of a user's folder by name (ScenarioError, one line, if one is broken)."""
    return load_folder(folder, reserved=frozenset(NAMES))


def names(folder: Folder = None) -> tuple[str, ...]:
    """Every scenario name that can be asked for: the built-ins, then the folder's."""
    return NAMES if folder is None else (*NAMES, *user_scenarios(folder))


def load(name: str, folder: Folder = None) -> Scenario:
    """One scenario by name, from ``folder`` or the built-ins; unknown names raise KeyError
    listing the allowed ones."""
    if folder is not None and name not in NAMES:
        found = user_scenarios(folder)
        if name in found:
            return found[name]
    if name not in NAMES:
        raise KeyError(f"unknown scenario {name!r}; allowed: {', '.join(names(folder))}")
    return from_module(importlib.import_module(f"asyncio_perf_lab.scenarios.{name}"))


def all_scenarios(folder: Folder = None) -> list[Scenario]:
    """The scenarios a run without names runs: the folder's when given, else every built-in."""
    if folder is not None:
        return list(user_scenarios(folder).values())
    return [load(name) for name in NAMES]
