"""The README documents every command and make target, and every command's help shows an example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from asyncio_perf_lab.benchmarks.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def subcommands() -> dict[str, str]:
    """Every command the parser knows, with its help text: a new command is checked at once."""
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return {name: sub.description or "" for name, sub in action.choices.items()}


def doc_problems(commands: dict[str, str], readme: str) -> list[str]:
    """Commands the README does not name, or whose help does not end with its own example."""
    problems = []
    for name, help_text in sorted(commands.items()):
        if f"asyncio-lab {name}" not in readme:
            problems.append(f"{name}: not in the README")
        if not re.search(rf"Example: asyncio-lab {re.escape(name)}(\s[^\n]*)?$", help_text):
            problems.append(f"{name}: help does not end with 'Example: asyncio-lab {name} ...'")
    return problems


def make_targets() -> list[str]:
    makefile = (ROOT / "Makefile").read_text()
    return re.findall(r"^([a-z][a-z-]*):.*?## ", makefile, flags=re.MULTILINE)


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_command_is_in_the_readme_and_its_help_has_an_example(command: str) -> None:
    """Each `asyncio-lab` command is in the README and its help ends in an example of it."""
    assert doc_problems({command: subcommands()[command]}, README) == []


def test_an_undocumented_command_is_caught() -> None:
    """A command missing from the README, or whose help lacks its example, is reported."""
    commands = {
        "fresh": "Does a new thing.",
        "list": "List things. Example: asyncio-lab run x",
    }
    assert doc_problems(commands, "asyncio-lab list") == [
        "fresh: not in the README",
        "fresh: help does not end with 'Example: asyncio-lab fresh ...'",
        "list: help does not end with 'Example: asyncio-lab list ...'",
    ]


def test_make_targets_call_real_commands() -> None:
    """Every `$(LAB) COMMAND` in the Makefile names a command the parser knows."""
    makefile = (ROOT / "Makefile").read_text()
    called = set(re.findall(r"\$\(LAB\) ([a-z][a-z-]*)", makefile))
    assert {"run", "report", "selfbench"} <= called
    assert called <= set(subcommands())


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
