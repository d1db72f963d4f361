"""The one statistics module: the median, percentiles, spread and the summary of a timing series.

Every median in the lab is ``median`` here, so the results file, the gate, the pages and the
probes never disagree on what the middle of a series is.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

__all__ = ["geometric_mean", "median", "quantile", "robust_cv", "summarize"]

IQR_PER_SIGMA = 1.349  # the interquartile range of a normal distribution, in standard deviations


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) with linear interpolation between closest ranks; 0.0 for no data."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: Sequence[float]) -> float:
    """The middle value (the mean of the two middle ones for an even count); 0.0 for no data."""
    return statistics.median(values) if values else 0.0


def summarize(values: Sequence[float]) -> dict[str, float | int]:
    """Median, mean, stdev and the percentiles the results file and report show."""
    if not values:
        raise ValueError("summarize() needs at least one value")
    return {
        "n": len(values),
        "median": median(values),
        "mean": statistics.fmean(values),
        "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
        "p5": quantile(values, 0.05),
        "p25": quantile(values, 0.25),
        "p75": quantile(values, 0.75),
        "p95": quantile(values, 0.95),
        "min": min(values),
        "max": max(values),
    }


def robust_cv(values: Sequence[float]) -> float:
    """IQR / 1.349 over the median: stdev/mean for normal data, blind to a few spikes."""
    middle = median(values)
    if middle <= 0:
        return 0.0
    return (quantile(values, 0.75) - quantile(values, 0.25)) / IQR_PER_SIGMA / middle


def geometric_mean(values: Iterable[float]) -> float | None:
    """The geometric mean of the positive values (the fair average of ratios); None for none."""
    positive = [v for v in values if v > 0]
    if not positive:
        return None
    return math.exp(sum(math.log(v) for v in positive) / len(positive))
