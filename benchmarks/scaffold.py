"""``asyncio-lab new``'s work: write a commented scenario module that runs as written.

The module comes from ``templates/scenario.py.tmpl``: two variants (awaited one by one, and
gathered) against the built-in fake API, with comments showing how to point it at a routes file.
A file is never overwritten, even by a race: the text is written to a temporary file and
hard-linked into place, which fails if the name exists.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from string import Template

from asyncio_perf_lab import scenarios
from asyncio_perf_lab.reports.errors import UsageError
from asyncio_perf_lab.reports.results_file import write_atomic

__all__ = ["TEMPLATE", "render", "write_scenario"]

TEMPLATE = Path(__file__).resolve().parent / "templates" / "scenario.py.tmpl"


def check_name(name: str) -> None:
    """A name the scenario loader will accept: an identifier, not a built-in, not a module."""
    if not name.isidentifier():
        raise UsageError(
            f"NAME {name!r} is not allowed; allowed: letters, digits and _ (e.g. checkout_flow)"
        )
    if name in scenarios.NAMES:
        raise UsageError(f"NAME {name} is a built-in scenario; choose another name")
    if importlib.util.find_spec(name) is not None:
        raise UsageError(
            f"NAME {name} is the name of an installed Python module, which the scenario would "
            "shadow; choose another name"
        )


def render(name: str, folder: str) -> str:
    """The scenario module's text for ``name`` in ``folder``."""
    title = f"{name.replace('_', ' ').capitalize()}: sequential awaits vs asyncio.gather"
    return Template(TEMPLATE.read_text()).substitute(name=name, folder=folder, title=title)


def write_scenario(name: str, folder: str | Path) -> Path:
    """Write ``folder/name.py``; UsageError (one line) if the name is bad or the file exists."""
    check_name(name)
    root = Path(folder)
    target = root / f"{name}.py"
    if target.exists():
        raise UsageError(f"{target} exists; `new` never overwrites a file (choose another NAME)")
    try:
        root.mkdir(parents=True, exist_ok=True)
        staged = write_atomic(root / f".{name}.py.{os.getpid()}.new", render(name, str(folder)))
    except OSError as exc:
        raise UsageError(f"cannot write to --dir {folder}: {exc.strerror or exc}") from None
    try:
        os.link(staged, target)  # fails if the name appeared meanwhile: never overwrites
    except FileExistsError:
        raise UsageError(f"{target} exists; `new` never overwrites a file") from None
    except OSError:  # a file system without hard links: exclusive creation instead
        _write_exclusive(target, staged.read_bytes())
    finally:
        staged.unlink(missing_ok=True)
    return target


def _write_exclusive(target: Path, data: bytes) -> None:
    try:
        with target.open("xb") as f:
            f.write(data)
    except FileExistsError:
        raise UsageError(f"{target} exists; `new` never overwrites a file") from None
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
