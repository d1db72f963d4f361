"""What the commands share: the one-line-error parser, the consoles, shared flags and checks.

A flag used by two commands is one ``add_*`` function here, so its name, default, help and
validation are written once. Validation happens while parsing where it can (an ``argparse`` type),
so bad input is one line naming the value and what is allowed, and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = [
    "Parser",
    "add_command",
    "add_gate_flags",
    "add_latency",
    "add_loop",
    "add_out",
    "add_profile",
    "add_program",
    "add_routes",
    "add_scenarios",
    "add_targets",
    "argument_type",
    "bounded",
    "console",
    "latency_spec",
    "loop_name",
    "progress_bar",
]

MIN_PIPED_WIDTH = 160  # piped into a CI log or a test, names are never cut to "sequenti…"


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 2 (argparse prints its usage first), and
    a value that starts with ``-`` is taken as the value (``--latency -5ms``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        given = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(self.attach_dash_values(given), namespace)

    def attach_dash_values(self, args: list[str]) -> list[str]:
        """``--latency -5ms`` -> ``--latency=-5ms`` for a flag that takes one value and a next
        word that is no flag of ours: argparse would take ``-5ms`` for an unknown option and say
        "expected one argument"; attached, the flag's own check names the value."""
        out: list[str] = []
        words = iter(args)
        for word in words:
            if word == "--":  # everything after it is positional already
                out += [word, *words]
                break
            action = self._option_string_actions.get(word)
            if action is not None and action.nargs is None:
                value = next(words, None)
                if (
                    value is not None
                    and value.startswith("-")
                    and len(value) > 1
                    and value.split("=", 1)[0] not in self._option_string_actions
                ):
                    out.append(f"{word}={value}")
                    continue
                out.append(word)
                if value is not None:
                    out.append(value)
                continue
            out.append(word)
        return out


def add_command(sub: Any, name: str, summary: str, description: str, example: str) -> Parser:
    """Register command ``name``; its help is ``description`` and ends with ``example``."""
    return sub.add_parser(
        name,
        help=summary,
        description=f"{description} Example: {example}",
    )


def console(stderr: bool = True) -> Console:
    """A Rich console on stderr (progress, notes) or stdout (tables a user may pipe on).

    At a terminal Rich sizes itself; piped it is at least ``MIN_PIPED_WIDTH`` columns (more when
    ``COLUMNS`` says so), not Rich's 80.
    """
    stream: IO[str] = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    columns = os.environ.get("COLUMNS", "")
    width = max(MIN_PIPED_WIDTH, int(columns) if columns.isdigit() else 0)
    return Console(stderr=stderr, width=width)


def progress_bar(out: Console, label_width: int) -> Progress:
    """The bar every long command shows on stderr: what runs now, a bar, n of m, time taken.

    Transient: once done it disappears, leaving the command's own table.
    """
    columns = (
        TextColumn(f"{{task.description:<{label_width}}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    return Progress(*columns, console=out, transient=True)


def argument_type(check: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type from a check that raises ValueError with a one-line message."""

    def parse(text: str) -> Any:
        try:
            return check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = check.__name__  # argparse names the type in some messages
    return parse


def bounded(kind: type[int] | type[float], low: float, high: float, name: str) -> Any:
    """An argparse type: a ``kind`` number from ``low`` to ``high``, else one line naming both."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{name} {text} is outside {low:g}..{high:g}")
        return value

    return parse


def loop_name(text: str) -> str:
    """An event loop importable here; anything else names what is allowed."""
    from asyncio_perf_lab.benchmarks.loops import LOOPS, available_loops

    allowed = available_loops()
    if text in allowed:
        return text
    if text in LOOPS:
        raise ValueError(f"{text} is not available here; allowed: {', '.join(allowed)}")
    raise ValueError(f"unknown loop {text!r}; allowed: {', '.join(allowed)}")


def latency_spec(text: str) -> str:
    """A latency SPEC the mock server understands (``40ms``, ``uniform:10ms-50ms``, ...)."""
    from asyncio_perf_lab.mockserver import parse_latency

    parse_latency(text)
    return text


def scenarios_folder(text: str) -> Path:
    """A folder of user scenario modules, each imported and checked against the contract now."""
    from asyncio_perf_lab import scenarios
    from asyncio_perf_lab.mockserver import parse_latency

    for name, scenario in scenarios.user_scenarios(text).items():
        if scenario.latency is not None:
            try:
                parse_latency(scenario.latency)
            except ValueError as exc:
                raise ValueError(f"{Path(text) / name}.py: LATENCY: {exc}") from None
    return Path(text).resolve()


def routes_file(text: str) -> Path:
    """A routes TOML file the mock server accepts, checked now (one line naming route, field)."""
    from asyncio_perf_lab.mockserver import load_routes

    load_routes(text)  # RoutesError is a ValueError: one line
    return Path(text).resolve()


def add_scenarios(parser: argparse.ArgumentParser) -> None:
    """--scenarios DIR: a folder of your scenario modules (a run without names runs them)."""
    parser.add_argument(
        "--scenarios",
        type=argument_type(scenarios_folder),
        metavar="DIR",
        help="a folder of your scenario modules (*.py not starting with _); without names, "
        "its scenarios are the ones run; built-ins can still be named",
    )


def add_routes(parser: argparse.ArgumentParser) -> None:
    """--routes FILE: your API's routes (TOML) served by the mock server beside the built-ins."""
    parser.add_argument(
        "--routes",
        type=argument_type(routes_file),
        metavar="FILE",
        help="a TOML file of your API's routes for the mock server (docs/your-own-code.md)",
    )


def add_targets(parser: argparse.ArgumentParser) -> None:
    """SCENARIO[:VARIANT] ... (none: every scenario)."""
    parser.add_argument("targets", nargs="*", metavar="SCENARIO[:VARIANT]", help="default: all")


def add_program(parser: argparse.ArgumentParser, verb: str) -> None:
    """SCENARIO:VARIANT, or --script PATH.py [--func NAME]: what ``trace`` and ``replay`` run.

    ``benchmarks.tracing.choose_program`` turns the three into one checked program.
    """
    parser.add_argument("target", nargs="?", metavar="SCENARIO:VARIANT")
    parser.add_argument("--script", metavar="PATH.py", help=f"{verb} your own async program")
    parser.add_argument("--func", default="main", help="async function of --script (default main)")


def add_profile(parser: argparse.ArgumentParser, default: str) -> None:
    """--profile NAME, one of the measurement profiles."""
    from asyncio_perf_lab.benchmarks.profiles import PROFILES

    parser.add_argument(
        "--profile", choices=list(PROFILES), default=default, help=f"default: {default}"
    )


def add_loop(parser: argparse.ArgumentParser, help: str = "default: asyncio") -> None:
    """--loop NAME, checked to be importable here while parsing."""
    parser.add_argument(
        "--loop", type=argument_type(loop_name), default="asyncio", metavar="LOOP", help=help
    )


def add_latency(parser: argparse.ArgumentParser, help: str) -> None:
    """--latency SPEC, checked by the mock server's own parser while parsing."""
    parser.add_argument("--latency", type=argument_type(latency_spec), metavar="SPEC", help=help)


def fraction(text: str) -> float:
    """``10%`` or ``0.1`` -> 0.1."""
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ValueError(f"not a fraction or percentage: {text!r} (e.g. 10% or 0.1)") from None


def add_gate_flags(parser: argparse.ArgumentParser) -> None:
    """--floor and --alpha of the regression gate (``compare`` and ``ab``)."""
    from asyncio_perf_lab.reports.gate import GateSettings

    parser.add_argument(
        "--floor",
        type=argument_type(fraction),
        default=GateSettings.floor,
        metavar="PCT",
        help="minimum effect floor; a variant's own A/A spread in the job can raise it "
        "(default 3%%)",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=GateSettings.alpha,
        help="one-sided significance level (default 0.01)",
    )


def add_out(
    parser: argparse.ArgumentParser, default: str | None = "results", help: str | None = None
) -> None:
    """--out PATH (a folder that receives new run directories unless ``help`` says otherwise)."""
    parser.add_argument(
        "--out", default=default, metavar="PATH", help=help or f"folder (default: {default})"
    )
