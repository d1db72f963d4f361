"""The watchdog: a thread that samples the loop thread's line while one callback holds the loop.

While the loop has been stuck for over half the threshold, it copies the loop thread's stack
(``sys._current_frames()``) and keeps where user code was (``probes.locations``). A callback stuck
in C code that holds the GIL (``json.loads``) cannot be sampled until it returns. On uvloop, whose
callbacks run in C, it is the only source: it watches the lag probe's heartbeat instead and names
the task with ``asyncio.current_task``.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from asyncio_perf_lab.benchmarks.probes.locations import Location, locate, snapshot

__all__ = ["DEFAULT_THRESHOLD_S", "Sample", "Watchdog", "best_location"]

DEFAULT_THRESHOLD_S = 0.020  # a callback this long blocks the loop


@dataclass(frozen=True)
class Sample:
    """One look at the loop thread while it was stuck."""

    t: float  # perf_counter()
    location: Location
    task: str | None


@dataclass
class Watchdog:
    """A thread that samples the loop thread's frame while one callback runs too long.

    ``stalled_since()`` returns the perf_counter() moment the loop got stuck (the running
    callback's start, or the heartbeat's due time), or 0.0 when it is not stuck; the loop is
    sampled once that is over ``threshold_s / 2`` old, so callbacks just over the threshold are
    caught too.
    """

    stalled_since: Callable[[], float]
    threshold_s: float = DEFAULT_THRESHOLD_S
    loop: asyncio.AbstractEventLoop | None = None  # set: name the task via current_task (uvloop)
    poll_s: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    busy_s: float = 0.0  # time this thread spent holding the GIL (the cost it adds)
    wakeups: int = 0
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _target: int = 0

    def start(self) -> None:
        """Watch the calling thread (the loop thread) until ``stop()``."""
        self._target = threading.get_ident()
        if not self.poll_s:
            self.poll_s = min(0.005, max(0.001, self.threshold_s / 4))
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="lab-probe-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop and join the thread (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _watch(self) -> None:
        trigger = self.threshold_s / 2
        while not self._stop.wait(self.poll_s):
            began = time.perf_counter()
            self.wakeups += 1
            since = self.stalled_since()
            if since and began - since >= trigger:
                # Copy the stack out at once; classifying it (with syscalls that release the
                # GIL) comes after, when no frame object is held any more.
                stack = snapshot(sys._current_frames().get(self._target))
                t = time.perf_counter()
                task = None
                if self.loop is not None:
                    current = asyncio.current_task(self.loop)
                    task = current.get_name() if current is not None else None
                    del current
                location = locate(stack)
                if location is not None:
                    self.samples.append(Sample(t, location, task))
            self.busy_s += time.perf_counter() - began


def best_location(samples: list[Sample], start: float, threshold_s: float) -> Location | None:
    """The most frequent location among samples, preferring those taken past the threshold."""
    late = [s for s in samples if s.t - start >= threshold_s] or samples
    if not late:
        return None
    counts = Counter(s.location for s in late)
    return counts.most_common(1)[0][0]
