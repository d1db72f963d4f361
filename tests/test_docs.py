"""The README documents every command and make target, and every command's help shows an example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from asyncio_perf_lab.benchmarks.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def subcommands() -> dict[str, str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return {name: sub.description or "" for name, sub in action.choices.items()}


def make_targets() -> list[str]:
    makefile = (ROOT / "Makefile").read_text()
    return re.findall(r"^([a-z][a-z-]*):.*?## ", makefile, flags=re.MULTILINE)


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_command_is_in_the_readme_and_its_help_has_an_example(command: str) -> None:
    """Each `asyncio-lab` command is in the README and its help ends in an example."""
    assert f"asyncio-lab {command}" in README
    assert "Example" in subcommands()[command]


def test_every_make_target_is_documented() -> None:
    """Each Makefile target carries a `##` comment and appears in the README."""
    targets = make_targets()
    assert {"bench", "test", "help", "lint", "clean", "serve"} <= set(targets)
    missing = [t for t in targets if f"make {t}" not in README]
    assert not missing, f"targets missing from README: {missing}"


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run calls `make test`, the command the README gives."""
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in README
    assert "make bench" in README
