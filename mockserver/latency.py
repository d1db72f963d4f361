"""Latency specs: parse the SPEC grammar once, then draw reproducible delays from a seeded stream.

Grammar (every duration is a number with ``ms`` or ``s``; ``0`` alone also means no delay):

- ``50ms``, ``1.5s``: a fixed delay.
- ``uniform:20ms..80ms``: uniform between the two bounds.
- ``normal:50ms,sd=10ms``: normal with that mean and standard deviation (draws clamped at 0).
- ``lognormal:p50=40ms,p99=200ms``: log-normal set by its median and 99th percentile, the way
  real API latency is usually described.

A nonzero duration below 1 ms is rejected: asyncio sleeps through epoll, whose timeout has whole
millisecond resolution (rounded up): a 0.3 ms delay would really be 1 ms and the figure would lie.
Durations above ``MAX_DELAY_S`` are rejected and draws are clamped to it, so a request can never
park the server for longer than that.
"""

from __future__ import annotations

import math
import random
import re
from collections import OrderedDict
from dataclasses import dataclass
from statistics import NormalDist

MAX_DELAY_S = 60.0
MIN_NONZERO_S = 0.001
ALLOWED_FORMS = (
    "50ms, 1.5s, uniform:20ms..80ms, normal:50ms,sd=10ms, lognormal:p50=40ms,p99=200ms "
    "(each duration 0 or 1ms..60s)"
)
Z99 = NormalDist().inv_cdf(0.99)  # how many sigmas the 99th percentile lies above the median

_DURATION = re.compile(r"(?P<num>\d+(?:\.\d*)?|\.\d+)(?P<unit>ms|s)")
_UNIFORM = re.compile(r"uniform:(?P<low>[^,]+?)\.\.(?P<high>[^,]+)")
_NORMAL = re.compile(r"normal:(?P<mean>[^,]+),sd=(?P<sd>[^,]+)")
_LOGNORMAL = re.compile(r"lognormal:p50=(?P<p50>[^,]+),p99=(?P<p99>[^,]+)")
_FORMS = {
    "uniform": "uniform:20ms..80ms",
    "normal": "normal:50ms,sd=10ms",
    "lognormal": "lognormal:p50=40ms,p99=200ms",
}


@dataclass(frozen=True)
class LatencySpec:
    """A parsed latency spec: its kind and parameters in seconds, with the text it came from."""

    text: str
    kind: str  # "fixed", "uniform", "normal" or "lognormal"
    a: float  # fixed value, uniform low, normal mean or lognormal p50
    b: float = 0.0  # uniform high, normal sd or lognormal p99

    @property
    def nominal_s(self) -> float:
        """The single figure "ideal time" models use: the fixed value, the mean, or the median."""
        if self.kind == "uniform":
            return (self.a + self.b) / 2
        return self.a

    @property
    def is_zero(self) -> bool:
        """True when every draw is 0, so the server can skip sampling and sleeping altogether."""
        return self.kind == "fixed" and self.a == 0.0

    def draw(self, rng: random.Random) -> float:
        """One raw delay in seconds from ``rng`` (before clamping to 0..MAX_DELAY_S)."""
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.kind == "normal":
            return rng.gauss(self.a, self.b)
        if self.a == 0.0:
            return 0.0
        return self.a * math.exp(rng.gauss(0.0, math.log(self.b / self.a) / Z99))


def _bad(spec: str, why: str) -> ValueError:
    return ValueError(f"bad latency {spec!r} ({why}); allowed: {ALLOWED_FORMS}")


def _duration(spec: str, text: str) -> float:
    text = text.strip()
    if text == "0":
        return 0.0
    match = _DURATION.fullmatch(text)
    if match is None:
        raise _bad(spec, f"{text!r} is not a duration like 50ms or 1.5s")
    value = float(match["num"]) * (0.001 if match["unit"] == "ms" else 1.0)
    if 0 < value < MIN_NONZERO_S:
        raise _bad(spec, f"{text} is below 1ms, which epoll cannot time")
    if value > MAX_DELAY_S:
        raise _bad(spec, f"{text} is above the 60s cap")
    return value


def parse_latency(spec: str) -> LatencySpec:
    """Parse a latency SPEC, raising ValueError with one line naming the bad value and the forms."""
    text = spec.strip()
    if match := _UNIFORM.fullmatch(text):
        low, high = _duration(spec, match["low"]), _duration(spec, match["high"])
        if high < low:
            raise _bad(spec, "the upper bound is below the lower one")
        return LatencySpec(text, "uniform", low, high)
    if match := _NORMAL.fullmatch(text):
        return LatencySpec(
            text, "normal", _duration(spec, match["mean"]), _duration(spec, match["sd"])
        )
    if match := _LOGNORMAL.fullmatch(text):
        p50, p99 = _duration(spec, match["p50"]), _duration(spec, match["p99"])
        if p99 < p50:
            raise _bad(spec, "p99 is below p50")
        if p50 == 0 and p99 > 0:
            raise _bad(spec, "p50 must be above 0 when p99 is")
        return LatencySpec(text, "lognormal", p50, p99)
    if ":" in text:
        name = text.split(":", 1)[0]
        if name in _FORMS:
            raise _bad(spec, f"{name} is written like {_FORMS[name]}")
        raise _bad(spec, f"unknown distribution {name!r}")
    return LatencySpec(text, "fixed", _duration(spec, text))


class LatencySampler:
    """A reproducible stream of delays: the same spec and seed always give the same sequence."""

    def __init__(self, spec: LatencySpec, seed: int | None = None) -> None:
        self.spec = spec
        self._rng = random.Random(seed)

    def sample(self) -> float:
        """The next delay in seconds, clamped to 0..MAX_DELAY_S."""
        value = self.spec.draw(self._rng)
        return min(max(value, 0.0), MAX_DELAY_S)


class SamplerCache:
    """One sampler per (spec, seed) so each seeded stream advances request by request, bounded."""

    def __init__(self, seed: int | None, max_streams: int = 1024) -> None:
        self._seed = seed
        self._max = max_streams
        self._streams: OrderedDict[tuple[str, int | None], LatencySampler] = OrderedDict()

    def sampler(self, spec: LatencySpec, seed: int | None = None) -> LatencySampler:
        """The stream for ``spec`` and ``seed`` (None: the server's seed), created on first use."""
        key = (spec.text, seed)
        stream = self._streams.get(key)
        if stream is None:
            # The plain seed, so a client can replay the server's delays with LatencySampler.
            stream = LatencySampler(spec, self._seed if seed is None else seed)
            self._streams[key] = stream
            if len(self._streams) > self._max:
                self._streams.popitem(last=False)
        return stream

    def reset(self) -> None:
        """Restart every stream from its seed, so a run after a stats reset repeats its delays."""
        self._streams.clear()
