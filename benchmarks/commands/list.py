"""``asyncio-lab list``: the scenarios and their variants, as a table."""

from __future__ import annotations

import argparse
from typing import Any

from asyncio_perf_lab.benchmarks.commands.common import add_command, add_scenarios, console


def add_parser(sub: Any) -> None:
    """Register ``list``."""
    parser = add_command(
        sub,
        "list",
        "list scenarios and variants",
        "List every scenario and its variants, marking the anti-patterns.",
        "asyncio-lab list",
    )
    add_scenarios(parser)


def run(args: argparse.Namespace) -> int:
    """Print one row per variant: scenario, name, label, anti-pattern, why."""
    from rich.table import Table

    from asyncio_perf_lab import scenarios

    table = Table(title="scenarios and variants")
    for column in ("scenario", "variant", "label", "anti-pattern", "why"):
        table.add_column(column)
    for scenario in scenarios.all_scenarios(args.scenarios):
        for i, (name, variant) in enumerate(scenario.variants.items()):
            table.add_row(
                scenario.name if i == 0 else "",
                name,
                variant.label,
                "yes" if variant.anti_pattern else "",
                variant.why,
            )
    console(stderr=False).print(table)
    return 0
