"""``asyncio-lab``: see and measure what asyncio really does.

One parser and a table of commands; each command is a module of ``benchmarks/commands/`` with
``add_parser(sub)`` and ``run(args) -> int``. Bad input is one line on stderr and exit code 2,
never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from asyncio_perf_lab.benchmarks.commands.common import Parser
from asyncio_perf_lab.benchmarks.stopping import exit_code, how_stopped
from asyncio_perf_lab.reports.errors import ResultsFileError, UsageError

# The commands, in the order `asyncio-lab --help` lists them. A command NAME lives in
# benchmarks/commands/NAME.py (dashes become underscores).
COMMANDS = (
    "list",
    "new",
    "run",
    "report",
    "compare",
    "ab",
    "trace",
    "replay",
    "matrix",
    "matrix-page",
    "trend",
    "readme-chart",
    "loadgen",
    "serve",
    "selfbench",
)


def command(name: str) -> ModuleType:
    """The module of command ``name``."""
    return importlib.import_module(f"asyncio_perf_lab.benchmarks.commands.{name.replace('-', '_')}")


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names first (None for ``--help``, nothing, or an unknown word)."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first if first in COMMANDS else None


def build_parser(argv: Sequence[str] | None = None) -> Parser:
    """The parser: every command's in full, or only the one ``argv`` chose.

    Each command's help ends with an example. A command's module imports what it needs to
    describe its flags (the mock server's, ``ab``'s rounds); building only the chosen one keeps
    ``asyncio-lab run ...`` from importing all of them (half a second of aiohttp, matplotlib).
    The others are still named, so a typo among them is told apart from a bad word.
    """
    parser = Parser(prog="asyncio-lab", description=__doc__.splitlines()[0].split(": ", 1)[1])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    only = chosen_command(argv) if argv is not None else None
    for name in COMMANDS:
        if only is None or name == only:
            command(name).add_parser(sub)
        else:
            sub.add_parser(name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, dispatch, and turn bad input into one line + exit 2 (returned, never raised)."""
    try:
        given = list(sys.argv[1:] if argv is None else argv)
        args = build_parser(given).parse_args(given)
        return command(args.command).run(args)
    except (UsageError, ResultsFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help (0), or a usage error already printed in one line (2)
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt as exc:  # before a command wrote anything (it handles its own)
        print(f"interrupted by {how_stopped(exc)}", file=sys.stderr)
        return exit_code(exc)
