"""Our e-processes against confseq, the reference implementation of Howard et al.'s uniform boundaries.

The Gaussian mixture is the same closed form as confseq's one-sided normal mixture, so the two must agree
to rounding at every (sum, variance) and cross at the same boundary. The binomial rate test is a discrete
mixture where confseq's is a conjugate beta mixture: different e-processes for the same null, so they must
both keep the level at its edge and detect about as often and as early beyond it.
"""

from __future__ import annotations

import math
import os
from types import ModuleType

import numpy as np
import pytest

from watchdog.analysis.sequential import ControlEProcess, GaussianMixtureEProcess, RateEProcess, level


def _confseq() -> ModuleType:
    try:
        from confseq import boundaries  # type: ignore[import-untyped]  # a compiled module without stubs
    except ImportError:
        # `make venv` builds confseq from source (C++ against Boost's headers from .ci/system-deps)
        if os.environ.get("CI"):
            pytest.fail("confseq is not installed in CI: `make venv` builds it")
        pytest.skip("confseq is not installed (`make venv` builds it; needs Boost's headers)")
    module: ModuleType = boundaries
    return module


ALPHA = 0.05
TAU = GaussianMixtureEProcess().tau


def _v_opt_for(rho: float, alpha_opt: float = ALPHA) -> float:
    """The v_opt whose best mixing precision in confseq is `rho` (its one-sided rule: the two-sided one at
    2 x alpha, rho = v_opt / (2 log(1/a) + log(1 + 2 log(1/a))))."""
    big_l = 2.0 * math.log(1.0 / (2.0 * alpha_opt))
    return rho * (big_l + math.log1p(big_l))


def _mixture(s: float, v: float, *, steps: int = 20) -> GaussianMixtureEProcess:
    """A Gaussian mixture holding sum `s` and variance `v`, fed as `steps` equal increments."""
    e = GaussianMixtureEProcess()
    for _ in range(steps):
        e.add(s / steps, lrv=v / steps)
    return e


def test_gaussian_mixture_is_confseq_one_sided_normal_mixture() -> None:
    cs = _confseq()
    v_opt = _v_opt_for(1.0 / TAU**2)  # our prior's scale tau is confseq's precision rho = 1 / tau^2
    for v in (1.0, 5.0, 18.0, 60.0, 400.0):
        for s in (-8.0, -1.0, 0.0, 0.5, 2.0, 6.0, 15.0, 40.0):
            theirs = float(cs.normal_log_mixture(s, v, v_opt, ALPHA, True))
            ours = _mixture(s, v, steps=max(1, math.ceil(abs(s) / 4.0))).log_e()
            assert ours == pytest.approx(theirs, abs=1e-9, rel=1e-9), (s, v)


def test_gaussian_mixture_crosses_where_confseq_puts_the_boundary() -> None:
    cs = _confseq()
    v_opt = _v_opt_for(1.0 / TAU**2)
    for v in (2.0, 18.0, 90.0, 600.0):
        bound = float(cs.normal_mixture_bound(v, ALPHA, v_opt, ALPHA, True))
        steps = max(1, math.ceil(bound / 4.0))
        assert _mixture(bound * (1 + 1e-6), v, steps=steps).log_e() >= level(ALPHA), v
        assert _mixture(bound * (1 - 1e-6), v, steps=steps).log_e() < level(ALPHA), v


def _crossings(
    cs: ModuleType, rng: np.random.Generator, mult: float, runs: int
) -> tuple[list[int], list[int]]:
    """Samples until each test crosses (ours, confseq's beta-binomial), over `runs` windows of binomial
    counts at `mult` x the null's rate; a window that never crosses is left out."""
    p0, n, samples = 0.01, 200, 60
    v_opt = samples * n * p0 * (1 - p0)  # confseq's mixture tuned to the end of the window
    ours: list[int] = []
    theirs: list[int] = []
    for _ in range(runs):
        x = rng.binomial(n, p0 * mult, size=samples)
        e = RateEProcess(p0=p0)
        for k in range(samples):
            e.add(errors=float(x[k]), requests=float(n))
            if e.log_e() >= level(ALPHA):
                ours.append(k)
                break
        k_all = np.arange(1, samples + 1)
        s = np.cumsum(x) - k_all * n * p0
        v = k_all * n * p0 * (1 - p0)
        logs = np.asarray(cs.beta_binomial_log_mixture(s, v, v_opt, p0, 1 - p0, ALPHA, True))
        hit = np.nonzero(logs >= math.log(1 / ALPHA))[0]
        if hit.size:
            theirs.append(int(hit[0]))
    return ours, theirs


def test_rate_eprocess_keeps_the_level_and_detects_like_confseq_beta_binomial() -> None:
    cs = _confseq()
    rng = np.random.default_rng(41)
    runs = 400
    margin = ALPHA + 3.0 * math.sqrt(ALPHA * (1 - ALPHA) / runs)
    ours, theirs = _crossings(cs, rng, 1.0, runs)  # at the edge of the null
    assert len(ours) / runs <= margin and len(theirs) / runs <= margin, (len(ours), len(theirs))
    for mult in (1.5, 2.0):
        ours, theirs = _crossings(cs, rng, mult, runs)
        assert len(ours) >= 0.95 * len(theirs), (mult, len(ours), len(theirs))
        assert float(np.median(ours)) <= float(np.median(theirs)) + 1, (mult, ours, theirs)


def test_control_eprocess_keeps_the_level_and_detects_like_confseq_beta_binomial() -> None:
    """Against a control with equal traffic, every error is a coin flip between the two versions with the
    canary's share theta0 = rho0 / (1 + rho0) at the edge: confseq's beta-binomial on those flips is the
    reference for our conditional binomial."""
    cs = _confseq()
    rng = np.random.default_rng(43)
    rho0, n, p, samples, runs = 1.5, 1000, 0.01, 30, 400
    theta0 = rho0 / (1 + rho0)
    margin = ALPHA + 3.0 * math.sqrt(ALPHA * (1 - ALPHA) / runs)
    for mult in (1.0, 1.5, 2.0):
        ours: list[int] = []
        theirs: list[int] = []
        v_opt = samples * n * p * (1 + rho0 * mult) * theta0 * (1 - theta0)
        for _ in range(runs):
            e = rng.binomial(n, min(p * rho0 * mult, 1.0), size=samples)
            c = rng.binomial(n, p, size=samples)
            proc = ControlEProcess(rho0=rho0)
            for k in range(samples):
                proc.add(errors=float(e[k]), requests=float(n), ctl_errors=float(c[k]), ctl_requests=float(n))
                if proc.log_e() >= level(ALPHA):
                    ours.append(k)
                    break
            trials = np.cumsum(e + c)
            logs = np.asarray(
                cs.beta_binomial_log_mixture(
                    np.cumsum(e) - theta0 * trials,
                    theta0 * (1 - theta0) * trials,
                    v_opt,
                    theta0,
                    1 - theta0,
                    ALPHA,
                    True,
                )
            )
            hit = np.nonzero(logs >= math.log(1 / ALPHA))[0]
            if hit.size:
                theirs.append(int(hit[0]))
        if mult == 1.0:
            assert len(ours) / runs <= margin and len(theirs) / runs <= margin, (len(ours), len(theirs))
        else:
            assert len(ours) >= 0.95 * len(theirs), (mult, len(ours), len(theirs))
            assert float(np.median(ours)) <= float(np.median(theirs)) + 1, (mult, ours, theirs)
