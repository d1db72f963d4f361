"""How numbers read in the report: one place, so tables, charts and sentences agree."""

from __future__ import annotations

import datetime as dt
import math


def time_unit(seconds: float) -> tuple[str, float]:
    """The unit (name, factor from seconds) that keeps ``seconds`` readable: µs, ms or s."""
    if seconds < 1e-3:
        return "µs", 1e6
    if seconds < 1:
        return "ms", 1e3
    return "s", 1.0


def format_seconds(seconds: float | None) -> str:
    """A duration in the unit its magnitude asks for (the same form the terminal summary uses)."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    unit, factor = time_unit(seconds)
    return f"{seconds:.2f} s" if unit == "s" else f"{seconds * factor:.1f} {unit}"


def format_ms(ms: float | None, unit: bool = True) -> str:
    """A loop-lag figure, always in milliseconds so a column compares at a glance."""
    if ms is None or not math.isfinite(ms):
        return "–"
    text = f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"
    return f"{text} ms" if unit else text


def format_range(low: float, high: float) -> str:
    """A spread such as p5-p95, naming the unit once when both ends share it."""
    low_text, high_text = format_seconds(low), format_seconds(high)
    low_value, low_unit = low_text.rsplit(" ", 1)
    if high_text.endswith(" " + low_unit):
        return f"{low_value}–{high_text}"
    return f"{low_text} – {high_text}"


def format_ratio(value: float | None) -> str:
    """A ratio such as a speed-up: one decimal below 10, none above (``2.9x``, ``14x``)."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.1f}x" if value < 9.95 else f"{value:.0f}x"


def format_percent(value: float | None) -> str:
    """A fraction as a whole percentage (efficiency 0.97 -> ``97%``)."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.0%}"


def format_number(value: object) -> str:
    """A workload constant or observation as a reader wants it: ints whole, floats to 4 digits."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return str(value) if isinstance(value, int) else f"{value:.4g}"


def format_utc(when: str | dt.datetime, seconds: bool = False) -> str:
    """A moment as ``2026-01-03 12:00 UTC`` (``:SS`` too with ``seconds``); non-ISO text as is."""
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when)
        except ValueError:
            return when
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")
