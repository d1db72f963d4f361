"""One-sided Mann-Whitney U test in pure Python, beside ``reports.stats`` (no SciPy).

The regression gate asks "are head's timings stochastically larger than base's?" without assuming
a distribution: timing values are skewed and carry outliers. Without ties and with at most
``EXACT_MAX_N`` values per side the p-value comes from the exact null distribution of U (the
coefficients of a Gaussian binomial coefficient); otherwise from the normal approximation with the
tie correction of the variance and a continuity correction, as in SciPy's ``method="asymptotic"``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

EXACT_MAX_N = 50  # exact counts stay cheap (O(m^2 n) integer additions) up to 50 values a side

Alternative = Literal["greater", "less"]


@dataclass(frozen=True)
class UTest:
    """The outcome of one one-sided U test of x against y."""

    u: float  # pairs (xi, yj) with xi > yj, plus half the tied pairs
    p: float  # probability under H0 of a U at least this extreme in the tested direction
    method: Literal["exact", "normal"]
    n_x: int
    n_y: int


def midranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..N of ``values``, tied values sharing the mean of the ranks they span."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def u_statistic(x: Sequence[float], y: Sequence[float]) -> float:
    """U of ``x``: the number of pairs where x beats y, ties counting one half."""
    ranks = midranks([*x, *y])
    return sum(ranks[: len(x)]) - len(x) * (len(x) + 1) / 2


@cache
def _u_counts(m: int, n: int) -> tuple[int, ...]:
    """How many of the C(m+n, m) equally likely rankings give U = 0, 1, ..., m*n under H0.

    They are the coefficients of the Gaussian binomial [m+n choose m]_q, built as the product of
    (1 - q^(n+i)) / (1 - q^i) for i = 1..m; every partial product is itself a polynomial.
    """
    poly = [1]
    for i in range(1, min(m, n) + 1):
        k = max(m, n)
        grown = poly + [0] * (k + i - 1 + 1)
        for d in range(len(poly) - 1, -1, -1):  # multiply by (1 - q^(k+i))
            grown[d + k + i] -= poly[d]
        for d in range(i, len(grown)):  # divide by (1 - q^i): exact, running sums with stride i
            grown[d] += grown[d - i]
        poly = grown[: len(poly) + k]
    return tuple(poly)


def _normal_sf(z: float) -> float:
    """P(Z >= z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def mann_whitney_u(
    x: Sequence[float],
    y: Sequence[float],
    alternative: Alternative = "greater",
    method: Literal["auto", "exact", "normal"] = "auto",
) -> UTest:
    """One-sided U test: is ``x`` stochastically greater ("greater") or smaller ("less") than y?

    ``method="auto"`` is exact without ties and with at most EXACT_MAX_N values a side, else
    normal; "exact" with ties is refused (the tie-free null distribution would be wrong).
    """
    m, n = len(x), len(y)
    if m == 0 or n == 0:
        raise ValueError("mann_whitney_u() needs at least one value on each side")
    if alternative not in ("greater", "less"):
        raise ValueError(f"alternative must be 'greater' or 'less', not {alternative!r}")
    u = u_statistic(x, y)
    ties = [t for t in Counter([*x, *y]).values() if t > 1]
    # Toward "less" is the same question about the mirrored statistic m*n - U.
    u_tail = u if alternative == "greater" else m * n - u
    if method == "exact" and ties:
        raise ValueError("the exact U distribution assumes no ties; use method='normal'")
    if method == "exact" or (method == "auto" and not ties and max(m, n) <= EXACT_MAX_N):
        counts = _u_counts(m, n)
        p = sum(counts[math.ceil(u_tail) :]) / math.comb(m + n, m)
        return UTest(u, min(1.0, p), "exact", m, n)
    total = m + n
    tie_term = sum(t**3 - t for t in ties) / (total * (total - 1))
    variance = m * n / 12 * ((total + 1) - tie_term)
    if variance <= 0:  # every value equal: no evidence either way
        return UTest(u, 1.0, "normal", m, n)
    z = (u_tail - m * n / 2 - 0.5) / math.sqrt(variance)
    return UTest(u, min(1.0, _normal_sf(z)), "normal", m, n)


def min_p_value(m: int, n: int) -> float:
    """The smallest one-sided p-value any data of sizes m and n can give (complete separation).

    With 4 values a side it is 1/70 = 0.014: such a test can never reach p < 0.01.
    """
    if m == 0 or n == 0:
        return 1.0
    if max(m, n) <= EXACT_MAX_N:
        return 1 / math.comb(m + n, m)
    sd = math.sqrt(m * n * (m + n + 1) / 12)
    return _normal_sf((m * n / 2 - 0.5) / sd)
