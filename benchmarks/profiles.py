"""Measurement profiles: how many pyperf worker processes, values and warmups a run spends.

A slow variant (a second per call) cannot get as many values as a fast one in the same wall
time, so each profile has a time budget per variant: values per process shrink for slow
variants down to ``min_values``, never below. Processes are never cut: spreading values over
fresh processes is what makes pyperf's numbers trustworthy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """pyperf settings for every variant of a run (passed to workers as command-line arguments)."""

    name: str
    processes: int
    values: int
    warmups: int
    min_time: float
    variant_budget_s: float
    min_values: int = 2
    tiny_workload: bool = False

    def values_for(self, call_s: float) -> int:
        """Values per process for a variant whose one call takes about ``call_s`` seconds."""
        calls_in_budget = self.variant_budget_s / (self.processes * max(call_s, self.min_time))
        fitting = math.floor(calls_in_budget) - self.warmups
        return max(self.min_values, min(self.values, fitting))

    def worker_args(self, call_s: float) -> list[str]:
        """pyperf worker options for a variant whose one call takes about ``call_s`` seconds.

        The one sizing rule of the lab: ``run`` knows ``call_s`` from the probe's calls, ``ab``
        from one calibration worker; both time with these options.
        """
        return [
            f"--values={self.values_for(call_s)}",
            f"--warmups={self.warmups}",
            f"--min-time={self.min_time}",
            f"--loops={self.loops_for(call_s)}",  # known: no calibration in every worker
        ]

    def loops_for(self, call_s: float) -> int:
        """Calls per value so a value lasts ``min_time``: pyperf's own rule (powers of 2)."""
        if call_s >= self.min_time:
            return 1
        call_s = max(call_s, 1e-9)  # a call too fast for the clock still gets finite loops
        return 2 ** math.ceil(math.log2(self.min_time / call_s))

    def as_dict(self) -> dict[str, object]:
        """The settings as recorded in the results file."""
        return {
            "processes": self.processes,
            "values": self.values,
            "min_values": self.min_values,
            "warmups": self.warmups,
            "min_time": self.min_time,
            "variant_budget_s": self.variant_budget_s,
            "tiny_workload": self.tiny_workload,
        }


PROFILES: dict[str, Profile] = {
    # tiny: smoke tests only, with each scenario's TINY workload.
    "tiny": Profile(
        "tiny",
        processes=1,
        values=2,
        warmups=1,
        min_time=0.01,
        variant_budget_s=0.5,
        tiny_workload=True,
    ),
    "quick": Profile(
        "quick",
        processes=1,
        values=3,
        warmups=1,
        min_time=0.05,
        variant_budget_s=1.0,
        min_values=1,  # quick is for budgets (scale-free); a 3 s variant gets one value
    ),
    # default: the report's run. Two processes, so every variant has values from two fresh
    # interpreters; 2 s a variant (at least one value a process): a 3 s server_load call gets
    # one value in each, where four would add 40 s to the run and nothing to its lesson.
    "default": Profile(
        "default",
        processes=2,
        values=4,
        warmups=1,
        min_time=0.1,
        variant_budget_s=2.0,
        min_values=1,
    ),
    "rigorous": Profile(
        "rigorous",
        processes=6,
        values=5,
        warmups=1,
        min_time=0.2,
        variant_budget_s=60.0,
        min_values=3,
    ),
}
