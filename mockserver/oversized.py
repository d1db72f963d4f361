"""Requests too big to serve: a JSON 400 for an oversized query, one log line for the rest.

A query string over ``MAX_QUERY_BYTES`` gets the server's usual 400 JSON naming the field. For
such a request to reach the handler, aiohttp's cap on the request line (8190 bytes) is raised to
``MAX_REQUEST_LINE`` (``HANDLER_ARGS``); past that, aiohttp's parser answers its own plain 400,
and ``quiet_parse_errors`` makes its log of it one line instead of a traceback of the parser.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

from asyncio_perf_lab.mockserver.params import BadParameter

__all__ = ["HANDLER_ARGS", "MAX_QUERY_BYTES", "check_query_size", "quiet_parse_errors"]

MAX_QUERY_BYTES = 64 * 1024
MAX_REQUEST_LINE = 16 * 1024 * 1024
HANDLER_ARGS = {"max_line_size": MAX_REQUEST_LINE}  # web.Application(handler_args=...)


def check_query_size(raw_path: str) -> None:
    """BadParameter naming the query when it is over MAX_QUERY_BYTES (checked before parsing)."""
    mark = raw_path.find("?")
    size = len(raw_path) - mark - 1 if mark >= 0 else 0
    if size > MAX_QUERY_BYTES:
        raise BadParameter(
            "query", f"the query string is {size} bytes", f"at most {MAX_QUERY_BYTES} bytes"
        )


class _OneLine(logging.Filter):
    """A request aiohttp cannot parse is the client's fault: its log record loses the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            said = (error.message.strip().splitlines() or [""])[0]
            record.msg = f"{record.getMessage()}: {error.code} {said[:200]}"
            record.args, record.exc_info, record.exc_text = (), None, None
        return True


def quiet_parse_errors() -> None:
    """Log aiohttp's parse errors in one line (once per process, however many apps are made)."""
    log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _OneLine) for f in log.filters):
        log.addFilter(_OneLine())
