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
from asyncio_perf_lab.reports.errors import UsageError
from asyncio_perf_lab.reports.results_file import ResultsFileError

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


def build_parser() -> Parser:
    """The parser of every command; each command's help ends with an example."""
    parser = Parser(prog="asyncio-lab", description=__doc__.splitlines()[0].split(": ", 1)[1])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in COMMANDS:
        command(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, dispatch, and turn bad input into one line + exit 2 (returned, never raised)."""
    try:
        args = build_parser().parse_args(argv)
        return command(args.command).run(args)
    except (UsageError, ResultsFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help (0), or a usage error already printed in one line (2)
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt as exc:  # before a command wrote anything (it handles its own)
        print(f"interrupted by {how_stopped(exc)}", file=sys.stderr)
        return exit_code(exc)
