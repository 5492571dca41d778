"""The scale-free t-mixture keeps its level whatever the differences' spread, and still finds a shift.

Fixed seeds, bounded runs; the margin is three binomial standard errors. The integral it rests on is
checked against direct numerical integration.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from watchdog.analysis.sequential import level
from watchdog.analysis.tmixture import TMixtureEProcess, log_integral

ALPHA = 0.05


def margin(runs: int, alpha: float = ALPHA) -> float:
    return alpha + 3.0 * math.sqrt(alpha * (1.0 - alpha) / runs)


@pytest.mark.parametrize(
    ("n", "b"), [(1, -3.0), (1, 2.0), (2, 1.0), (3, 0.0), (5, -2.0), (30, 4.0), (200, 9.0)]
)
def test_log_integral_matches_numerical_integration(n: int, b: float) -> None:
    peak = (b + math.sqrt(b * b + 4.0 * (n - 1))) / 2.0
    # scaled by the integrand's value at its peak, so quad sees numbers near 1 even for n = 200
    top = (n - 1) * math.log(max(peak, 1e-300)) - 0.5 * peak * peak + b * peak if n > 1 else 0.0

    def f(u: float) -> float:
        return math.exp((n - 1) * math.log(u) - 0.5 * u * u + b * u - top) if u > 0 else 0.0

    value, _ = integrate.quad(f, 0.0, peak + 40.0, points=[peak], limit=200)
    assert log_integral(n, b) == pytest.approx(top + math.log(value), abs=1e-6)


def test_one_value_says_nothing_about_its_spread() -> None:
    for y in (1e-9, 1.0, 1e9):
        e = TMixtureEProcess()
        e.add(y)
        assert 0.0 < e.log_e() <= math.log(2.0) + 1e-12


def _crossed(
    rng: np.random.Generator, *, mu: float, sd: float, samples: int, below: bool = False
) -> int | None:
    e = TMixtureEProcess(below=below)
    for i, y in enumerate(rng.normal(mu, sd, size=samples)):
        e.add(float(y))
        if e.log_e() >= level(ALPHA):
            return i + 1
    return None


def test_false_fail_rate_at_the_null_edge() -> None:
    runs = 800
    rng = np.random.default_rng(7)
    rate = sum(_crossed(rng, mu=0.0, sd=1.0, samples=36) is not None for _ in range(runs)) / runs
    assert rate <= margin(runs)
    assert rate > 0.0  # near its level, not an inert test


def test_the_spread_does_not_matter() -> None:
    """The same draws at three scales cross at the same samples: nothing needs to know the spread."""
    crossings = {}
    for sd in (1e-3, 1.0, 50.0):
        rng = np.random.default_rng(12)
        crossings[sd] = [_crossed(rng, mu=0.0, sd=sd, samples=36) for _ in range(150)]
    assert crossings[1e-3] == crossings[1.0] == crossings[50.0]
    assert any(c is not None for c in crossings[1.0])


def test_a_mean_inside_the_null_crosses_less_and_below_mirrors_it() -> None:
    rng = np.random.default_rng(8)
    runs = 400
    inside = sum(_crossed(rng, mu=-0.3, sd=1.0, samples=36) is not None for _ in range(runs)) / runs
    mirrored = (
        sum(_crossed(rng, mu=0.3, sd=1.0, samples=36, below=True) is not None for _ in range(runs)) / runs
    )
    assert inside <= margin(runs) and mirrored <= margin(runs)


def test_a_shift_of_one_spread_is_found_within_the_window() -> None:
    rng = np.random.default_rng(9)
    runs = 200
    found = [_crossed(rng, mu=1.0, sd=2.0, samples=36) for _ in range(runs)]  # half an sd
    big = [_crossed(rng, mu=3.0, sd=1.0, samples=36) for _ in range(runs)]
    assert sum(f is not None for f in found) / runs > 0.5
    # three sds: always found, mostly by the fourth sample (the first says nothing about the spread)
    assert all(f is not None for f in big)
    assert sorted(f for f in big if f is not None)[runs // 2] <= 4


def test_autocorrelated_values_are_tempered_by_their_long_run_variance() -> None:
    """AR(1) values at phi 0.6 (long-run factor 4): untempered the test crosses far too often; told the
    factor it keeps its level."""
    rng = np.random.default_rng(10)
    runs, phi = 400, 0.6
    raw = tempered = 0
    for _ in range(runs):
        eps = rng.normal(0.0, 1.0, size=36)
        x, ys = 0.0, []
        for v in eps:
            x = phi * x + math.sqrt(1 - phi * phi) * v
            ys.append(x)
        a, b = TMixtureEProcess(), TMixtureEProcess()
        hit_a = hit_b = False
        for y in ys:
            a.add(y)
            b.add(y, lrv=(1 + phi) / (1 - phi))
            hit_a |= a.log_e() >= level(ALPHA)
            hit_b |= b.log_e() >= level(ALPHA)
        raw += hit_a
        tempered += hit_b
    assert raw / runs > 2 * ALPHA
    assert tempered / runs <= margin(runs)


def test_values_beyond_float_range_are_skipped_not_turned_into_nan() -> None:
    e = TMixtureEProcess()
    for y in (1.0, 2.0, 1e200, math.inf, 1.5):
        e.add(y)
    assert e.n == 3 and math.isfinite(e.log_e())
