"""The one way to build and write a page: one Jinja environment, ``render_page``, ``write_page``.

Every page (report, compare, matrix, trend) extends ``templates/page.html.j2``: the same head
(a Content-Security-Policy that forbids fetching anything, the shared ``report.css``), the same
filters for numbers, and the same macros for text. Autoescape is always on and undefined names
are errors: data from a results file is text, never markup; the only markup passed through is
the SVG our own chart functions produce (``| safe`` in the templates).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from asyncio_perf_lab.reports.errors import PageWriteError
from asyncio_perf_lab.reports.results_file import write_atomic
from asyncio_perf_lab.reports.units import (
    format_ms,
    format_percent,
    format_range,
    format_ratio,
    format_seconds,
    format_utc,
)

__all__ = [
    "Segment",
    "environment",
    "generated_now",
    "inline_segments",
    "render_page",
    "write_page",
]

TEMPLATES = Path(__file__).with_name("templates")
FILTERS = {
    "seconds": format_seconds,
    "ms": format_ms,
    "ratio": format_ratio,
    "percent": format_percent,
    "range": format_range,
}

Segment = tuple[str, str]  # (kind, text): kind is "text", "code" or "em"


@cache
def environment() -> jinja2.Environment:
    """The template environment of every page: autoescape on, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def render_page(template: str, **context: Any) -> str:
    """The complete, self-contained HTML of ``template`` rendered with ``context``."""
    return environment().get_template(template).render(**context)


def write_page(
    path: str | os.PathLike[str], html: str, inputs: Iterable[str | os.PathLike[str]] = ()
) -> Path:
    """Write a page atomically and return its path; never over one of the files it was built from.

    A page that cannot be written where asked raises ``PageWriteError`` (one line, exit 2), and
    the page that was there before stays whole.
    """
    path = Path(path)
    if path.exists():
        for source in map(Path, inputs):
            if source.exists() and path.resolve() == source.resolve():
                raise PageWriteError(f"{path}: refusing to overwrite an input file with a page")
    try:
        return write_atomic(path, html)
    except OSError as exc:
        raise PageWriteError(f"{path}: cannot write ({exc.strerror or exc})") from None


def generated_now() -> str:
    """When a page is built, as its header says it (UTC, to the minute)."""
    return format_utc(dt.datetime.now(dt.UTC))


def inline_segments(text: str) -> list[Segment]:
    """Split text into plain, `code` and *emphasis* segments (the markdown a lesson may use).

    Segments, not HTML: the ``segments`` macro renders each kind, so text from a results file
    can never smuggle markup into a page.
    """
    segments: list[Segment] = []
    for i, part in enumerate(re.split(r"`([^`]+)`", text)):
        if i % 2:
            segments.append(("code", part))
            continue
        for j, piece in enumerate(re.split(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", part)):
            if piece:
                segments.append(("em" if j % 2 else "text", piece))
    return segments
