"""The matrix's verdicts: each cell A/B'd against a reference cell with ``ab``'s own machinery.

A cell's own run gives its figures (ratios to the anti-pattern), but two cells' medians from two
separate runs carry the machine's drift between them. So each cell that ran is also compared with
the reference cell (default: the first that ran) in one interleaved job: an environment-only
``ab`` of the working tree, base = the reference's interpreter and loop, head = the cell's
(``benchmarks.ab.run_ab``: ABBA rounds, one median per worker process, each variant's own A/A
floor, re-runs). Its comparison.json lands in the cell's folder; the matrix page lists what got
slower or faster, with p-values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncio_perf_lab.benchmarks.environment import REPO_ROOT

__all__ = ["OutsideReference", "choose_reference", "judge_cells"]

RAN = ("ok", "partial")


@dataclass
class OutsideReference:
    """A reference cell that is not one of the matrix's cells: prepared, never run itself."""

    python: str
    loop: str
    executable: str
    status: str = "ok"
    verdict: str = ""

    @property
    def name(self) -> str:
        return f"{self.python}-{self.loop}"


def choose_reference(
    cells: Sequence[Any], wanted: str | None, say: Callable[[str], None] = print
) -> Any | None:
    """The reference cell: the one named ``wanted`` (``3.12-asyncio``) or the first that ran.

    A ``wanted`` cell outside the matrix (a CI job that runs one cell) is only prepared, not
    run: its interpreter and venv are found as the matrix finds them, and it is only the base
    side of each A/B.
    """
    ran = [cell for cell in cells if cell.status in RAN]
    if wanted is None:
        return ran[0] if ran else None
    if (inside := next((cell for cell in cells if cell.name == wanted), None)) is not None:
        return inside if inside.status in RAN else None
    from asyncio_perf_lab.benchmarks.interpreters import ensure_venv, find_interpreter

    version, _, loop = wanted.partition("-")
    interpreter = find_interpreter(version)
    if interpreter is None:
        say(f"reference {wanted}: no Python {version} found")
        return None
    try:
        python, _note = ensure_venv(interpreter)
    except (RuntimeError, OSError) as exc:
        say(f"reference {wanted}: no venv: {exc}")
        return None
    return OutsideReference(version, loop, python)


def judge_cells(
    cells: Sequence[Any],
    config: Any,
    matrix_dir: Path,
    say: Callable[[str], None] = print,
) -> None:
    """A/B every other cell that ran against the reference; fill in each cell's verdict."""
    from asyncio_perf_lab.benchmarks.ab import ABConfig, ABStopped, run_ab
    from asyncio_perf_lab.benchmarks.profiles import PROFILES
    from asyncio_perf_lab.benchmarks.side_envs import EnvRequest
    from asyncio_perf_lab.benchmarks.stopping import Terminated
    from asyncio_perf_lab.reports.errors import UsageError

    reference = choose_reference(cells, config.reference, say)
    if reference is None:
        if config.reference is not None:
            say(f"reference cell {config.reference} is not available: no verdicts")
        return
    reference.verdict = "reference"
    for cell in cells:
        if cell is reference or cell.status not in RAN:
            continue
        say(f"{cell.name}: A/B against {reference.name} ...")
        ab = ABConfig(
            base=None,
            targets=list(config.targets),
            profile=PROFILES[config.profile],
            out_dir=matrix_dir / cell.name,
            repo=REPO_ROOT,
            scenarios=config.scenarios,
            routes=config.routes,
            envs={
                "base": EnvRequest(python=reference.executable, loop=reference.loop),
                "head": EnvRequest(python=cell.executable, loop=cell.loop),
            },
        )
        try:
            comparison, paths = run_ab(ab)
        except ABStopped as stop:
            if stop.exit_code != 1:  # Ctrl-C or SIGTERM stops the whole matrix, not one cell
                raise (Terminated() if stop.exit_code == 143 else KeyboardInterrupt()) from None
            cell.verdict = f"A/B against {reference.name} failed: {stop.reason}"
            say(f"{cell.name}: {cell.verdict}")
            continue
        except UsageError as exc:
            cell.verdict = f"A/B against {reference.name} failed: {str(exc).splitlines()[0]}"
            say(f"{cell.name}: {cell.verdict}")
            continue
        cell.comparison = str(paths["json"].resolve().relative_to(matrix_dir.resolve()))
        cell.verdict = f"vs {reference.name}: {comparison.summary()}"
        say(f"{cell.name}: {cell.verdict}")
