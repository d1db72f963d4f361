"""What a replay can record on uvloop: the steps of tasks, not the loop's queues.

uvloop runs callbacks in C: no ``Handle._run`` to wrap, no ``_ready`` deque or timer heap to
read, no Python selector. What stays reachable is the task factory. ``TaskStepRecorder`` makes
every task created while it is installed a pure-Python task (``asyncio.tasks._PyTask``) whose
step method is wrapped, so each task step is recorded with its task, where it resumes, its await
stack, its duration and what it printed. Plain callbacks, the ready queue, timers and sockets
are missing, and a Python task is a little slower than uvloop's C one; ``missing()`` says so.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from typing import Any

from asyncio_perf_lab.benchmarks.replay.names import Named, name_task_step
from asyncio_perf_lab.benchmarks.replay.recorder import DEFAULT_LIMIT, StdoutTee, Step

__all__ = ["TaskStepRecorder"]

_PyTask: Any = asyncio.tasks._PyTask  # type: ignore[attr-defined]
_clock = time.perf_counter
UNSEEN = "(callbacks run inside uvloop: not visible)"


class _RecordedTask(_PyTask):
    """A Python task whose every step goes through its recorder."""

    _lab_recorder: TaskStepRecorder | None = None

    def _Task__step(self, exc: BaseException | None = None) -> None:
        rec = self._lab_recorder
        if rec is None or rec.stopped or rec.full:
            if rec is not None and not rec.stopped:
                rec.cut += 1
            return super()._Task__step(exc)  # type: ignore[misc]
        step = rec.before(self)
        start = _clock()
        try:
            return super()._Task__step(exc)  # type: ignore[misc]
        finally:
            rec.after(step, start)


class TaskStepRecorder:
    """Records the steps of tasks created while installed (any loop; meant for uvloop)."""

    def __init__(self, *, limit: int = DEFAULT_LIMIT, echo: bool = True) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = limit
        self.echo = echo
        self.steps: list[Step] = []
        self.names: dict[int, Named] = {}
        self.cut = 0
        self.record_s = 0.0
        self.full = False
        self.stopped = False
        self.out: list[str] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.t0 = 0.0
        self.wall_s = 0.0
        self._counter = itertools.count()
        self._factory: Any = None
        self._stdout: Any = None

    def missing(self, loop: asyncio.AbstractEventLoop) -> str:
        """The sentence the page shows about what this loop hides."""
        return (
            f"{type(loop).__module__}.{type(loop).__name__} runs callbacks in C: only task steps "
            "are recorded (as pure-Python tasks, a little slower than its own); plain "
            "callbacks, the ready queue, the timer heap and I/O waits are not visible"
        )

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Make tasks created from now on recorded Python tasks; tee stdout."""
        self.loop = loop
        self._factory = loop.get_task_factory()
        loop.set_task_factory(self._make_task)
        self._stdout = sys.stdout
        sys.stdout = StdoutTee(sys.stdout, self, self.echo)  # type: ignore[arg-type]
        self.t0 = _clock()

    def _make_task(self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        task = _RecordedTask(coro, loop=loop, **kwargs)
        task._lab_recorder = self
        return task

    def create_task(self, loop: asyncio.AbstractEventLoop, coro: Any, name: str) -> Any:
        """The recorded program's task."""
        return loop.create_task(coro, name=name)

    def stop_when_done(self, future: asyncio.Future[Any]) -> None:
        """Uninstall as soon as ``future`` is done."""
        future.add_done_callback(lambda _: self.uninstall())

    def uninstall(self) -> None:
        """Restore the task factory and stdout (idempotent)."""
        if self.stopped or self.loop is None:
            return
        if self.out and not self.full:
            self._unseen_step(_clock())
        self.stopped = True
        self.wall_s = _clock() - self.t0
        self.loop.set_task_factory(self._factory)
        if isinstance(sys.stdout, StdoutTee) and sys.stdout._recorder is self:
            sys.stdout = self._stdout

    def before(self, task: Any) -> Step:
        """A task step starts: name it where it resumes."""
        began = _clock()
        if self.out:
            self._unseen_step(began)
        step = self._step(began, name_task_step(task))
        self.record_s += _clock() - began
        return step

    def _unseen_step(self, now: float) -> None:
        """What callbacks the loop hides printed since the last task step, as a step of its own."""
        printed = "".join(self.out)
        self._step(now, Named(UNSEEN, None)).stdout = printed

    def _step(self, began: float, named: Named) -> Step:
        serial = next(self._counter)
        self.names[serial] = named
        step = Step(
            i=len(self.steps),
            t_ms=(began - self.t0) * 1000,
            iteration=0,
            handle=serial,
            named=named,
            ready=[],
            ready_total=0,
            this_turn=0,
            timers=[],
            timers_total=0,
            io=[],
            io_total=0,
        )
        self.out = []
        self.steps.append(step)
        self.full = len(self.steps) >= self.limit
        return step

    def after(self, step: Step, start: float) -> None:
        """A task step ended: keep its duration and output."""
        began = _clock()
        step.duration_ms = (began - start) * 1000
        step.stdout = "".join(self.out)
        self.out = []
        self.record_s += _clock() - began
