"""Latency specs and samplers, without sockets: grammar, errors, seeded reproducibility, shapes."""

from __future__ import annotations

import statistics

import pytest

from asyncio_perf_lab.mockserver import LatencySampler, parse_latency
from asyncio_perf_lab.mockserver.latency import MAX_DELAY_S, SamplerCache

SAMPLES = 2000


@pytest.mark.parametrize(
    ("spec", "kind", "nominal_s"),
    [
        ("50ms", "fixed", 0.050),
        ("1.5s", "fixed", 1.5),
        ("0ms", "fixed", 0.0),
        ("0", "fixed", 0.0),
        (" 7ms ", "fixed", 0.007),
        ("uniform:20ms..80ms", "uniform", 0.050),
        ("normal:50ms,sd=10ms", "normal", 0.050),
        ("lognormal:p50=40ms,p99=200ms", "lognormal", 0.040),
    ],
)
def test_every_form_parses_to_its_nominal_value(spec: str, kind: str, nominal_s: float) -> None:
    """Each documented form parses; nominal_s is the fixed value, the mean, or the p50."""
    parsed = parse_latency(spec)
    assert parsed.kind == kind
    assert parsed.nominal_s == pytest.approx(nominal_s)


@pytest.mark.parametrize(
    "spec",
    [
        "fast",
        "",
        "50",
        "-5ms",
        "0.5ms",  # below epoll's millisecond resolution
        "uniform:0.2ms..3ms",
        "normal:50ms,sd=0.5ms",
        "61s",  # above the cap
        "uniform:80ms..20ms",
        "normal:50ms",
        "lognormal:p50=200ms,p99=40ms",
        "gamma:10ms",
        "50ms\nextra",
    ],
)
def test_bad_specs_raise_one_line_naming_the_value_and_the_forms(spec: str) -> None:
    """A bad spec raises ValueError: one line quoting the spec and listing the allowed forms."""
    with pytest.raises(ValueError, match=r"allowed: 50ms, 1\.5s, uniform") as info:
        parse_latency(spec)
    message = str(info.value)
    assert "\n" not in message
    assert repr(spec) in message


def test_sub_millisecond_delay_is_rejected_with_the_reason() -> None:
    """A nonzero delay under 1 ms is refused, saying why (epoll cannot time it)."""
    with pytest.raises(ValueError, match="below 1ms"):
        parse_latency("0.3ms")


def test_same_seed_gives_the_same_sequence_and_another_seed_does_not() -> None:
    """Two samplers with one seed draw identical sequences; a different seed draws another one."""
    spec = parse_latency("lognormal:p50=40ms,p99=200ms")
    a, b, c = LatencySampler(spec, 7), LatencySampler(spec, 7), LatencySampler(spec, 8)
    seq_a = [a.sample() for _ in range(100)]
    assert seq_a == [b.sample() for _ in range(100)]
    assert seq_a != [c.sample() for _ in range(100)]


def test_sampler_cache_restarts_streams_on_reset() -> None:
    """The server's per-(spec, seed) stream replays LatencySampler and restarts after reset()."""
    spec = parse_latency("uniform:10ms..50ms")
    cache = SamplerCache(seed=3)
    before = [cache.sampler(spec).sample() for _ in range(5)]
    cache.reset()
    assert [cache.sampler(spec).sample() for _ in range(5)] == before
    replay = LatencySampler(spec, 3)
    assert before == [replay.sample() for _ in range(5)]
    assert [cache.sampler(spec, seed=9).sample() for _ in range(5)] != before


def test_fixed_spec_always_gives_its_value() -> None:
    """A fixed spec is not random: every draw is the value itself."""
    sampler = LatencySampler(parse_latency("50ms"), seed=None)
    assert {sampler.sample() for _ in range(100)} == {0.05}


def test_draws_are_clamped_to_zero_and_the_cap() -> None:
    """A wide normal never yields a negative delay, and a heavy lognormal never exceeds the cap."""
    wide = LatencySampler(parse_latency("normal:5ms,sd=50ms"), seed=1)
    assert min(wide.sample() for _ in range(SAMPLES)) == 0.0
    heavy = LatencySampler(parse_latency("lognormal:p50=10s,p99=60s"), seed=1)
    assert max(heavy.sample() for _ in range(SAMPLES)) == MAX_DELAY_S


@pytest.mark.parametrize(
    ("spec", "p50_s", "p99_s"),
    [
        ("uniform:20ms..80ms", 0.050, 0.0794),
        ("normal:50ms,sd=10ms", 0.050, 0.050 + 2.3263 * 0.010),
        ("lognormal:p50=40ms,p99=200ms", 0.040, 0.200),
    ],
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seeded_distributions_reproduce_their_p50_and_p99(
    spec: str, p50_s: float, p99_s: float, seed: int
) -> None:
    """Over 2000 seeded draws, each distribution's p50 and p99 land within 10% of the spec."""
    sampler = LatencySampler(parse_latency(spec), seed)
    cuts = statistics.quantiles([sampler.sample() for _ in range(SAMPLES)], n=100)
    assert cuts[49] == pytest.approx(p50_s, rel=0.10)
    assert cuts[98] == pytest.approx(p99_s, rel=0.10)
