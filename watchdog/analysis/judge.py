"""The rules for one sample of one check: http, error_rate, latency and metric -> pass, fail or inconclusive.

Threshold comparisons exist only here; the Evaluator adds streaks and the verdict on top.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from watchdog.analysis.models import Baseline, Measurement, Outcome
from watchdog.analysis.stats import binomial_p, mann_whitney_p, mean, median, rate_floor
from watchdog.policy.checks import BaselineLimits, ErrorRateCheck, HttpCheck, LatencyCheck, MetricCheck

AnyCheck = HttpCheck | ErrorRateCheck | LatencyCheck | MetricCheck

NO_BASELINE = "no baseline: only absolute limits applied"
MIN_POST_SAMPLES = 3  # Mann-Whitney on fewer post-deploy samples than this cannot reach significance


@dataclass(frozen=True)
class Reading:
    """What the rules read in one sample: the outcome, why (words with numbers), and the judged value."""

    outcome: Outcome
    reason: str
    observed: float | None


@dataclass(frozen=True)
class BaselineStats:
    """A check's baseline reduced once to what the rules compare against."""

    center: float  # error_rate: sum(errors)/sum(requests); latency: median; metric: mean
    requests: float = 0.0  # error_rate: the baseline's request volume (sizes the zero-rate floor)
    values: tuple[float, ...] = ()  # latency: the raw values, for Mann-Whitney


def prepare(check: AnyCheck, baseline: Baseline | None) -> BaselineStats | None:
    """Aggregates a Baseline for `check`; None when there is nothing usable (no points, no requests)."""
    if baseline is None or isinstance(check, HttpCheck):
        return None
    if isinstance(check, ErrorRateCheck):
        errors = baseline.values.get("errors") or ()
        requests = baseline.values.get("requests") or ()
        pairs = [(e, r) for e, r in zip(errors, requests, strict=False) if _finite(e) and _finite(r)]
        total = math.fsum(r for _, r in pairs)
        if total <= 0:
            return None
        return BaselineStats(center=math.fsum(e for e, _ in pairs) / total, requests=total)
    values = tuple(v for v in baseline.values.get("value") or () if _finite(v))
    if not values:
        return None
    if isinstance(check, LatencyCheck):
        return BaselineStats(center=median(values), values=values)
    return BaselineStats(center=mean(values))


def observed_value(check: AnyCheck, m: Measurement) -> float | None:
    """The value a sample would be judged on (used for warm-up samples, which are kept but not judged)."""
    if m.error is not None:
        return None
    if isinstance(check, ErrorRateCheck):
        errors, requests = m.values.get("errors"), m.values.get("requests")
        if errors is None or requests is None or requests <= 0:
            return None
        return errors / requests
    return m.values.get("up" if isinstance(check, HttpCheck) else "value")


def judge(
    check: AnyCheck,
    m: Measurement,
    *,
    stats: BaselineStats | None,
    history: Sequence[float] = (),
    absolute_only: bool = False,
) -> Reading:
    """Judges one sample. `history` holds the check's earlier judged conclusive values (for Mann-Whitney).

    `absolute_only`: the check's baseline limits are judged by its running evidence instead (see evidence.py);
    only max/min apply here, and an error_rate `max` with `confidence` needs a significant excess.
    """
    if absolute_only and not isinstance(check, HttpCheck):
        return judge_absolute(check, m)
    if m.error is not None:
        return Reading(Outcome.INCONCLUSIVE, f"source error: {m.error}", None)
    if isinstance(check, HttpCheck):
        return _judge_http(m)
    if isinstance(check, ErrorRateCheck):
        return _judge_error_rate(check, m, stats)
    value = m.values.get("value")
    if value is None or not _finite(value):
        return Reading(Outcome.INCONCLUSIVE, "no data", None)
    if isinstance(check, LatencyCheck):
        return _judge_latency(check, value, stats, history)
    return _judge_metric(check, value, stats)


def judge_absolute(check: ErrorRateCheck | LatencyCheck | MetricCheck, m: Measurement) -> Reading:
    """Absolute limits only, for checks whose baseline comparison is sequential."""
    if m.error is not None:
        return Reading(Outcome.INCONCLUSIVE, f"source error: {m.error}", None)
    if isinstance(check, ErrorRateCheck):
        errors, requests = m.values.get("errors"), m.values.get("requests")
        if errors is None or requests is None:
            return Reading(Outcome.INCONCLUSIVE, "no data", None)
        if requests <= 0 or requests < check.min_requests:
            return Reading(
                Outcome.INCONCLUSIVE, f"{requests:g} requests < min_requests {check.min_requests:g}", None
            )
        r = errors / requests
        if check.max is None:
            return Reading(Outcome.PASS, f"error rate {_pct(r)}", r)
        if r <= check.max:
            return Reading(Outcome.PASS, f"error rate {_pct(r)} <= limit {_pct(check.max)}", r)
        if check.confidence is None:
            return Reading(Outcome.FAIL, f"error rate {_pct(r)} > limit {_pct(check.max)}", r)
        # Over the limit in this sample; a rollback needs the counts to be evidence that the rate is above it.
        p = binomial_p(errors=errors, requests=requests, p0=check.max)
        alpha = 1.0 - check.confidence
        text = f"error rate {_pct(r)} ({errors:g}/{requests:g}) > limit {_pct(check.max)}, binomial p={p:.2g}"
        if p < alpha:
            return Reading(Outcome.FAIL, f"{text} < {alpha:.2g}", r)
        return Reading(Outcome.PASS, f"{text} >= {alpha:.2g}: not significant", r)
    value = m.values.get("value")
    if value is None or not _finite(value):
        return Reading(Outcome.INCONCLUSIVE, "no data", None)
    name = check.name
    if check.max is not None and value > check.max:
        return Reading(Outcome.FAIL, f"{name} {_num(value)} > max {_num(check.max)}", value)
    low = getattr(check, "min", None)
    if low is not None and value < low:
        return Reading(Outcome.FAIL, f"{name} {_num(value)} < min {_num(low)}", value)
    return Reading(Outcome.PASS, f"{name} {_num(value)} within absolute limits", value)


def _judge_http(m: Measurement) -> Reading:
    up = m.values.get("up")
    if up is None:
        return Reading(Outcome.INCONCLUSIVE, "no data", None)
    if up >= 0.5:
        return Reading(Outcome.PASS, "probe ok", 1.0)
    return Reading(Outcome.FAIL, f"probe failed: {m.note}" if m.note else "probe failed", 0.0)


def _breach_threshold(b: float, limits: BaselineLimits) -> float:
    """The error proportion above which every given baseline limit is exceeded."""
    candidates = [b]
    if limits.max_ratio is not None:
        candidates.append(b * limits.max_ratio)
    if limits.max_increase is not None:
        candidates.append(b + limits.max_increase)
    return min(max(candidates), 1.0 - 1e-9)


def _judge_error_rate(check: ErrorRateCheck, m: Measurement, stats: BaselineStats | None) -> Reading:
    errors, requests = m.values.get("errors"), m.values.get("requests")
    if errors is None or requests is None:
        return Reading(Outcome.INCONCLUSIVE, "no data", None)
    if requests < check.min_requests:
        low = f"{requests:g} requests < min_requests {check.min_requests:g}"
        return Reading(Outcome.INCONCLUSIVE, low, None)
    if requests <= 0:
        return Reading(Outcome.INCONCLUSIVE, "0 requests: no error rate", None)
    r = errors / requests
    if check.max is not None and r > check.max:
        return Reading(Outcome.FAIL, f"error rate {_pct(r)} > limit {_pct(check.max)}", r)
    absolute = f"error rate {_pct(r)}" + ("" if check.max is None else f" <= limit {_pct(check.max)}")
    if not _has_limits(check.baseline):
        return Reading(Outcome.PASS, absolute, r)
    if stats is None:
        return Reading(Outcome.PASS, f"{absolute}; {NO_BASELINE}", r)
    assert check.baseline is not None
    b = stats.center
    breach, detail = _compare(r, b, check.baseline, _pct, unit="pp")
    text = f"error rate {_pct(r)} vs baseline {_pct(b)}: {detail}"
    if not breach or check.confidence is None:
        return Reading(Outcome.FAIL if breach else Outcome.PASS, text, r)
    # The cheap comparison found a breach; only now is the exact test worth its cost. The test asks whether
    # the true error proportion is above the breach threshold, not merely above the baseline: a rollback
    # needs evidence that the limit the SRE wrote is exceeded (1 error in 10 requests against 0.4% is not).
    p0 = _breach_threshold(b if b > 0 else rate_floor(stats.requests), check.baseline)
    p = binomial_p(errors=errors, requests=requests, p0=p0)
    alpha = 1.0 - check.confidence
    if p < alpha:
        return Reading(Outcome.FAIL, f"{text} (binomial p={p:.2g} < {alpha:.2g})", r)
    return Reading(Outcome.PASS, f"{text}, but not significant (binomial p={p:.2g} >= {alpha:.2g})", r)


def _judge_latency(
    check: LatencyCheck, v: float, stats: BaselineStats | None, history: Sequence[float]
) -> Reading:
    name = check.name
    if check.max is not None and v > check.max:
        return Reading(Outcome.FAIL, f"{name} {_num(v)} > limit {_num(check.max)}", v)
    absolute = f"{name} {_num(v)}" + ("" if check.max is None else f" <= limit {_num(check.max)}")
    statistical = check.min_effect is not None or check.confidence is not None
    if not _has_limits(check.baseline) and not statistical:
        return Reading(Outcome.PASS, absolute, v)
    if stats is None:
        return Reading(Outcome.PASS, f"{absolute}; {NO_BASELINE}", v)
    med = stats.center
    if _has_limits(check.baseline):
        assert check.baseline is not None
        breach, detail = _compare(v, med, check.baseline, _num, unit="")
    else:
        breach, detail = True, "no ratio limit"
    text = f"{name} {_num(v)} vs baseline median {_num(med)}: {detail}"
    if not breach or not statistical:
        return Reading(Outcome.FAIL if breach else Outcome.PASS, text, v)
    post = [*history, v]
    if len(post) < MIN_POST_SAMPLES:
        return Reading(
            Outcome.PASS,
            f"{text}; only {len(post)} samples (< {MIN_POST_SAMPLES}): Mann-Whitney comparison not applied",
            v,
        )
    p = mann_whitney_p(post=post, baseline=stats.values)
    post_med = median(post)
    shift = post_med / med - 1.0 if med > 0 else (math.inf if post_med > 0 else 0.0)
    alpha = 1.0 - (check.confidence if check.confidence is not None else 0.95)
    min_effect = check.min_effect if check.min_effect is not None else 0.0
    summary = (
        f"{name} median {_num(post_med)} of {len(post)} samples vs baseline {_num(med)}: "
        f"shift {shift:+.0%} (min_effect {min_effect:.0%}), Mann-Whitney p={p:.2g}"
    )
    if p < alpha and shift > min_effect:
        return Reading(Outcome.FAIL, f"{summary} < {alpha:.2g}", v)
    return Reading(Outcome.PASS, f"{summary}: not a significant shift", v)


def _judge_metric(check: MetricCheck, v: float, stats: BaselineStats | None) -> Reading:
    name = check.name
    if check.max is not None and v > check.max:
        return Reading(Outcome.FAIL, f"{name} {_num(v)} > max {_num(check.max)}", v)
    if check.min is not None and v < check.min:
        return Reading(Outcome.FAIL, f"{name} {_num(v)} < min {_num(check.min)}", v)
    if not _has_limits(check.baseline):
        return Reading(Outcome.PASS, f"{name} {_num(v)} within limits", v)
    if stats is None:
        return Reading(Outcome.PASS, f"{name} {_num(v)} within limits; {NO_BASELINE}", v)
    assert check.baseline is not None
    breach, detail = _compare(v, stats.center, check.baseline, _num, unit="")
    text = f"{name} {_num(v)} vs baseline mean {_num(stats.center)}: {detail}"
    return Reading(Outcome.FAIL if breach else Outcome.PASS, text, v)


def _compare(
    value: float, base: float, limits: BaselineLimits, fmt: Callable[[float], str], *, unit: str
) -> tuple[bool, str]:
    """Every given limit exceeded -> breach; the text shows each comparison with its numbers."""
    breach, parts = True, []
    if limits.max_ratio is not None:
        if base > 0:
            ratio = value / base
            over = ratio > limits.max_ratio
            parts.append(f"ratio {ratio:.3g} {'>' if over else '<='} {limits.max_ratio:g}")
        else:
            over = value > 0  # any value above a zero baseline exceeds every ratio
            parts.append(f"above a zero baseline (max_ratio {limits.max_ratio:g})" if over else "ratio 0")
        breach = breach and over
    if limits.max_increase is not None:
        increase = value - base
        over = increase > limits.max_increase
        inc, lim = fmt(increase), fmt(limits.max_increase)
        if unit:  # percentages read as percentage points when subtracted
            inc, lim = inc.replace("%", unit), lim.replace("%", unit)
        parts.append(f"increase {inc} {'>' if over else '<='} {lim}")
        breach = breach and over
    return breach, " and ".join(parts)


def _has_limits(limits: BaselineLimits | None) -> bool:
    return limits is not None and (limits.max_ratio is not None or limits.max_increase is not None)


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _pct(x: float) -> str:
    pct = x * 100.0
    return f"{pct:.2g}%" if 0 < abs(pct) < 0.1 else f"{pct:.1f}%"


def _num(x: float) -> str:
    # three significant digits for latencies and ratios, but whole numbers for counts such as queue lag
    return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.3g}"
