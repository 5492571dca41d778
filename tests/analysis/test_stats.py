"""The statistics helpers: aggregates, the zero-baseline floor, and the two one-sided tests.

Numbers are the textbook ones so a reader can check them by hand.
"""

from __future__ import annotations

import pytest

from watchdog.analysis.stats import binomial_p, mann_whitney_p, mean, median, rate_floor


def test_aggregates() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert mean([1.0, 2.0, 6.0]) == 3.0


@pytest.mark.parametrize(
    ("errors", "requests", "p0", "expected"),
    [
        (1, 10, 0.004, 1 - 0.996**10),  # 0.039: weak; only "significant" below 96 % confidence
        (60, 1000, 0.004, 6.46e-49),  # overwhelming
        (2, 150, 0.004, 0.1216),  # an insignificant bump at low traffic
        (0, 1000, 0.004, 1.0),
    ],
)
def test_binomial(errors: int, requests: int, p0: float, expected: float) -> None:
    assert binomial_p(errors=errors, requests=requests, p0=p0) == pytest.approx(expected, rel=1e-2)


def test_rate_floor_is_the_rule_of_three() -> None:
    assert rate_floor(20000) == pytest.approx(3 / 20000, rel=0.01)
    assert rate_floor(0) == pytest.approx(0.95)


def test_mann_whitney() -> None:
    base = [0.50, 0.52, 0.48, 0.51, 0.49, 0.50, 0.53, 0.47, 0.50, 0.51]
    assert mann_whitney_p(post=[0.7, 0.71, 0.69], baseline=base) < 0.01
    assert mann_whitney_p(post=[0.49, 0.51, 0.5], baseline=base) > 0.3
    assert mann_whitney_p(post=[1.0, 1.0, 1.0], baseline=[1.0, 1.0]) == 1.0
