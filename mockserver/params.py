"""Reading request parameters: one exception that becomes the 400 JSON, and typed readers for it.

Every reader names the field it read (the query name, or the header name when the value came from
a header) and the values allowed, so a client's mistake is fixed from the response alone.
"""

from __future__ import annotations

import math
from typing import Any


class BadParameter(Exception):
    """A request parameter the server cannot honour; rendered as a 400 with field and allowed."""

    def __init__(self, field: str, error: str, allowed: str) -> None:
        super().__init__(error)
        self.field = field
        self.error = error
        self.allowed = allowed

    def as_json(self) -> dict[str, Any]:
        """The 400 body: what went wrong, which field, what would have been accepted."""
        return {"error": self.error, "field": self.field, "allowed": self.allowed}


def integer(field: str, raw: str | None, low: int, high: int) -> int:
    """``raw`` as an int within low..high, or BadParameter naming ``field``."""
    allowed = f"an integer {low}..{high}"
    if raw is None:
        raise BadParameter(field, f"{field} is required", allowed)
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(field, f"{field} {raw!r} is not an integer", allowed) from None
    if not low <= value <= high:
        raise BadParameter(field, f"{field} {value} is out of range", allowed)
    return value


def number(field: str, raw: str | None, low: float, high: float, allowed: str) -> float:
    """``raw`` as a finite float within low..high, or BadParameter naming ``field``."""
    if raw is None:
        raise BadParameter(field, f"{field} is required", allowed)
    try:
        value = float(raw)
    except ValueError:
        raise BadParameter(field, f"{field} {raw!r} is not a number", allowed) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise BadParameter(field, f"{field} {raw} is out of range", allowed)
    return value


def flag(field: str, raw: str) -> bool:
    """A switch: present (empty, 1, true, yes, on) turns it on; 0, false, no, off keep it off."""
    lowered = raw.strip().lower()
    if lowered in ("", "1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise BadParameter(
        field, f"{field} {raw!r} is not a switch", "empty, 1, true, yes, on, 0, false, no, off"
    )
