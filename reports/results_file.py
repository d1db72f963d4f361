"""The one reader and writer of results files: size cap and schema check in, atomic write out.

A file over ``MAX_FILE_BYTES`` is refused before it is parsed (a full quick run is ~6 MB), so a
wrong path such as ``/dev/zero`` costs one line, not the machine's memory.
"""

from __future__ import annotations

import json
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from asyncio_perf_lab.reports.errors import ResultsFileError

__all__ = [
    "KIND",
    "MAX_FILE_BYTES",
    "SCHEMA_VERSION",
    "ResultsFileError",
    "load_results",
    "read_json",
    "validate",
    "write_atomic",
    "write_json_atomic",
]

SCHEMA_VERSION = 1
KIND = "asyncio-perf-lab/results"
SCHEMA_PATH = Path(__file__).with_name("results.schema.json")
MAX_FILE_BYTES = 64 * 1024 * 1024  # 64 MiB: ten times a full quick run's results


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of results files (schema 1)."""
    return json.loads(SCHEMA_PATH.read_text())


def validate(data: Any, origin: str = "results") -> None:
    """Raise ResultsFileError unless ``data`` is a valid schema-1 results document."""
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise ResultsFileError(f"{origin}: not an asyncio-perf-lab results file (no kind {KIND!r})")
    version = data.get("schema")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise ResultsFileError(
            f"{origin}: schema {version} is newer than this lab reads (<= {SCHEMA_VERSION}); "
            "update the lab"
        )
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema()).iter_errors(data)
    )
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise ResultsFileError(f"{origin}: invalid at {where}: {error.message[:200]}")


def read_json(
    path: str | os.PathLike[str], what: str = "results file", max_bytes: int = MAX_FILE_BYTES
) -> Any:
    """A JSON file's data, turning every way it cannot be read into one clear line.

    At most ``max_bytes`` are read: a bigger file (or an endless one: a device, a FIFO) is
    refused by its size, before any parsing.
    """
    path = Path(path)
    cap = f"{what}s are capped at {_mib(max_bytes)}"
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                raise ResultsFileError(f"{path}: {_mib(size)} is too big; {cap}")
            raw = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise ResultsFileError(f"{path}: no such {what}") from None
    except OSError as exc:
        raise ResultsFileError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from None
    if len(raw) > max_bytes:
        raise ResultsFileError(f"{path}: more than {_mib(max_bytes)} (read stopped there); {cap}")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ResultsFileError(f"{path}: cannot read (UnicodeDecodeError: {exc})") from None
    except json.JSONDecodeError as exc:
        raise ResultsFileError(
            f"{path}: corrupt or truncated JSON at line {exc.lineno} col {exc.colno}: {exc.msg}"
        ) from None


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB".replace(".0 MiB", " MiB")


def load_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a results file, turning every way it can be wrong into one clear line."""
    data = read_json(path)
    validate(data, str(path))
    return data


def write_atomic(path: str | os.PathLike[str], content: str | bytes) -> Path:
    """Write a file so readers see the old content or the new, never a truncated mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide results from other users
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    """Serialise ``data`` as indented JSON and write it atomically."""
    return write_atomic(path, json.dumps(data, indent=1, sort_keys=False) + "\n")
