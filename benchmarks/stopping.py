"""How a long command stops on a signal: SIGTERM acts like Ctrl-C, and each has its exit code.

A CI cancel, ``timeout`` or ``kill PID`` sends SIGTERM; by default Python would vanish mid-write.
While ``sigterm_stops_the_run`` holds, SIGTERM raises ``Terminated`` (a KeyboardInterrupt), so the
same clean-ups run as on Ctrl-C (workers and server stopped, what was measured written) and the
command still tells the two apart: 130 for Ctrl-C, 143 for SIGTERM, the shell's 128 + signal.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any

__all__ = ["Terminated", "exit_code", "how_stopped", "sigterm_stops_the_run"]


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI cancel, ``timeout``, ``kill PID``): it stops a run the way Ctrl-C does."""


@contextlib.contextmanager
def sigterm_stops_the_run() -> Iterator[None]:
    """While a command runs, SIGTERM raises Terminated instead of ending the process at once."""

    def terminate(signum: int, frame: Any) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def how_stopped(exc: KeyboardInterrupt) -> str:
    """``SIGTERM`` or ``Ctrl-C (SIGINT)``, for a one-line reason."""
    return "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C (SIGINT)"


def exit_code(exc: KeyboardInterrupt) -> int:
    """143 for SIGTERM, 130 for Ctrl-C."""
    return 143 if isinstance(exc, Terminated) else 130
