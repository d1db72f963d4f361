"""Event loop selection: the standard asyncio loop or uvloop, chosen per run."""

from __future__ import annotations

import asyncio
import importlib.util

LOOPS = ("asyncio", "uvloop")


def available_loops() -> list[str]:
    """The loop implementations importable here."""
    return [name for name in LOOPS if name == "asyncio" or importlib.util.find_spec(name)]


def new_event_loop(name: str) -> asyncio.AbstractEventLoop:
    """A fresh event loop of the named implementation."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    if name != "asyncio":
        raise ValueError(f"unknown loop {name!r}; allowed: {', '.join(LOOPS)}")
    return asyncio.new_event_loop()


def loop_version(name: str) -> str | None:
    """The version of the loop implementation (None for the standard library's)."""
    if name == "uvloop":
        import uvloop

        return uvloop.__version__
    return None
