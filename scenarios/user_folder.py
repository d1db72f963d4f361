"""A user's folder of scenario modules: every ``*.py`` not starting with ``_`` is one scenario.

A user scenario follows the contract of the built-ins (``scenarios.core``), importing it from
``asyncio_perf_lab``. Each module is imported under its file name with the folder appended to
``sys.path``, so its ``_helpers.py`` import normally and functions it hands to a process pool
pickle by name. A module that breaks the contract raises ``ScenarioError``: one line naming the
file and what is missing.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

from asyncio_perf_lab.scenarios.core import Scenario, Variant, from_module

__all__ = ["ScenarioError", "load_folder", "scenario_files"]


class ScenarioError(ValueError):
    """A scenario folder or module the lab cannot use; the message is one line."""


def scenario_files(folder: str | Path) -> list[Path]:
    """The scenario modules of ``folder`` in name order, or ScenarioError if there are none."""
    root = Path(folder)
    if not root.is_dir():
        raise ScenarioError(f"{folder}: not a directory")
    files = sorted(p for p in root.glob("*.py") if not p.name.startswith("_"))
    if not files:
        raise ScenarioError(f"{folder}: no scenario modules in it (*.py files not starting with _)")
    return files


def load_folder(folder: str | Path, reserved: frozenset[str] = frozenset()) -> dict[str, Scenario]:
    """Import and check every scenario of ``folder``; ``reserved``: names already taken (the
    built-ins)."""
    files = scenario_files(folder)
    root = str(Path(folder).resolve())
    if root not in sys.path:
        sys.path.append(root)  # appended: the standard library and installed packages win
    loaded = {}
    for path in files:
        name = path.stem
        if not name.isidentifier():
            raise ScenarioError(
                f"{path}: {name!r} is not a usable scenario name; rename the file "
                "to letters, digits and _ (e.g. checkout_flow.py)"
            )
        if name in reserved:
            raise ScenarioError(f"{path}: {name} is a built-in scenario's name; rename the file")
        loaded[name] = _check(_import(path), path)
    return loaded


def _import(path: Path) -> ModuleType:
    """Import ``path`` as the top-level module named after it (once per process)."""
    name = path.stem
    spec = importlib.util.find_spec(name)
    origin = Path(spec.origin).resolve() if spec is not None and spec.origin else None
    if origin != path.resolve():
        where = f" ({origin})" if origin else ""
        raise ScenarioError(
            f"{path}: the module name {name} is taken by another module{where}; rename the file"
        )
    try:
        return importlib.import_module(name)
    except Exception as exc:  # any error of the user's code: one line, never a traceback
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ScenarioError(f"{path}: importing it raised {type(exc).__name__}: {first}") from None


def _check(module: ModuleType, path: Path) -> Scenario:
    """The module as a Scenario, or ScenarioError naming the first part of the contract missing."""

    def missing(what: str) -> ScenarioError:
        return ScenarioError(f"{path}: {what} (see `asyncio-lab new` for a scenario that works)")

    if not (module.__doc__ or "").strip():
        raise missing("no module docstring (its first line is the scenario's title)")
    for constant in ("QUESTION", "LESSON"):
        if not isinstance(getattr(module, constant, None), str):
            raise missing(f"{constant} is missing or not a str")
    if not hasattr(module, "LATENCY") or not isinstance(module.LATENCY, str | None):
        raise missing('LATENCY is missing (a latency SPEC like "50ms", or None: routes decide)')
    workload = getattr(module, "Workload", None)
    if not (isinstance(workload, type) and dataclasses.is_dataclass(workload)):
        raise missing("Workload is missing or not a dataclass")
    try:
        workload()
    except TypeError:
        raise missing("Workload() needs arguments; give every field a default") from None
    if not isinstance(getattr(module, "TINY", None), workload):
        raise missing("TINY is missing or not a Workload (a small workload for smoke runs)")
    variants = getattr(module, "VARIANTS", None)
    if not isinstance(variants, Mapping) or not variants:
        raise missing("VARIANTS is missing or empty (a dict of name -> Variant)")
    for name, variant in variants.items():
        if not (isinstance(name, str) and name.isidentifier()):
            raise missing(f"VARIANTS key {name!r} is not a name of letters, digits and _")
        if not isinstance(variant, Variant):
            raise missing(f"VARIANTS[{name!r}] is not a Variant (from asyncio_perf_lab)")
        if not inspect.iscoroutinefunction(variant.run):
            raise missing(f"VARIANTS[{name!r}].run is not an async def function")
        if not callable(variant.ideal):
            raise missing(f"VARIANTS[{name!r}].ideal is not callable")
    if not callable(getattr(module, "calibrate", callable)):
        raise missing("calibrate is not callable")
    try:
        return from_module(module)
    except TypeError as exc:  # a contract value the core refuses (TEACHES, say)
        raise missing(str(exc)) from None
