"""Which line the loop thread is on: the deepest frame of the user's code in a stack.

A stack is copied out as plain ``(code, line)`` pairs (``snapshot``), then classified: asyncio,
selectors, the standard library, site-packages and the lab's own harness (``benchmarks/``) are
not the answer to "which line blocked"; the deepest user frame is, with the deepest library
frame kept beside it as ``inner``. Used by the callback probe's watchdog, the transport probe
and the replay.
"""

from __future__ import annotations

import asyncio
import os
import sysconfig
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["STACK_DEPTH", "Location", "locate", "snapshot", "suspended_location"]

STACK_DEPTH = 6  # user frames kept per blocking location


@dataclass(frozen=True)
class Location:
    """Where the loop thread was: the deepest user frame, and the innermost visible one."""

    where: str  # "path:line" of the deepest frame in user code
    function: str
    inner: str | None = None  # "path:line in func" of a deeper library frame, if any
    stack: tuple[str, ...] = ()  # user frames, innermost first: "path:line in func"


# The lab's harness (benchmarks/, probes included) runs the code under test; it is never the
# answer to "which line blocked", and naming it as a caller is noise.
_HARNESS_DIR = str(Path(__file__).resolve().parent.parent) + os.sep
_ASYNCIO_DIR = str(Path(asyncio.__file__).resolve().parent) + os.sep
_ALWAYS_HIDDEN = (_HARNESS_DIR, _ASYNCIO_DIR)
_HIDDEN_FILES = {str(Path(m.__file__).resolve()) for m in (threading,) if m.__file__} | {
    str(Path(sysconfig.get_paths()["stdlib"]) / name) for name in ("selectors.py", "runpy.py")
}
_LIB_DIRS = tuple(
    sorted(
        {
            str(Path(p).resolve()) + os.sep
            for key in ("stdlib", "platstdlib", "purelib", "platlib")
            if (p := sysconfig.get_paths().get(key))
        },
        key=len,
        reverse=True,
    )
)
_HIDDEN, _LIBRARY, _USER = 0, 1, 2
_kinds: dict[Any, tuple[int, str]] = {}


def _classify(code: Any) -> tuple[int, str]:
    """(kind, display path) of a code object's file, cached: the watchdog holds the GIL here."""
    cached = _kinds.get(code)
    if cached is not None:
        return cached
    filename = code.co_filename
    if filename.startswith("<"):
        result = (_HIDDEN if filename.startswith("<frozen") else _USER, filename)
    else:
        path = os.path.realpath(filename)
        if path.startswith(_ALWAYS_HIDDEN) or path in _HIDDEN_FILES:
            result = (_HIDDEN, path)
        else:
            lib = next((d for d in _LIB_DIRS if path.startswith(d)), "")
            result = (_LIBRARY, path[len(lib) :]) if lib else (_USER, _display(path))
    _kinds[code] = result
    return result


def _display(path: str) -> str:
    cwd = os.getcwd() + os.sep
    return path[len(cwd) :] if path.startswith(cwd) else path


def snapshot(frame: Any) -> list[tuple[Any, int]]:
    """(code, line) of a stack, innermost first: plain data, so no frame object is kept.

    Holding a frame after its function returns makes the frame own that function's locals; if
    the watchdog held it, it would free them later, on its own thread, holding the GIL.
    """
    stack = []
    while frame is not None:
        stack.append((frame.f_code, frame.f_lineno))
        frame = frame.f_back
    return stack


def locate(stack: list[tuple[Any, int]]) -> Location | None:
    """The deepest user frame of a ``snapshot`` (innermost first), skipping asyncio and probes."""
    visible = None
    users: list[str] = []
    for code, line in stack:
        kind, path = _classify(code)
        if kind == _USER:
            users.append(f"{path}:{line} in {code.co_qualname}")
            if len(users) == 1:
                first = (code, line, path)
            if len(users) == STACK_DEPTH:
                break
        elif kind == _LIBRARY and visible is None and not users:
            visible = (code, line, path)
    if users:
        code, line, path = first
        inner = f"{visible[2]}:{visible[1]} in {visible[0].co_qualname}" if visible else None
        return Location(f"{path}:{line}", code.co_qualname, inner, tuple(users))
    if visible is not None:
        code, line, path = visible
        return Location(f"{path}:{line}", code.co_qualname)
    return None


def suspended_location(task: Any) -> Location | None:
    """Where a task's coroutine chain is suspended now (its innermost user frame)."""
    stack = []
    obj = task.get_coro() if hasattr(task, "get_coro") else None
    for _ in range(64):
        frame = getattr(obj, "cr_frame", None) or getattr(obj, "gi_frame", None)
        if frame is None:
            break
        stack.append((frame.f_code, frame.f_lineno))
        obj = getattr(obj, "cr_await", None) or getattr(obj, "gi_yieldfrom", None)
    for code, line in reversed(stack):  # innermost first
        kind, path = _classify(code)
        if kind == _USER:
            return Location(f"{path}:{line}", code.co_qualname)
    return None
