"""The registry of scenarios: one module per asyncio pattern, listed here explicitly."""

from __future__ import annotations

import importlib

from asyncio_perf_lab.scenarios.core import Context, Machine, Scenario, Variant, from_module

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

__all__ = ["NAMES", "Context", "Machine", "Scenario", "Variant", "all_scenarios", "load"]


def load(name: str) -> Scenario:
    """Import one scenario module by name; unknown names raise KeyError listing the allowed ones."""
    if name not in NAMES:
        raise KeyError(f"unknown scenario {name!r}; allowed: {', '.join(NAMES)}")
    return from_module(importlib.import_module(f"asyncio_perf_lab.scenarios.{name}"))


def all_scenarios() -> list[Scenario]:
    """Every registered scenario, in registry order."""
    return [load(name) for name in NAMES]
