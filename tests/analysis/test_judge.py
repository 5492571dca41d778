"""The per-sample rules as one table: check, measurement, baseline, earlier values -> outcome and reason.

Every threshold comparison of docs/design.md ("How a sample is judged") has a row here.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from watchdog.analysis.judge import AnyCheck, judge, observed_value, prepare
from watchdog.analysis.models import Baseline, Measurement, Outcome
from watchdog.policy.checks import Check

_CHECK: TypeAdapter[AnyCheck] = TypeAdapter(Check)

HTTP = {"name": "healthz", "type": "http", "url": "http://x/healthz"}
ERR = {"name": "errors", "type": "error_rate", "max": 0.02}
ERR_BASE = {**ERR, "baseline": {"max_ratio": 1.5, "max_increase": 0.003}, "min_requests": 100}
ERR_CONF = {**ERR_BASE, "confidence": 0.95}
LAT = {"name": "p99", "type": "latency", "max": 0.8, "baseline": {"max_ratio": 1.3}}
LAT_MW = {**LAT, "min_effect": 0.1}
MET = {"name": "lag", "type": "metric", "max": 10000, "min": 1}
MET_BASE = {"name": "lag", "type": "metric", "baseline": {"max_ratio": 2.0, "max_increase": 50}}

# 0.4 % over 20 x 1000 requests
B_ERR = Baseline({"errors": [4.0] * 20, "requests": [1000.0] * 20})
B_ZERO = Baseline({"errors": [0.0] * 20, "requests": [1000.0] * 20})
B_LAT = Baseline({"value": [0.50, 0.52, 0.48, 0.51, 0.49, 0.50, 0.53, 0.47, 0.50, 0.51]})  # median 0.50
B_MET = Baseline({"value": [100.0, 110.0, 90.0]})  # mean 100


def m(**values: float | None) -> Measurement:
    return Measurement(values=values)


def er(errors: float | None, requests: float | None) -> Measurement:
    return Measurement(values={"errors": errors, "requests": requests})


def v(value: float | None) -> Measurement:
    return Measurement(values={"value": value})


# (id, check, measurement, baseline, history, outcome, reason fragment)
TABLE: list[tuple[str, dict[str, Any], Measurement, Baseline | None, list[float], Outcome, str]] = [
    # http
    ("http up", HTTP, m(up=1.0), None, [], Outcome.PASS, "probe ok"),
    (
        "http down",
        HTTP,
        Measurement({"up": 0.0}, note="status 503, expected 200"),
        None,
        [],
        Outcome.FAIL,
        "probe failed: status 503, expected 200",
    ),
    ("http no data", HTTP, m(up=None), None, [], Outcome.INCONCLUSIVE, "no data"),
    (
        "http source error",
        HTTP,
        Measurement(error="prober crashed"),
        None,
        [],
        Outcome.INCONCLUSIVE,
        "source error: prober crashed",
    ),
    # error_rate: absolute, no data, low traffic
    ("err over max", ERR, er(61, 1000), None, [], Outcome.FAIL, "error rate 6.1% > limit 2.0%"),
    ("err at max passes", ERR, er(20, 1000), None, [], Outcome.PASS, "error rate 2.0% <= limit 2.0%"),
    ("err no data", ERR, er(None, 1000), None, [], Outcome.INCONCLUSIVE, "no data"),
    (
        "err source error",
        ERR,
        Measurement(error="HTTP 503 from prometheus"),
        None,
        [],
        Outcome.INCONCLUSIVE,
        "source error: HTTP 503 from prometheus",
    ),
    (
        "err low traffic",
        ERR_BASE,
        er(5, 12),
        B_ERR,
        [],
        Outcome.INCONCLUSIVE,
        "12 requests < min_requests 100",
    ),
    ("err zero requests", ERR, er(0, 0), None, [], Outcome.INCONCLUSIVE, "0 requests"),
    # error_rate: baseline
    (
        "err baseline breach",
        ERR_BASE,
        er(9, 1000),
        B_ERR,
        [],
        Outcome.FAIL,
        "error rate 0.9% vs baseline 0.4%: ratio 2.25 > 1.5 and increase 0.5pp > 0.3pp",
    ),
    (
        "err ratio but not increase",
        ERR_BASE,
        er(7, 1000),
        B_ERR,
        [],
        Outcome.PASS,
        "ratio 1.75 > 1.5 and increase 0.3pp <= 0.3pp",
    ),
    ("err within baseline", ERR_BASE, er(5, 1000), B_ERR, [], Outcome.PASS, "ratio 1.25 <= 1.5"),
    (
        "err no baseline",
        ERR_BASE,
        er(9, 1000),
        None,
        [],
        Outcome.PASS,
        "error rate 0.9% <= limit 2.0%; no baseline: only absolute limits applied",
    ),
    ("err no baseline still absolute", ERR_BASE, er(30, 1000), None, [], Outcome.FAIL, "3.0% > limit 2.0%"),
    (
        "err baseline without requests",
        ERR_BASE,
        er(9, 1000),
        Baseline({"errors": [0], "requests": [0]}),
        [],
        Outcome.PASS,
        "no baseline",
    ),
    # error_rate: confidence (one-sided binomial test against the breach threshold derived from b)
    ("err significant jump", ERR_CONF, er(60, 1000), B_ERR, [], Outcome.FAIL, "6.0% > limit 2.0%"),
    (
        "err significant breach",
        {**ERR_CONF, "max": None},
        er(60, 1000),
        B_ERR,
        [],
        Outcome.FAIL,
        "binomial p=1.5e-35 < 0.05",
    ),
    (
        "err small significant breach",
        ERR_CONF,
        er(20, 1000),
        B_ERR,
        [],
        Outcome.FAIL,
        "binomial p=4.1e-05 < 0.05",
    ),
    # 0.9 % is above the 0.7 % breach threshold, but 1,000 requests do not show that the true rate is
    (
        "err small breach not yet significant",
        ERR_CONF,
        er(9, 1000),
        B_ERR,
        [],
        Outcome.PASS,
        "but not significant (binomial p=0.27 >= 0.05)",
    ),
    (
        "err insignificant bump at low traffic",
        ERR_CONF,
        er(2, 150),
        B_ERR,
        [],
        Outcome.PASS,
        "but not significant (binomial p=0.28 >= 0.05)",
    ),
    # 1 error in 10 requests vs 0.4 %: tested against the breach threshold max(0.4% x 1.5, 0.4% + 0.3pp)
    # = 0.7 %, p = 1 - 0.993^10 = 0.068: no evidence at 95 % confidence
    (
        "err one in ten is no evidence",
        {**ERR_CONF, "max": None, "min_requests": 0},
        er(1, 10),
        B_ERR,
        [],
        Outcome.PASS,
        "not significant (binomial p=0.068 >= 0.05)",
    ),
    # a clean baseline is tested against its 95 % upper bound ~3/20000: 1 error in 1000 is no evidence
    (
        "err zero baseline floor",
        {**ERR_CONF, "baseline": {"max_ratio": 1.5}},
        er(1, 1000),
        B_ZERO,
        [],
        Outcome.PASS,
        "above a zero baseline (max_ratio 1.5), but not significant",
    ),
    (
        "err zero baseline real jump",
        {**ERR_CONF, "baseline": {"max_ratio": 1.5}},
        er(5, 1000),
        B_ZERO,
        [],
        Outcome.FAIL,
        "above a zero baseline",
    ),
    # latency
    ("lat over max", LAT, v(0.92), B_LAT, [], Outcome.FAIL, "p99 0.92 > limit 0.8"),
    (
        "lat ratio breach",
        LAT,
        v(0.7),
        B_LAT,
        [],
        Outcome.FAIL,
        "p99 0.7 vs baseline median 0.5: ratio 1.4 > 1.3",
    ),
    ("lat within ratio", LAT, v(0.6), B_LAT, [], Outcome.PASS, "ratio 1.2 <= 1.3"),
    ("lat no data", LAT, v(None), B_LAT, [], Outcome.INCONCLUSIVE, "no data"),
    ("lat no baseline", LAT, v(0.7), None, [], Outcome.PASS, "no baseline: only absolute limits applied"),
    (
        "lat mw too few samples",
        LAT_MW,
        v(0.7),
        B_LAT,
        [0.71],
        Outcome.PASS,
        "only 2 samples (< 3): Mann-Whitney comparison not applied",
    ),
    (
        "lat mw shift caught",
        LAT_MW,
        v(0.7),
        B_LAT,
        [0.69, 0.72],
        Outcome.FAIL,
        "p99 median 0.7 of 3 samples vs baseline 0.5: shift +40% (min_effect 10%), Mann-Whitney p=",
    ),
    (
        "lat mw noise not caught",
        LAT_MW,
        v(0.7),
        B_LAT,
        [0.49, 0.51, 0.50, 0.48],
        Outcome.PASS,
        "not a significant shift",
    ),
    (
        "lat mw shift too small",
        {**LAT_MW, "min_effect": 0.5},
        v(0.7),
        B_LAT,
        [0.69, 0.72, 0.7],
        Outcome.PASS,
        "shift +40% (min_effect 50%)",
    ),
    ("lat mw cheap path", LAT_MW, v(0.55), B_LAT, [0.9, 0.9, 0.9], Outcome.PASS, "ratio 1.1 <= 1.3"),
    # metric
    ("metric over max", MET, v(12000), None, [], Outcome.FAIL, "lag 12000 > max 10000"),
    ("metric under min", MET, v(0), None, [], Outcome.FAIL, "lag 0 < min 1"),
    ("metric within", MET, v(50), None, [], Outcome.PASS, "lag 50 within limits"),
    (
        "metric baseline breach",
        MET_BASE,
        v(260),
        B_MET,
        [],
        Outcome.FAIL,
        "lag 260 vs baseline mean 100: ratio 2.6 > 2 and increase 160 > 50",
    ),
    (
        "metric ratio not increase",
        {**MET_BASE, "baseline": {"max_ratio": 1.2, "max_increase": 50}},
        v(130),
        B_MET,
        [],
        Outcome.PASS,
        "ratio 1.3 > 1.2 and increase 30 <= 50",
    ),
    (
        "metric no baseline",
        MET_BASE,
        v(260),
        None,
        [],
        Outcome.PASS,
        "no baseline: only absolute limits applied",
    ),
]


@pytest.mark.parametrize(
    ("check", "measurement", "baseline", "history", "outcome", "reason"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_rule(
    check: dict[str, Any],
    measurement: Measurement,
    baseline: Baseline | None,
    history: list[float],
    outcome: Outcome,
    reason: str,
) -> None:
    c = _CHECK.validate_python(check)
    reading = judge(c, measurement, stats=prepare(c, baseline), history=history)
    assert (reading.outcome, reason in reading.reason) == (outcome, True), reading.reason


def test_observed_value_for_warmup_samples() -> None:
    c = _CHECK.validate_python(ERR)
    assert observed_value(c, er(5, 1000)) == pytest.approx(0.005)
    assert observed_value(c, er(None, 1000)) is None
    assert observed_value(_CHECK.validate_python(LAT), v(0.3)) == 0.3
    assert observed_value(_CHECK.validate_python(HTTP), m(up=0.0)) == 0.0


def test_prepare_aggregates_once() -> None:
    c = _CHECK.validate_python(ERR_BASE)
    stats = prepare(c, Baseline({"errors": [2.0, 6.0], "requests": [1000.0, 1000.0]}))
    assert stats is not None and stats.center == pytest.approx(0.004) and stats.requests == 2000
    assert prepare(_CHECK.validate_python(LAT), Baseline({"value": []})) is None
    lat = prepare(_CHECK.validate_python(LAT), B_LAT)
    assert lat is not None and lat.center == pytest.approx(0.5)
