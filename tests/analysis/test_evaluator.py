"""Streaks, warm-up, min_conclusive and the end of the window, driven through the Evaluator as tables.

Outcomes per sample are scripted with an http check (up=1 pass, up=0 fail, None inconclusive).
"""

from __future__ import annotations

import pytest

from watchdog.analysis import Baseline, Evaluator, Measurement, Outcome, Timing, Verdict, action_for
from watchdog.policy.checks import ErrorRateCheck, HttpCheck
from watchdog.policy.service import RollbackVerification, Verification

P, F, I = 1.0, 0.0, None  # pass, fail, inconclusive  # noqa: E741


def http(name: str = "healthz") -> HttpCheck:
    return HttpCheck(name=name, type="http", url="http://x")


def timing(
    *, samples: int = 10, warmup: int = 0, failure_limit: int = 2, min_conclusive: float = 0.6
) -> Timing:
    return Timing(
        duration=samples * 30.0,
        interval=30.0,
        warmup=warmup * 30.0,
        failure_limit=failure_limit,
        min_conclusive=min_conclusive,
    )


def run(script: list[float | None], t: Timing) -> tuple[Verdict, float, list[Outcome]]:
    ev = Evaluator(checks=[http()], timing=t, baselines={})
    outcomes: list[Outcome] = []
    for k, up in enumerate(script, start=1):
        judgements, decision = ev.observe(k=k, measurements={"healthz": Measurement({"up": up})})
        outcomes.extend(j.outcome for j in judgements if not j.warmup)
        if decision is not None:
            return decision.verdict, decision.decided_after_s, outcomes
    d = ev.finish()
    return d.verdict, d.decided_after_s, outcomes


# (id, script, timing, verdict, decided_after_s)
STREAKS = [
    ("all pass", [P] * 10, timing(), Verdict.PASSED, 300.0),
    ("single spike", [P, F, P, P, P, P, P, P, P, P], timing(), Verdict.PASSED, 300.0),
    ("sustained breach fails at the 2nd", [P, P, F, F, F, F, P, P, P, P], timing(), Verdict.FAILED, 120.0),
    ("failure_limit 3", [P, F, F, F, P, P, P, P, P, P], timing(failure_limit=3), Verdict.FAILED, 120.0),
    ("failure_limit 1", [P, P, P, F, P, P, P, P, P, P], timing(failure_limit=1), Verdict.FAILED, 120.0),
    ("inconclusive keeps the streak", [P, F, I, F, P, P, P, P, P, P], timing(), Verdict.FAILED, 120.0),
    ("a pass resets it", [F, P, F, P, F, P, F, P, F, P], timing(), Verdict.PASSED, 300.0),
    ("warm-up fails ignored", [F, F, F, P, P, P, P, P, P, P], timing(warmup=3), Verdict.PASSED, 300.0),
    ("breach right after warm-up", [P, P, F, F, P, P, P, P, P, P], timing(warmup=2), Verdict.FAILED, 120.0),
    ("no data", [I] * 10, timing(), Verdict.INCONCLUSIVE, 300.0),
    ("min_conclusive met", [P, P, P, P, P, P, I, I, I, I], timing(), Verdict.PASSED, 300.0),
    ("min_conclusive not met", [P, P, P, P, P, I, I, I, I, I], timing(), Verdict.INCONCLUSIVE, 300.0),
    (
        "min_conclusive counts judged only",
        [I, I, P, P, P, I, P, P, P, P],
        timing(warmup=2),
        Verdict.PASSED,
        300.0,
    ),
    ("fail at the last sample", [P] * 8 + [F, F], timing(), Verdict.FAILED, 300.0),
    # A due sample never taken is missing evidence: 5 of 10 conclusive is below min_conclusive 0.6.
    ("gap: samples never taken are not conclusive", [P, P, P, P, P], timing(), Verdict.INCONCLUSIVE, 300.0),
    ("gap: a short gap still passes", [P] * 7, timing(), Verdict.PASSED, 300.0),
]


@pytest.mark.parametrize(
    ("script", "t", "verdict", "after"), [pytest.param(*row[1:], id=str(row[0])) for row in STREAKS]
)
def test_streaks(script: list[float | None], t: Timing, verdict: Verdict, after: float) -> None:
    assert run(script, t)[:2] == (verdict, after)


def test_warmup_samples_are_kept_not_judged() -> None:
    ev = Evaluator(checks=[http()], timing=timing(warmup=2), baselines={})
    js, d = ev.observe(k=2, measurements={"healthz": Measurement({"up": 0.0})})
    assert d is None and js[0].warmup and js[0].observed == 0.0 and "warm-up (t 60s <= 60s)" in js[0].reason
    js, _ = ev.observe(k=3, measurements={"healthz": Measurement({"up": 0.0})})
    assert not js[0].warmup and js[0].outcome is Outcome.FAIL


def test_missing_check_is_not_sampled() -> None:
    ev = Evaluator(checks=[http("a"), http("b")], timing=timing(), baselines={})
    js, _ = ev.observe(k=1, measurements={"a": Measurement({"up": 1.0})})
    assert [(j.check, j.outcome, j.reason) for j in js] == [
        ("a", Outcome.PASS, "probe ok"),
        ("b", Outcome.INCONCLUSIVE, "not sampled"),
    ]


def test_two_checks_one_fails() -> None:
    ev = Evaluator(checks=[http("a"), http("b")], timing=timing(), baselines={})
    decision = None
    for k in (1, 2):
        _, decision = ev.observe(
            k=k, measurements={"a": Measurement({"up": 1.0}), "b": Measurement({"up": 0.0})}
        )
    assert decision is not None and decision.verdict is Verdict.FAILED
    assert decision.failed_checks == ("b",)
    assert decision.reasons == ("b: 2 failing samples in a row; last: probe failed",)


def test_decision_is_final_and_order_enforced() -> None:
    ev = Evaluator(checks=[http()], timing=timing(failure_limit=1), baselines={})
    _, d = ev.observe(k=1, measurements={"healthz": Measurement({"up": 0.0})})
    assert d is not None
    _, again = ev.observe(k=2, measurements={"healthz": Measurement({"up": 0.0})})
    assert again is None and ev.finish() == d
    with pytest.raises(ValueError, match="in order"):
        ev.observe(k=2, measurements={})


def test_inconclusive_reasons_name_the_short_check() -> None:
    ev = Evaluator(checks=[http("a"), http("b")], timing=timing(samples=2), baselines={})
    ev.observe(k=1, measurements={"a": Measurement({"up": 1.0})})
    _, d = ev.observe(k=2, measurements={"a": Measurement({"up": 1.0})})
    assert d is not None and d.verdict is Verdict.INCONCLUSIVE
    assert d.reasons == ("b: 0/2 judged samples conclusive (0% < min_conclusive 60%)",)


def test_replay_is_deterministic() -> None:
    check = ErrorRateCheck(
        name="errors",
        type="error_rate",
        max=0.05,
        baseline={"max_ratio": 1.5},
        min_requests=100,
        confidence=0.95,
    )
    base = {"errors": Baseline({"errors": [4.0] * 10, "requests": [1000.0] * 10})}
    samples = [
        (k, {"errors": Measurement({"errors": float(k % 4 * 3), "requests": 1000.0})}) for k in range(1, 21)
    ]

    def replay() -> list[object]:
        ev = Evaluator(checks=[check], timing=Timing.of(Verification()), baselines=base)
        out: list[object] = []
        for k, ms in samples:
            js, d = ev.observe(k=k, measurements=ms)
            out.extend([*js, d])
        return out

    assert replay() == replay()


def test_timing_of_policies() -> None:
    t = Timing.of(Verification())
    assert (t.duration, t.interval, t.warmup, t.failure_limit, t.min_conclusive) == (600, 30, 60, 2, 0.6)
    assert (
        Timing(duration=600, interval=30, warmup=0, failure_limit=2, min_conclusive=0.6).samples_total == 20
    )
    r = Timing.of(RollbackVerification())
    assert (r.samples_total, r.warmup) == (8, 0.0)
    with pytest.raises(ValueError):
        Timing(duration=60, interval=0, warmup=0, failure_limit=1, min_conclusive=0)


@pytest.mark.parametrize(
    ("verdict", "action"),
    [(Verdict.PASSED, "none"), (Verdict.FAILED, "rollback"), (Verdict.INCONCLUSIVE, "alert")],
)
def test_action_for(verdict: Verdict, action: str) -> None:
    assert action_for(verdict=verdict, on_failure="rollback", on_inconclusive="alert") == action


def test_action_for_unknown() -> None:
    with pytest.raises(ValueError, match="unknown action"):
        action_for(verdict=Verdict.FAILED, on_failure="explode", on_inconclusive="alert")
