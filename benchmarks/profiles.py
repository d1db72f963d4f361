"""Measurement profiles: how many pyperf worker processes, values and warmups a run spends."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """pyperf settings for every variant of a run (passed to workers as command-line arguments)."""

    name: str
    processes: int
    values: int
    warmups: int
    min_time: float
    tiny_workload: bool = False

    def pyperf_args(self) -> list[str]:
        """The pyperf command-line options this profile stands for."""
        return [
            f"--processes={self.processes}",
            f"--values={self.values}",
            f"--warmups={self.warmups}",
            f"--min-time={self.min_time}",
        ]

    def as_dict(self) -> dict[str, object]:
        """The settings as recorded in the results file."""
        return {
            "processes": self.processes,
            "values": self.values,
            "warmups": self.warmups,
            "min_time": self.min_time,
            "tiny_workload": self.tiny_workload,
        }


PROFILES: dict[str, Profile] = {
    # tiny: smoke tests only, with each scenario's TINY workload.
    "tiny": Profile("tiny", processes=1, values=2, warmups=1, min_time=0.01, tiny_workload=True),
    "quick": Profile("quick", processes=1, values=4, warmups=1, min_time=0.05),
    "default": Profile("default", processes=2, values=4, warmups=1, min_time=0.1),
    "rigorous": Profile("rigorous", processes=6, values=5, warmups=1, min_time=0.2),
}
