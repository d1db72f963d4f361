"""When a run calibrates a scenario's CPU costs, so each ideal stays a floor.

Ideals of CPU-bound variants come from costs measured on this machine in a lean process
(``Scenario.measure_machine``). A shared machine has slow stretches of many seconds, and one
reading taken in a stretch would lift every ideal above what was measured. So a run reads the
costs before a scenario and again after it, and keeps each cost's lowest reading: the floor
statistic. More readings are taken only where the guard sees an ideal above its fastest value.
"""

from __future__ import annotations

from typing import Any

from asyncio_perf_lab.scenarios import Machine, Scenario
from asyncio_perf_lab.scenarios.calibration import Site

__all__ = ["EXTRA_CALIBRATIONS", "calibrated_after", "lower_costs", "recalibrated"]

# Calibrations after a scenario's last timing while an ideal stays above its fastest value.
EXTRA_CALIBRATIONS = 2


def lower_costs(first: dict[str, float], second: dict[str, float]) -> dict[str, float]:
    """Each calibrated cost at the lesser of two calibrations (a busy moment only adds time)."""
    return {key: min(first[key], second.get(key, first[key])) for key in first}


def recalibrated(scenario: Scenario, workload: Any, site: Site, machine: Machine) -> Machine:
    """``machine`` with each cost at the lower of its reading and a fresh calibration's."""
    return Machine(cpu_s=lower_costs(machine.cpu_s, scenario.measure_machine(workload, site)))


def calibrated_after(
    scenario: Scenario,
    workload: Any,
    site: Site,
    machine: Machine,
    latency_s: float,
    entry: dict[str, Any],
) -> Machine:
    """The machine calibrated again after the scenario's timings, each cost at its lowest reading.

    A shared machine has slow stretches of many seconds; one that covers the first calibration
    but not a timing would lift ideals above what was measured. So the costs are read again
    after the timings, and again (up to EXTRA_CALIBRATIONS more) while some variant's ideal
    stays above its fastest value: more readings only where a reading shows it was slowed,
    and a minimum, the floor statistic, over all of them. What is still above is flagged by
    the guard, never hidden.
    """
    machine = recalibrated(scenario, workload, site, machine)
    for _ in range(EXTRA_CALIBRATIONS):
        if not any(
            scenario.variants[r["name"]].ideal(workload, latency_s, machine) > min(r["values"])
            for r in entry["variants"]
        ):
            break
        machine = recalibrated(scenario, workload, site, machine)
    return machine
