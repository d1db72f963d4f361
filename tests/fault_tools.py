"""What the fault tests share: a misbehaving scenario, a tagged lab process, the process table.

Every process a lab command starts (mock server, workers, their guard, a process pool and its
forkserver) inherits the command's environment, so a unique ``LAB_FAULT_TAG`` in it finds them
all in ``/proc``, even orphans adopted by init. A test's tag is swept with SIGKILL at its end,
so a failing test leaves nothing running either (``sweep``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.lab_cli import ROOT

TAG_NAME = "LAB_FAULT_TAG"

FAULTY = '''"""Faulty: variants that hang, spin or fail where a fault test wants them to

Each variant touches a file named after itself and its phase in MARKS before it misbehaves, so
the test knows the moment to kill or stop something.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from asyncio_perf_lab import Context, Machine, Variant

QUESTION = "What does the lab do when a variant or its server misbehaves?"
LESSON = "It stops what runs, names what happened in one line and keeps what was measured."
LATENCY = "1ms"
MARKS = {marks!r}


@dataclass(frozen=True)
class Workload:
    marks: str = MARKS


TINY = Workload()


def in_worker() -> bool:
    return "--worker" in sys.argv


def mark(ctx: Context, name: str) -> None:
    phase = "worker" if in_worker() else "probe"
    Path(ctx.workload.marks, f"{{name}}.{{phase}}").touch()


async def fine(ctx: Context) -> int:
    """One request."""
    await ctx.get_json("/users/1")
    return 1


async def hangs_in_worker(ctx: Context) -> int:
    """Answers in the probe; inside a pyperf worker it waits for what never comes."""
    await ctx.get_json("/users/1")
    if in_worker():
        mark(ctx, "hangs_in_worker")
        await asyncio.Event().wait()
    return 1


async def pool_then_hangs(ctx: Context) -> int:
    """In a worker: starts the process pool (forkserver and a child), then waits forever."""
    await ctx.get_json("/users/1")
    if in_worker():
        await asyncio.get_running_loop().run_in_executor(ctx.process_pool, os.getpid)
        mark(ctx, "pool_then_hangs")
        await asyncio.Event().wait()
    return 1


async def keeps_asking(ctx: Context) -> int:
    """In a worker: asks the server again and again, for as long as it answers."""
    await ctx.get_json("/users/1")
    if in_worker():
        mark(ctx, "keeps_asking")
        while True:
            await ctx.get_json("/users/1")
    return 1


async def waits_in_probe(ctx: Context) -> int:
    """In the probe: a request the server holds open (hang=1) until the client gives up."""
    mark(ctx, "waits_in_probe")
    await ctx.get_json("/users/1", hang=1)
    return 1


async def hangs(ctx: Context) -> int:
    """Never returns, and not in HTTP: a wait nothing ends."""
    await asyncio.Event().wait()
    return 1


async def spins(ctx: Context) -> int:
    """Holds the loop forever: its own timeout can never fire."""
    while True:
        pass


async def raises_in_worker(ctx: Context) -> int:
    """Answers in the probe, raises inside a worker."""
    await ctx.get_json("/users/1")
    if in_worker():
        raise ValueError("boom in the worker")
    return 1


def _one(w: Workload, latency_s: float, machine: Machine) -> float:
    return latency_s


VARIANTS = {{
    name: Variant(globals()[name], name.replace("_", " "), "a fault on purpose", _one)
    for name in (
        "fine", "hangs_in_worker", "pool_then_hangs", "keeps_asking", "waits_in_probe",
        "hangs", "spins", "raises_in_worker",
    )
}}
'''


def faulty_folder(root: Path) -> tuple[Path, Path]:
    """``root/faults/faulty.py`` and its marks folder ``root/marks``."""
    folder, marks = root / "faults", root / "marks"
    folder.mkdir()
    marks.mkdir()
    (folder / "faulty.py").write_text(FAULTY.format(marks=str(marks)))
    return folder, marks


def tagged(tag: str) -> list[str]:
    """``PID COMMAND`` of each live (not zombie) process whose environment carries the tag."""
    wanted = f"{TAG_NAME}={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if wanted not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state not in ("Z", "X"):
            found.append(f"{entry.name} {command.strip()}")
    return found


def left_running(tag: str, within_s: float = 10.0) -> list[str]:
    """The tagged processes still running after ``within_s`` (a killed one takes a moment)."""
    deadline = time.monotonic() + within_s
    while (found := tagged(tag)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def wait_for(check: Callable[[], object], within_s: float, what: str) -> None:
    """Poll ``check`` until it is true; fail the test naming ``what`` after ``within_s``."""
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {within_s:g} s")
        time.sleep(0.05)


def pid_of(tag: str, needle: str) -> int:
    """The pid of the tagged process whose command line contains ``needle``."""
    matches = [int(line.split()[0]) for line in tagged(tag) if needle in line]
    assert len(matches) == 1, (needle, tagged(tag))
    return matches[0]


class Lab:
    """``asyncio-lab ARGS`` as a real process carrying a tag, its output captured."""

    def __init__(self, tag: str, *args: str, cwd: Path = ROOT) -> None:
        env = {**os.environ, TAG_NAME: tag, "COLUMNS": "400"}  # no line of ours is wrapped
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "asyncio_perf_lab.benchmarks", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Ctrl-C as in a terminal: a shell's background job (`make test &`, nohup) starts
            # with SIGINT ignored, which every child would inherit and Python would keep
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the command's process alone, as `kill -SIG PID` would."""
        os.kill(self.proc.pid, sig)

    def finish(self, within_s: float = 90.0) -> tuple[int, str, str]:
        """Its exit code, stdout and stderr once it ends."""
        out, err = self.proc.communicate(timeout=within_s)
        return self.proc.returncode, out, err


def run_lab(tag: str, *args: str, within_s: float = 90.0) -> tuple[int, str, str]:
    """Run ``asyncio-lab ARGS`` to the end: exit code, stdout, stderr."""
    return Lab(tag, *args).finish(within_s)


def lines_with(text: str, start: str) -> list[str]:
    """The lines of ``text`` that start with ``start``."""
    return [line for line in text.splitlines() if line.startswith(start)]


def sweep(tag: str) -> None:
    """SIGKILL whatever still carries ``tag`` (a test's teardown: a failing test leaves nothing)."""
    for line in tagged(tag):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split()[0]), signal.SIGKILL)


def new_tag() -> str:
    """A tag no other test uses."""
    return uuid.uuid4().hex
