"""The running tests on realistic noise, through the Evaluator: false fails bounded, regressions caught.

Overdispersed, autocorrelated error counts and heavy-tailed autocorrelated p99, with fixed seeds and bounded
runs; the margin is three binomial standard errors above alpha.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.analysis.test_dispersion import CHECK as CONTROL_CHECK
from tests.analysis.test_noise import wander_series
from watchdog.analysis import Baseline, Evaluator, Measurement, Timing, Verdict
from watchdog.analysis.evidence import BASELINE_SHARE, ErrorEvidence, evidence_for
from watchdog.analysis.judge import judge_absolute
from watchdog.analysis.sequential import RateEProcess, level
from watchdog.policy.checks import ErrorRateCheck, LatencyCheck
from watchdog.policy.rules import AnyCheck

ALPHA = 0.05


def margin(runs: int) -> float:
    return ALPHA + 3.0 * math.sqrt(ALPHA * (1 - ALPHA) / runs)


def error_check(**limits: object) -> ErrorRateCheck:
    return ErrorRateCheck.model_validate(
        {
            "name": "errors",
            "type": "error_rate",
            "errors": "e",
            "requests": "r",
            "confidence": 0.95,
            "baseline": limits or {"max_ratio": 1.5},
        }
    )


def latency_check(**limits: object) -> LatencyCheck:
    return LatencyCheck.model_validate(
        {
            "name": "p99",
            "type": "latency",
            "query": "q",
            "confidence": 0.95,
            "baseline": limits or {"max_ratio": 1.3},
        }
    )


def counts(
    rng: np.random.Generator, *, points: int, per: float, p: float, sd: float, rho: float
) -> np.ndarray:
    """Requests ~ Poisson, errors ~ Binomial with a log-normal AR(1) rate multiplier (overdispersion)."""
    z = np.zeros(points)
    eps = rng.standard_normal(points) * sd * math.sqrt(1 - rho * rho)
    for i in range(1, points):
        z[i] = rho * z[i - 1] + eps[i]
    req = rng.poisson(per, size=points)
    err = rng.binomial(req, np.minimum(p * np.exp(z - sd * sd / 2), 0.99))
    return np.stack([err, req])


def run_errors(
    ev_check: ErrorRateCheck,
    data: np.ndarray,
    base_points: int,
    *,
    scale: float = 1.0,
    rng: np.random.Generator | None = None,
) -> bool:
    base = Baseline(
        values={"errors": data[0, :base_points].tolist(), "requests": data[1, :base_points].tolist()}
    )
    window = data[:, base_points:]
    ev = evidence_for(ev_check, baseline=base, alpha=ALPHA, judged=window.shape[1])
    assert ev is not None
    for i in range(window.shape[1]):
        e, r = float(window[0, i]), float(window[1, i])
        if scale != 1.0 and rng is not None:
            e += float(rng.binomial(int(r), min(e / max(r, 1.0) * (scale - 1.0), 1.0)))
        if ev.step(Measurement(values={"errors": e, "requests": r}), position=i).crossed:
            return True
    return False


def test_error_counts_overdispersed_and_autocorrelated_rarely_false_fail() -> None:
    rng = np.random.default_rng(21)
    runs = 600
    fails = sum(
        run_errors(error_check(), counts(rng, points=180 + 54, per=10_000, p=0.01, sd=0.3, rho=0.8), 180)
        for _ in range(runs)
    )
    assert fails / runs <= margin(runs)


def test_error_counts_at_the_edge_of_tolerance_cross_at_most_alpha() -> None:
    """True rate exactly max_ratio x the baseline's, binomial noise: the guarantee's worst case."""
    rng = np.random.default_rng(22)
    runs, fails = 800, 0
    for _ in range(runs):
        data = counts(rng, points=60 + 18, per=3000, p=0.01, sd=0.0, rho=0.0)
        data[0, 60:] = rng.binomial(data[1, 60:], 0.015)
        fails += run_errors(error_check(), data, 60)
    assert fails / runs <= margin(runs)


@pytest.mark.parametrize(
    ("base_rate", "new_rate"),
    [
        (0.004, 0.006),  # both limits bind at once: 1.5 x 0.4% = 0.4% + 0.2%
        (0.002, 0.004),  # only max_increase binds: twice the baseline, the ratio test crosses readily
    ],
)
def test_error_counts_at_the_edge_of_both_limits_cross_at_most_alpha(
    base_rate: float, new_rate: float
) -> None:
    """max_ratio and max_increase together: where the increase is the binding limit, its own test (against
    the baseline's bound plus the increase, capped at d x r / (r - 1)) must hold the level by itself."""
    rng = np.random.default_rng(27)
    check = error_check(max_ratio=1.5, max_increase=0.002)
    runs, fails = 800, 0
    for _ in range(runs):
        data = counts(rng, points=60 + 18, per=3000, p=base_rate, sd=0.0, rho=0.0)
        data[0, 60:] = rng.binomial(data[1, 60:], new_rate)
        fails += run_errors(check, data, 60)
    assert fails / runs <= margin(runs)


def _control_check(**limits: float) -> ErrorRateCheck:
    return ErrorRateCheck.model_validate(
        {**CONTROL_CHECK.model_dump(by_alias=True), "baseline": {"compare_to": "control", **limits}}
    )


def _control_fails(
    check: ErrorRateCheck, rng: np.random.Generator, *, per: int, pc: float, pn: float
) -> bool:
    """One 18-sample window against a control at rate pc (the baseline before it too), the canary at pn."""
    r = rng.poisson(per, 60).astype(float)
    errors = rng.binomial(r.astype(int), pc).astype(float)
    ev = evidence_for(
        check,
        baseline=Baseline(values={"errors": errors.tolist(), "requests": r.tolist()}),
        alpha=ALPHA,
        judged=18,
    )
    assert ev is not None
    for i in range(18):
        n, m = int(rng.poisson(per)), int(rng.poisson(per))
        values = {
            "errors": float(rng.binomial(n, pn)),
            "requests": float(n),
            "control_errors": float(rng.binomial(m, pc)),
            "control_requests": float(m),
        }
        if ev.step(Measurement(values=values), position=i).crossed:
            return True
    return False


@pytest.mark.parametrize("per", [3000, 30_000])
def test_against_a_control_at_the_edge_of_max_increase_crosses_at_most_alpha(per: int) -> None:
    """Control at 0.2%, canary at 0.4%: twice the control's rate (beyond max_ratio 1.5) but exactly
    +max_increase, so within tolerance. The ratio test rightly crosses; the increase test must not. Compared
    on the estimates, the check failed 27% (100 req/s) and 68% (1,000 req/s) of these deploys."""
    rng = np.random.default_rng(29)
    check = _control_check(max_ratio=1.5, max_increase=0.002)
    runs = 300
    fails = sum(_control_fails(check, rng, per=per, pc=0.002, pn=0.004) for _ in range(runs))
    assert fails / runs <= margin(runs)


@pytest.mark.parametrize(("per", "pc"), [(3000, 0.002), (30_000, 0.002), (30_000, 0.01), (30_000, 0.05)])
def test_against_a_control_with_max_increase_alone_at_its_edge_crosses_at_most_alpha(
    per: int, pc: float
) -> None:
    """max_increase without max_ratio, the canary exactly +0.2% above its control: compared on the
    estimates this failed 70-85% of deploys at 0.2-1% error rates; the split test at the ratio the increase
    allows at the baseline's rate, with the rate test against d x k / (k - 1), must keep the level."""
    rng = np.random.default_rng(31)
    check = _control_check(max_increase=0.002)
    runs = 200
    fails = sum(_control_fails(check, rng, per=per, pc=pc, pn=pc + 0.002) for _ in range(runs))
    assert fails / runs <= margin(runs)


def test_against_a_control_with_max_increase_alone_a_breach_is_caught() -> None:
    """0.5% -> 1.0% (+0.5% where +0.2% is allowed) at 100 req/s, and 1% -> 1.5% at 1,000 req/s."""
    rng = np.random.default_rng(37)
    check = _control_check(max_increase=0.002)
    assert sum(_control_fails(check, rng, per=3000, pc=0.005, pn=0.01) for _ in range(100)) >= 80
    assert sum(_control_fails(check, rng, per=30_000, pc=0.01, pn=0.015) for _ in range(100)) >= 95


def test_the_increase_test_is_not_held_back_by_the_baseline_where_the_ratio_answers() -> None:
    """A thin baseline (10 errors in 1,800 requests) has a wide upper bound; above 0.6% (0.2% x 1.5 / 0.5) a
    rate within max_increase is beyond max_ratio anyway, so the increase test is against 0.6%, not the
    bound plus 0.2%: 12 errors in 360 requests are evidence against the first and not against the second."""
    check = error_check(max_ratio=1.5, max_increase=0.002)
    base = Baseline(values={"errors": ([1.0] + [0.0] * 5) * 10, "requests": [30.0] * 60})
    ev = evidence_for(check, baseline=base, alpha=ALPHA, judged=18)
    assert isinstance(ev, ErrorEvidence) and ev.inc is not None and ev.noise is not None
    assert ev.inc.p0 == pytest.approx(0.006)
    uncapped = RateEProcess(p0=ev.noise.rate_upper(ALPHA * BASELINE_SHARE) + 0.002, deflate=ev.inc.deflate)
    assert uncapped.p0 > 0.009
    for e in [1.0, 0.0, 2.0, 1.0, 0.0, 1.0, 2.0, 1.0, 1.0, 0.0, 2.0, 1.0]:
        ev.step(Measurement(values={"errors": e, "requests": 30.0}), position=0)
        uncapped.add(errors=e, requests=30.0)
    assert ev.inc.log_e() >= level(ev.a_inc) > uncapped.log_e()


def test_error_counts_double_is_caught_at_100_per_second() -> None:
    rng = np.random.default_rng(23)
    hits = sum(
        run_errors(
            error_check(),
            counts(rng, points=60 + 18, per=3000, p=0.01, sd=0.0, rho=0.0),
            60,
            scale=2.0,
            rng=rng,
        )
        for _ in range(100)
    )
    assert hits >= 95


def test_count_noise_long_run_variance_matches_the_model() -> None:
    """Binomial noise plus a log-normal AR(1) rate: the estimated deflate, averaged over baselines, is near
    the model's long-run variance 1 + b r (e^{s^2} - 1) (1 + rho) / (1 - rho) in Pearson units.
    """
    from watchdog.analysis.noise import count_noise

    rng = np.random.default_rng(32)
    per, p, sd, rho = 10_000, 0.005, 0.3, 0.8
    truth = 1.0 + per * p * (math.exp(sd * sd) - 1.0) * (1.0 + rho) / (1.0 - rho)
    estimates = []
    for _ in range(200):
        data = counts(rng, points=180, per=per, p=p, sd=sd, rho=rho)
        noise = count_noise(data[0].tolist(), data[1].tolist())
        assert noise is not None
        estimates.append(noise.deflate)
    assert 0.8 * truth <= float(np.mean(estimates)) <= 1.3 * truth
    binomial = [
        count_noise(*counts(rng, points=60, per=3000, p=p, sd=0.0, rho=0.0).tolist()) for _ in range(200)
    ]
    assert float(np.median([n.deflate for n in binomial if n is not None])) < 1.1  # no penalty without noise


def p99_series(rng: np.random.Generator, *, points: int, rho: float) -> np.ndarray:
    """log p99 = AR(1) with Student-t(3) innovations around log(0.5 s): heavy tails, autocorrelated."""
    x = np.zeros(points)
    eps = rng.standard_t(3, size=points) * 0.08
    for i in range(1, points):
        x[i] = rho * x[i - 1] + eps[i]
    return np.asarray(0.5 * np.exp(x))


def run_latency(check: LatencyCheck, values: np.ndarray, base_points: int, *, shift: float = 1.0) -> bool:
    base = Baseline(values={"value": values[:base_points].tolist()})
    window = values[base_points:] * shift
    ev = evidence_for(check, baseline=base, alpha=ALPHA, judged=len(window))
    assert ev is not None
    return any(
        ev.step(Measurement(values={"value": float(v)}), position=i).crossed for i, v in enumerate(window)
    )


def test_heavy_tailed_autocorrelated_p99_rarely_false_fails() -> None:
    rng = np.random.default_rng(24)
    runs = 800
    fails = sum(
        run_latency(latency_check(), p99_series(rng, points=60 + 18, rho=0.7), 60) for _ in range(runs)
    )
    assert fails / runs <= margin(runs)


def test_p99_at_the_edge_of_tolerance_crosses_at_most_alpha() -> None:
    rng = np.random.default_rng(25)
    runs = 800
    fails = sum(
        run_latency(latency_check(), p99_series(rng, points=60 + 36, rho=0.0), 60, shift=1.3)
        for _ in range(runs)
    )
    assert fails / runs <= margin(runs)


def test_p99_slow_wander_at_the_edge_of_tolerance_crosses_at_most_alpha() -> None:
    rng = np.random.default_rng(28)
    runs = 600
    fails = sum(
        run_latency(latency_check(), wander_series(rng, points=60 + 18), 60, shift=1.3) for _ in range(runs)
    )
    assert fails / runs <= ALPHA


def test_p99_doubling_is_caught() -> None:
    rng = np.random.default_rng(26)
    hits = sum(
        run_latency(latency_check(), p99_series(rng, points=78, rho=0.3), 60, shift=2.0) for _ in range(100)
    )
    assert hits >= 95


def test_one_error_in_49_is_not_evidence_that_2_percent_is_exceeded() -> None:
    check = ErrorRateCheck.model_validate(
        {"name": "e", "type": "error_rate", "errors": "e", "requests": "r", "max": 0.02, "confidence": 0.95}
    )
    reading = judge_absolute(check, Measurement(values={"errors": 1.0, "requests": 49.0}))
    assert reading.outcome.value == "pass" and "not significant" in reading.reason
    busy = judge_absolute(check, Measurement(values={"errors": 40.0, "requests": 1000.0}))
    assert busy.outcome.value == "fail"


def _timing(**kw: object) -> Timing:
    base: dict[str, object] = {
        "duration": 600.0,
        "interval": 30.0,
        "warmup": 60.0,
        "failure_limit": 2,
        "min_conclusive": 0.6,
    }
    base.update(kw)
    return Timing(**base)  # type: ignore[arg-type]


def _clean_baseline() -> Baseline:
    return Baseline(values={"errors": [20.0] * 60, "requests": [20_000.0] * 60})


def test_pass_early_on_a_busy_clean_deploy() -> None:
    ev = Evaluator(
        checks=[error_check()], timing=_timing(pass_early=True), baselines={"errors": _clean_baseline()}
    )
    decision = None
    for k in range(1, ev.samples_total + 1):
        _, decision = ev.observe(
            k=k, measurements={"errors": Measurement(values={"errors": 20.0, "requests": 20_000.0})}
        )
        if decision is not None:
            break
    assert decision is not None and decision.verdict is Verdict.PASSED
    assert decision.decided_after_s < 600.0
    assert "below tolerance" in decision.reasons[0]


def test_verification_confidence_splits_alpha_across_statistical_checks() -> None:
    checks: list[AnyCheck] = [error_check(), latency_check()]
    ev = Evaluator(
        checks=checks,
        timing=_timing(confidence=0.98),
        baselines={"errors": _clean_baseline(), "p99": Baseline(values={"value": [0.5, 0.52, 0.49] * 20})},
    )
    _, _ = ev.observe(
        k=3,
        measurements={
            "errors": Measurement(values={"errors": 20.0, "requests": 20_000.0}),
            "p99": Measurement(values={"value": 0.5}),
        },
    )
    alphas = [s.alpha for s in ev._states]
    assert alphas == pytest.approx([0.01, 0.01])  # 1 - 0.98 split in two; each check's own 0.05 is looser


def control_latency_check() -> LatencyCheck:
    """The p99 check at max_ratio 1.3 against a control query."""
    check = latency_check(compare_to="control", max_ratio=1.3)
    return LatencyCheck.model_validate({**check.model_dump(by_alias=True), "control": {"query": "c"}})


def test_control_absorbs_a_ramp_both_versions_share() -> None:
    """p99 rising to 2.5x on both versions: no failure against the control; fails against before."""
    rng = np.random.default_rng(27)
    check = control_latency_check()
    base = Baseline(values={"value": (0.5 * np.exp(rng.normal(0, 0.05, 60))).tolist()})
    ev_c = evidence_for(check, baseline=base, alpha=ALPHA, judged=18)
    ev_b = evidence_for(latency_check(), baseline=base, alpha=ALPHA, judged=18)
    assert ev_c is not None and ev_b is not None
    crossed_c = crossed_b = False
    for i in range(18):
        ramp = 1.0 + 1.5 * i / 17
        v = float(0.5 * ramp * math.exp(rng.normal(0, 0.05)))
        c = float(0.5 * ramp * math.exp(rng.normal(0, 0.05)))
        crossed_c |= ev_c.step(Measurement(values={"value": v, "control_value": c}), position=i).crossed
        crossed_b |= ev_b.step(Measurement(values={"value": v}), position=i).crossed
    assert not crossed_c
    assert crossed_b


def control_p99_edge_fails(
    rng: np.random.Generator, *, runs: int, rho: float, judged: int, jitter: float, own: float = 0.0
) -> float:
    """The share of windows failed by a canary p99 exactly 1.3x its control (in the log mean): a shared
    AR(rho) drift, `jitter` of each series' own, and `own` more of the canary's after the deploy."""
    check = control_latency_check()
    fails = 0
    for _ in range(runs):
        common = np.log(p99_series(rng, points=60 + judged, rho=rho) / 0.5)
        base = Baseline(values={"value": (0.5 * np.exp(common[:60] + rng.normal(0, jitter, 60))).tolist()})
        ev = evidence_for(check, baseline=base, alpha=ALPHA, judged=judged)
        assert ev is not None
        for i in range(judged):
            shared = common[60 + i]
            extra = rng.normal(0, own) if own > 0 else 0.0
            v = float(0.5 * 1.3 * math.exp(shared + rng.normal(0, jitter) + extra))
            c = float(0.5 * math.exp(shared + rng.normal(0, jitter)))
            if ev.step(Measurement(values={"value": v, "control_value": c}), position=i).crossed:
                fails += 1
                break
    return fails / runs


def test_p99_against_a_control_at_the_edge_crosses_at_most_alpha() -> None:
    """Canary p99 exactly 1.3x the control's, a shared autocorrelated drift and noise of its own each: the
    t-test of the differences needs no spread, their autocorrelation is learnt from them; crosses <= alpha.
    """
    runs = 600
    assert control_p99_edge_fails(np.random.default_rng(33), runs=runs, rho=0.7, judged=36, jitter=0.05) <= (
        margin(runs)
    )


def test_p99_level_with_its_control_shows_it_is_within_tolerance() -> None:
    """pass_early against a control: a canary p99 level with its control (tolerance 1.3x) gathers evidence
    that any regression is below tolerance, from the differences alone, and never crosses."""
    rng = np.random.default_rng(35)
    check = control_latency_check()
    base = Baseline(values={"value": (0.5 * np.exp(rng.normal(0, 0.08, 60))).tolist()})
    ev = evidence_for(check, baseline=base, alpha=ALPHA, judged=18)
    assert ev is not None
    first_within = None
    for i in range(18):
        shared = rng.normal(0, 0.08)
        v = float(0.5 * math.exp(shared + rng.normal(0, 0.05)))
        c = float(0.5 * math.exp(shared + rng.normal(0, 0.05)))
        step = ev.step(Measurement(values={"value": v, "control_value": c}), position=i)
        assert not step.crossed
        if step.within and first_within is None:
            first_within = i + 1
    assert first_within is not None and first_within <= 6, first_within


def test_p99_of_a_canary_noisier_than_the_baseline_at_the_edge_crosses_at_most_alpha() -> None:
    """A canary on a pod or two: exactly 1.3x its control in the log mean, with 30% noise of its own per
    sample that the baseline (the whole service) never showed. Scaled by the baseline's spread this failed
    about 15% of windows; the t-test of the differences needs no spread."""
    runs = 400
    rng = np.random.default_rng(34)
    fails = control_p99_edge_fails(rng, runs=runs, rho=0.5, judged=18, jitter=0.04, own=0.3)
    assert fails <= margin(runs)


def test_control_split_with_the_canary_own_overdispersion_at_the_edge() -> None:
    """Canary at exactly 1.5x the control, with extra-binomial noise of its own: crosses at most alpha.

    The baseline (the stable version before the deploy) shows the service's overdispersion; the split's own
    dispersion does not start from it (shared shocks cancel in the split): it starts from the prior on a
    canary's own wander and is then learnt from the pairs.
    """
    rng = np.random.default_rng(28)
    check = CONTROL_CHECK
    runs, fails = 600, 0
    for _ in range(runs):
        z = rng.normal(0, 0.3 * math.sqrt(2), size=60)
        req = rng.poisson(3000, size=60)
        base = Baseline(
            values={
                "errors": rng.binomial(req, 0.01 * np.exp(z - 0.09)).astype(float).tolist(),
                "requests": req.astype(float).tolist(),
            }
        )
        ev = evidence_for(check, baseline=base, alpha=ALPHA, judged=36)
        assert ev is not None
        shared = rng.normal(0, 0.3, size=36)
        own = rng.normal(0, 0.3, size=36)
        for i in range(36):
            n, m = rng.poisson(3000), rng.poisson(3000)
            c = rng.binomial(m, 0.01 * math.exp(shared[i]))
            e = rng.binomial(n, min(0.015 * math.exp(shared[i] + own[i] - 0.045), 0.5))
            step = ev.step(
                Measurement(
                    values={
                        "errors": float(e),
                        "requests": float(n),
                        "control_errors": float(c),
                        "control_requests": float(m),
                    }
                ),
                position=i,
            )
            if step.crossed:
                fails += 1
                break
    assert fails / runs <= margin(runs)


def test_inconclusive_low_traffic_says_how_much_more_it_needs() -> None:
    """40 requests a sample, min_requests 100: pooled they count, and the reason says what is missing."""
    check = ErrorRateCheck.model_validate(
        {
            "name": "errors",
            "type": "error_rate",
            "errors": "e",
            "requests": "r",
            "confidence": 0.95,
            "min_requests": 100,
            "baseline": {"max_ratio": 1.5},
        }
    )
    base = Baseline(values={"errors": [0.0, 1.0, 0.0] * 20, "requests": [40.0] * 60})
    ev = Evaluator(checks=[check], timing=_timing(), baselines={"errors": base})
    decision = None
    for k in range(1, ev.samples_total + 1):
        _, decision = ev.observe(
            k=k, measurements={"errors": Measurement(values={"errors": 0.0, "requests": 40.0})}
        )
    assert decision is not None and decision.verdict is Verdict.INCONCLUSIVE
    reason = decision.reasons[0]
    assert "7/18 judged samples conclusive" in reason  # 720 pooled requests in units of 100
    assert "needs about 380 more requests for min_conclusive, about 5 min at the current rate" in reason
