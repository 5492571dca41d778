"""The split's dispersion against a control: at the edge of tolerance with a canary's own noise it crosses at
most alpha; with shared noise only (a binomial split) it barely tempers the evidence.

Fixed seeds, bounded runs, a calm baseline and control; the margin is three binomial standard errors.
"""

from __future__ import annotations

import math

import numpy as np

from watchdog.analysis import Baseline, Measurement
from watchdog.analysis.dispersion import OWN_WANDER, SplitDispersion
from watchdog.analysis.evidence import evidence_for
from watchdog.policy.checks import ErrorRateCheck

ALPHA = 0.05
CHECK = ErrorRateCheck.model_validate(
    {
        "name": "errors",
        "type": "error_rate",
        "errors": "e",
        "requests": "r",
        "confidence": 0.95,
        "baseline": {"compare_to": "control", "max_ratio": 1.5},
        "control": {"errors": "a", "requests": "b"},
    }
)


def margin(runs: int) -> float:
    return ALPHA + 3.0 * math.sqrt(ALPHA * (1 - ALPHA) / runs)


def edge_run(rng: np.random.Generator, *, per: int, own: float, judged: int = 18) -> bool:
    """One window: canary at exactly 1.5x a calm control, its rate wandering by `own` (log sd) per sample."""
    req = rng.poisson(per, size=60)
    base = Baseline(
        values={"errors": rng.binomial(req, 0.005).astype(float).tolist(), "requests": req.tolist()}
    )
    ev = evidence_for(CHECK, baseline=base, alpha=ALPHA, judged=judged)
    assert ev is not None
    for i in range(judged):
        n, m = int(rng.poisson(per)), int(rng.poisson(per))
        p = min(0.0075 * math.exp(rng.normal(0.0, own) - own * own / 2), 0.5)
        values = {
            "errors": float(rng.binomial(n, p)),
            "requests": float(n),
            "control_errors": float(rng.binomial(m, 0.005)),
            "control_requests": float(m),
        }
        if ev.step(Measurement(values=values), position=i).crossed:
            return True
    return False


def test_canary_with_its_own_noise_at_high_traffic_crosses_at_most_alpha() -> None:
    """1,000 req/s at 30 s: about 375 errors a pair, so one pair at a binomial spread would decide alone;
    the prior on the canary's own wander (per error pair, not per pair) must hold it from the first pair."""
    rng = np.random.default_rng(41)
    runs = 300
    fails = sum(edge_run(rng, per=30_000, own=OWN_WANDER) for _ in range(runs))
    assert fails / runs <= margin(runs)


def test_canary_wandering_more_than_the_prior_is_learnt_from_the_pairs() -> None:
    """Own noise of 50%, beyond the prior: the pairs seen so far raise the dispersion in time."""
    rng = np.random.default_rng(42)
    runs = 300
    fails = sum(edge_run(rng, per=3_000, own=0.5) for _ in range(runs))
    assert fails / runs <= margin(runs)


def test_binomial_split_at_low_traffic_is_barely_tempered() -> None:
    """Both versions share every shock: the split is binomial and, at a few errors a pair, the factor stays
    within a few percent of 1 (the baseline's dispersion used to set it, costing a third of the evidence)."""
    rng = np.random.default_rng(43)
    factors = []
    for _ in range(200):
        split = SplitDispersion()
        for _ in range(18):
            n, m = int(rng.poisson(600)), int(rng.poisson(600))
            e, c = float(rng.binomial(n, 0.01)), float(rng.binomial(m, 0.005))
            split.add(e, float(n), c, float(m))
        factors.append(split.factor(9.0))
    assert float(np.median(factors)) < 1.1
    assert max(factors) < 2.0


def test_factor_grows_with_the_errors_of_the_pair() -> None:
    """The same wander is a larger dispersion for a pair with more errors: 1 + (T - 1) kappa."""
    split = SplitDispersion()
    assert split.factor(1.0) == 1.0
    assert 1.0 < split.factor(10.0) < split.factor(300.0)
    assert split.factor(300.0) == 1.0 + 299.0 * 0.25 * OWN_WANDER**2


def test_busy_binomial_pairs_stop_paying_for_the_prior_within_a_few_samples() -> None:
    """At 1,000 req/s (hundreds of errors a pair) the 40% prior makes a pair's dispersion ~19; three pairs
    that are plainly binomial bound kappa at 95%; after six the factor is about a third of the prior's (the
    shrinkage toward the prior alone would keep it at 5 / 11 of it)."""
    rng = np.random.default_rng(44)
    prior_factor = 1.0 + 449.0 * 0.25 * OWN_WANDER**2
    factors = []
    for _ in range(200):
        split = SplitDispersion()
        for _ in range(6):
            n, m = int(rng.poisson(30_000)), int(rng.poisson(30_000))
            split.add(float(rng.binomial(n, 0.01)), float(n), float(rng.binomial(m, 0.005)), float(m))
        factors.append(split.factor(450.0))
    assert float(np.median(factors)) < 0.42 * prior_factor


def test_busy_canary_wandering_more_than_the_prior_crosses_at_most_alpha() -> None:
    """Own noise of 50% at 1,000 req/s: the pairs' bound must not undercut the wander they show."""
    rng = np.random.default_rng(45)
    runs = 300
    fails = sum(edge_run(rng, per=30_000, own=0.5) for _ in range(runs))
    assert fails / runs <= margin(runs)
