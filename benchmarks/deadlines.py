"""Time limits of a variant's two phases (its probe run, its timing), and the check at the door.

Each phase has a limit derived from what it must do: its calls times the seconds a call takes
(the ideal before the probe, the probe's measured call after it), given ``slack`` times that, never
less than ``floor_s`` (interpreter start-up, imports, a busy machine) and never more than
``cap_s``. Input whose phase needs more than ``cap_s`` even at its ideal is refused before any work,
with the arithmetic; a limit that runs out stops the phase (workers by their process group, the
probe by cancellation, or by SIGALRM when a blocked loop cannot see its own timeout).
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from asyncio_perf_lab.benchmarks.profiles import Profile
from asyncio_perf_lab.reports.errors import UsageError

__all__ = [
    "HARD_GRACE_S",
    "PROBE_CALLS",
    "Limits",
    "Phase",
    "PhaseTimeout",
    "check_selections",
    "hard_deadline",
    "human",
    "probe_phase",
    "timing_phase",
]

PROBE_CALLS = 2  # the probe awaits the variant twice: once warm, once under the probes
HARD_GRACE_S = 5.0  # after a probe's own timeout: time for the cancellation to land
HINT_TIMING = "use a lower --latency or a smaller --profile"


class PhaseTimeout(Exception):
    """A phase ran past its limit while its loop was blocked (raised by SIGALRM)."""


def human(seconds: float) -> str:
    """A duration as a person says it: ``250 ms``, ``4.5 s``, ``45 s``, ``18 min``, ``2.5 h``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 600:
        return f"{seconds / 60:.1f} min".replace(".0 min", " min")
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class Phase:
    """One phase of one variant: how many calls it makes and how long a call takes."""

    key: str  # scenario:variant
    name: str  # "probe" or "timing"
    call_s: float
    calls: int
    detail: str  # where the calls come from: "2 processes x (1 warmup + 2 values) x 1 loop"
    basis: str  # where call_s comes from: "at its ideal" or "as measured in its probe"

    @property
    def needs_s(self) -> float:
        """Seconds the phase takes at least (its calls back to back)."""
        return self.call_s * self.calls

    def arithmetic(self) -> str:
        """``3 min a call at its ideal x 6 calls (2 processes x (1 warmup + 2 values))``."""
        return f"{human(self.call_s)} a call {self.basis} x {self.calls} calls ({self.detail})"


@dataclass(frozen=True)
class Limits:
    """The rule every phase's limit follows; ``cap_s`` is ``run --phase-limit``."""

    cap_s: float = 900.0  # 15 min: no phase of one variant may stall CI longer
    floor_s: float = 120.0  # a phase's limit is never shorter (start-up, imports, a busy machine)
    slack: float = 4.0  # how many times what a phase needs it may take before it counts as hung

    def limit_s(self, phase: Phase) -> float:
        """The phase's time limit: ``slack`` x what it needs, within floor..cap."""
        return min(self.cap_s, max(min(self.floor_s, self.cap_s), self.slack * phase.needs_s))

    def check(self, phase: Phase) -> None:
        """UsageError with the arithmetic when the phase needs more than the cap."""
        if phase.needs_s > self.cap_s:
            raise UsageError(
                f"{phase.key}: its {phase.name} needs ~{human(phase.needs_s)} "
                f"({phase.arithmetic()}); the limit is {human(self.cap_s)} (--phase-limit); "
                + ("use a lower --latency" if phase.name == "probe" else HINT_TIMING)
            )

    def describe(self) -> str:
        """The rule in one line, stated before a run starts."""
        if self.floor_s >= self.cap_s:
            return (
                "time limits: each variant's probe and timing may take at most "
                f"{human(self.cap_s)} (--phase-limit)"
            )
        return (
            f"time limits: each variant's probe and timing may take {self.slack:g}x what they "
            f"need, at least {human(self.floor_s)}, at most {human(self.cap_s)} (--phase-limit)"
        )

    def as_dict(self) -> dict[str, float]:
        """The rule as recorded in the results file."""
        return {"cap_s": self.cap_s, "floor_s": self.floor_s, "slack": self.slack}


def probe_phase(key: str, ideal_s: float) -> Phase:
    """The probe run: the variant awaited twice, each call at least its ideal."""
    return Phase(key, "probe", ideal_s, PROBE_CALLS, "1 warm + 1 probed", "at its ideal")


def timing_phase(key: str, profile: Profile, call_s: float, basis: str) -> Phase:
    """The pyperf timing: every worker process's warmups and values, ``loops`` calls each."""
    values = profile.values_for(call_s)
    loops = profile.loops_for(call_s)
    calls = profile.processes * (profile.warmups + values) * loops
    detail = (
        f"{profile.processes} process{'es' if profile.processes > 1 else ''} x "
        f"({profile.warmups} warmup + {values} values) x {loops} loop{'s' if loops > 1 else ''}"
    )
    return Phase(key, "timing", call_s, calls, detail, basis)


class _NoCosts(Mapping[str, float]):
    """Calibrated CPU costs all taken as 0: an ideal model then gives its latency-only floor."""

    def __getitem__(self, key: str) -> float:
        return 0.0

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def check_selections(
    selections: list[Any], profile: Profile, latency_override: str | None, limits: Limits
) -> None:
    """Refuse, before any work, a variant whose probe or timing cannot fit ``limits.cap_s``.

    The ideal is a floor (CPU costs taken as 0 here), so a refusal is certain, never a guess.
    """
    from asyncio_perf_lab.mockserver import parse_latency
    from asyncio_perf_lab.scenarios import Machine

    machine = Machine(cpu_s=_NoCosts())
    for selection in selections:
        scenario = selection.scenario
        workload = scenario.tiny if profile.tiny_workload else scenario.workload
        latency = latency_override or scenario.latency or ""
        latency_s = parse_latency(latency).nominal_s if latency else 0.0
        for name in selection.variants:
            key = f"{scenario.name}:{name}"
            try:
                ideal_s = float(scenario.variants[name].ideal(workload, latency_s, machine))
            except Exception:  # a model that needs real costs: the probe's limit catches it
                continue
            if not math.isfinite(ideal_s) or ideal_s <= 0:
                continue
            limits.check(probe_phase(key, ideal_s))
            limits.check(timing_phase(key, profile, ideal_s, "at its ideal"))


@contextlib.contextmanager
def hard_deadline(seconds: float, what: str) -> Iterator[None]:
    """Raise PhaseTimeout in the main thread after ``seconds``, even in a loop that never yields.

    A busy loop cannot run its own ``asyncio.timeout``; SIGALRM still interrupts Python code
    between bytecodes. Outside the main thread (no signals there) this only yields.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise PhaseTimeout(what)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
