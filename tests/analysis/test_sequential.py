"""Each e-process keeps its promise by simulation: on data at the edge of its null it crosses at most alpha.

Fixed seeds and a bounded number of runs; the margin is three binomial standard errors of the estimate.
The closed forms are checked here against direct numerical integration, and in test_confseq_oracle.py
against confseq (`make venv` builds it from source with a current pybind11; its pinned one no longer
compiles on Python 3.11). expectation is not used: it needs Python >= 3.12.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from watchdog.analysis.sequential import (
    ControlEProcess,
    GaussianMixtureEProcess,
    RateEProcess,
    level,
)

ALPHA = 0.05


def margin(runs: int, alpha: float = ALPHA) -> float:
    return alpha + 3.0 * math.sqrt(alpha * (1.0 - alpha) / runs)


def test_rate_eprocess_false_fail_rate_at_the_null_edge() -> None:
    rng = np.random.default_rng(11)
    runs, samples, n, p0 = 2000, 60, 200, 0.01
    counts = rng.binomial(n, p0, size=(runs, samples))
    fails = 0
    for row in counts:
        e = RateEProcess(p0=p0)
        for x in row:
            e.add(errors=float(x), requests=float(n))
            if e.log_e() >= level(ALPHA):
                fails += 1
                break
    assert fails / runs <= margin(runs)


def test_rate_eprocess_detects_a_doubling() -> None:
    rng = np.random.default_rng(12)
    hits = 0
    for _ in range(200):
        e = RateEProcess(p0=0.01)
        for x in rng.binomial(500, 0.02, size=20):
            e.add(errors=float(x), requests=500.0)
        hits += e.log_e() >= level(ALPHA)
    assert hits >= 190


def test_control_eprocess_false_fail_rate_at_the_null_edge() -> None:
    """Canary at exactly max_ratio x the control's rate, with uneven traffic shares: crosses <= alpha."""
    rng = np.random.default_rng(13)
    runs, samples, rho0, base = 2000, 40, 1.5, 0.01
    fails = 0
    for _ in range(runs):
        e = ControlEProcess(rho0=rho0)
        n = rng.integers(50, 400, size=samples)
        m = rng.integers(200, 2000, size=samples)
        new = rng.binomial(n, base * rho0)
        ctl = rng.binomial(m, base)
        for i in range(samples):
            e.add(
                errors=float(new[i]), requests=float(n[i]), ctl_errors=float(ctl[i]), ctl_requests=float(m[i])
            )
            if e.log_e() >= level(ALPHA):
                fails += 1
                break
    assert fails / runs <= margin(runs)


def test_control_eprocess_works_with_a_zero_error_control() -> None:
    e = ControlEProcess(rho0=1.5)
    for _ in range(10):
        e.add(errors=3.0, requests=1000.0, ctl_errors=0.0, ctl_requests=1000.0)
    assert e.log_e() >= level(ALPHA)  # 30 errors against none at equal traffic
    calm = ControlEProcess(rho0=1.5)
    calm.add(errors=1.0, requests=1000.0, ctl_errors=0.0, ctl_requests=1000.0)
    assert calm.log_e() < level(ALPHA)  # one error is not evidence


def test_gaussian_mixture_false_fail_rate() -> None:
    rng = np.random.default_rng(14)
    runs, steps = 2000, 200
    z = rng.standard_normal(size=(runs, steps))
    fails = 0
    for row in z:
        e = GaussianMixtureEProcess(tau=0.7)
        for x in row:
            e.add(float(x))
            if e.log_e() >= level(ALPHA):
                fails += 1
                break
    assert fails / runs <= margin(runs)


def test_gaussian_mixture_closed_form_matches_the_integral() -> None:
    """The one-sided normal mixture: closed form == numerical integral of exp(l S - l^2 V / 2) dHalfNormal."""
    for s_val, n, tau in [(3.0, 5, 0.7), (-2.0, 10, 0.5), (12.0, 40, 1.0), (0.0, 1, 0.7)]:
        e = GaussianMixtureEProcess(tau=tau, clip=1e9)
        for _ in range(n):
            e.add(s_val / n)
        v = float(n)

        def f(lam: float, s: float = s_val, v: float = v, tau: float = tau) -> float:
            dens = 2.0 * math.exp(-0.5 * (lam / tau) ** 2) / (tau * math.sqrt(2.0 * math.pi))
            return math.exp(lam * s - 0.5 * lam * lam * v) * dens

        numeric, _ = integrate.quad(f, 0.0, math.inf)
        assert math.exp(e.log_e()) == pytest.approx(numeric, rel=1e-6)


def test_rate_eprocess_is_the_weighted_average_of_binomial_likelihood_ratios() -> None:
    e = RateEProcess(p0=0.005)  # small enough that every alternative, up to 100x, is a proportion
    e.add(errors=3.0, requests=150.0)
    from watchdog.analysis.sequential import UP, up_weights

    direct = [(p1 / 0.005) ** 3 * ((1 - p1) / 0.995) ** 147 for p1 in (0.005 * g for g in UP)]
    weights = up_weights(len(UP))
    assert sum(weights) == pytest.approx(1.0)
    assert math.exp(e.log_e()) == pytest.approx(
        sum(w * d for w, d in zip(weights, direct, strict=True)), rel=1e-9
    )


def test_a_lone_capped_spike_fails_only_while_the_test_has_seen_little() -> None:
    """What docs/judging.md says of one spike at the 5-sd cap, at the value test's own prior scale:
    at alpha 0.05 it crosses as the first value for a long-run factor under ~2.5, as the second under ~1.3,
    never as the third, and never at alpha 0.01."""
    from watchdog.analysis.valuetest import TAU

    def crosses(lrv: float, before: int, alpha: float) -> bool:
        e = GaussianMixtureEProcess(lrv=lrv, tau=TAU)
        for _ in range(before):
            e.add(0.0)
        e.add(1e6)  # far past the cap: the cap is what it weighs
        return e.log_e() >= level(alpha)

    assert crosses(1.0, 0, ALPHA) and crosses(2.4, 0, ALPHA) and not crosses(2.7, 0, ALPHA)
    assert crosses(1.2, 1, ALPHA) and not crosses(1.4, 1, ALPHA)
    assert not crosses(1.0, 2, ALPHA)
    assert not any(crosses(1.0, before, 0.01) for before in range(3))
