"""One running test per statistical check: every judged sample adds to it; it fails the check once it crosses.

Error counts: the binomial (against a baseline bound) or conditional-binomial (against a control) e-process;
latency and metrics a Gaussian mixture on standardised values. Each reason names the numbers behind it.
"""

from __future__ import annotations

import math

from watchdog.analysis.models import Baseline, Measurement
from watchdog.analysis.noise import CountNoise, count_noise, level_noise
from watchdog.analysis.sequential import ControlEProcess, RateEProcess, Step, level
from watchdog.analysis.valuetest import ValueEvidence
from watchdog.policy.checks import BaselineLimits, ErrorRateCheck, LatencyCheck, MetricCheck

# The share of a check's alpha spent on bounding the finite baseline (its rate or level could be a little
# worse than measured); the rest goes to the sequential test. A union bound keeps the sum honest.
BASELINE_SHARE = 0.25
# With compare_to: control, samples whose control had no data are compared with `before` in a second test.
FALLBACK_SHARE = 0.2


def threshold(b: float, limits: BaselineLimits) -> float:
    """The error proportion above which every given baseline limit is exceeded (the edge of tolerance)."""
    edge = [b]
    if limits.max_ratio is not None:
        edge.append(b * limits.max_ratio)
    if limits.max_increase is not None:
        edge.append(b + limits.max_increase)
    return min(max(edge), 1.0 - 1e-9)


def fmt_e(log_e: float) -> str:
    if log_e > 700:
        return "> 1e300"
    e = math.exp(log_e)
    return f"{e:.3g}" if e < 1e4 else f"{e:.2e}"


def pct(x: float) -> str:
    p = x * 100.0
    return f"{p:.2g}%" if 0 < abs(p) < 0.1 else f"{p:.2f}%" if abs(p) < 10 else f"{p:.1f}%"


class _FixedRate:
    """Pooled counts against a fixed comparison (before or last_week): H0 p <= threshold(baseline bound)."""

    def __init__(self, *, noise: CountNoise, limits: BaselineLimits, alpha: float, label: str) -> None:
        a_base = alpha * BASELINE_SHARE
        self.alpha = alpha - a_base
        self.noise, self.label = noise, label
        self.p0 = threshold(noise.rate_upper(a_base), limits)
        self.p_low = threshold(noise.rate_lower(a_base), limits)
        self.up = RateEProcess(p0=self.p0, deflate=noise.deflate)
        self.down = RateEProcess(p0=self.p_low, deflate=noise.deflate, below=True)

    def add(self, errors: float, requests: float) -> None:
        self.up.add(errors=errors, requests=requests)
        self.down.add(errors=errors, requests=requests)

    def text(self) -> str:
        n = self.noise
        x, r = self.up.errors, self.up.requests
        rate = x / r if r > 0 else 0.0
        return (
            f"error rate {pct(rate)} ({x:,.0f}/{r:,.0f} pooled) vs {self.label} {pct(n.rate)} "
            f"({n.errors:,.0f}/{n.requests:,.0f}), tolerance edge {pct(self.p0)} with the baseline's "
            f"uncertainty; noise x{n.deflate:.2g}"
        )


class ErrorEvidence:
    """error_rate with `confidence`: the pooled test(s) of the check, fed one sample at a time."""

    def __init__(
        self, check: ErrorRateCheck, *, before: Baseline | None, alpha: float, control: bool, label: str
    ) -> None:
        assert check.baseline is not None
        self.check, self.limits, self.alpha = check, check.baseline, alpha
        self.noise = _noise(before)
        self.control: ControlEProcess | None = None
        self.ctl_down: ControlEProcess | None = None
        self.fixed: _FixedRate | None = None
        self.a_control = alpha
        rho0 = self.limits.max_ratio or 1.0
        deflate = self.noise.deflate if self.noise is not None else 1.0
        if control:
            has_fallback = self.noise is not None
            self.a_control = alpha * (1.0 - FALLBACK_SHARE) if has_fallback else alpha
            self.control = ControlEProcess(rho0=rho0, deflate=deflate)
            self.ctl_down = ControlEProcess(rho0=rho0, deflate=deflate, below=True)
            if self.noise is not None:
                self.fixed = _FixedRate(
                    noise=self.noise,
                    limits=self.limits,
                    alpha=alpha - self.a_control,
                    label="before (control had no data)",
                )
        elif self.noise is not None:
            self.fixed = _FixedRate(noise=self.noise, limits=self.limits, alpha=alpha, label=label)
        self.samples = 0
        self.elapsed_requests = 0.0

    @property
    def pooled_requests(self) -> float:
        total = 0.0
        if self.control is not None:
            total += self.control.new_requests
        if self.fixed is not None:
            total += self.fixed.up.requests
        return total

    @property
    def usable(self) -> bool:
        return self.control is not None or self.fixed is not None

    def step(self, m: Measurement) -> Step:
        errors, requests = m.values.get("errors"), m.values.get("requests")
        if m.error is not None or errors is None or requests is None:
            return Step(False, False, False, "no data" if m.error is None else f"source error: {m.error}")
        conclusive = requests > 0 and requests >= self.check.min_requests
        ce, cr = m.values.get("control_errors"), m.values.get("control_requests")
        note = ""
        if self.control is not None and ce is not None and cr is not None and cr > 0:
            assert self.ctl_down is not None
            self.control.add(errors=errors, requests=requests, ctl_errors=ce, ctl_requests=cr)
            self.ctl_down.add(errors=errors, requests=requests, ctl_errors=ce, ctl_requests=cr)
        elif self.fixed is not None:
            self.fixed.add(errors, requests)
            if self.control is not None:
                note = "control had no data: compared with before; "
        elif self.control is not None:
            note = "control had no data and there is no before baseline: this sample adds no evidence; "
        self.samples += 1
        low = (
            ""
            if conclusive
            else f"{requests:g} requests < min_requests {self.check.min_requests:g} (pooled); "
        )
        crossed, within, text, log_e, need = self._read()
        verdict = "FAIL: over tolerance" if crossed else ("within tolerance" if within else "not yet decided")
        return Step(conclusive, crossed, within, f"{note}{low}{text}; {verdict}", log_e, need)

    def _read(self) -> tuple[bool, bool, str, float, float]:
        parts, crossed, best, need = [], False, -math.inf, level(self.alpha)
        within_all = True
        if self.control is not None and self.ctl_down is not None:
            c = self.control
            need_c = level(self.a_control)
            log_e = c.log_e()
            rate_n = c.new_errors / c.new_requests if c.new_requests else 0.0
            rate_c = c.ctl_errors / c.ctl_requests if c.ctl_requests else 0.0
            inc_ok = self.limits.max_increase is None or rate_n - rate_c > self.limits.max_increase
            hit = log_e >= need_c and inc_ok
            crossed |= hit
            within_all &= self.ctl_down.log_e() >= need_c
            best, need = max(best, log_e), need_c
            parts.append(
                f"error rate {pct(rate_n)} ({c.new_errors:,.0f}/{c.new_requests:,.0f}) vs control "
                f"{pct(rate_c)} ({c.ctl_errors:,.0f}/{c.ctl_requests:,.0f}), tolerance x{c.rho0:g}"
                + ("" if self.limits.max_increase is None else f" and +{pct(self.limits.max_increase)}")
                + f"; evidence {fmt_e(log_e)} (needs {fmt_e(need_c)} for {1 - self.a_control:.3g})"
            )
        if self.fixed is not None and (self.control is None or self.fixed.up.requests > 0):
            f = self.fixed
            log_e = f.up.log_e()
            need_f = level(f.alpha)
            crossed |= log_e >= need_f
            within_all &= f.down.log_e() >= need_f
            if log_e > best:
                best, need = log_e, need_f
            parts.append(f"{f.text()}; evidence {fmt_e(log_e)} (needs {fmt_e(need_f)} for {1 - f.alpha:.3g})")
        return crossed, within_all, "; ".join(parts), best, need

    def lacks(self, *, elapsed: float) -> str:
        """For an inconclusive end: roughly how much more traffic would have settled it."""
        up = self.fixed.up if self.fixed is not None and self.control is None else None
        c = self.control
        if up is not None:
            n, x, p0, d = up.requests, up.errors, up.p0, up.deflate
        elif c is not None and c.ctl_requests > 0:
            n, x, d = c.new_requests, c.new_errors, c.deflate
            p0 = c.rho0 * max(c.ctl_errors, 1.0) / c.ctl_requests
        else:
            return "no comparison to test against"
        need = level(self.alpha)
        p = max(x / n if n > 0 else 0.0, 1e-12)
        kl = _kl(p, p0) if p > p0 else _kl(p0 * 0.5, p0)  # settle either way: at least half the edge
        total = d * need / max(kl, 1e-15)
        more = max(total - n, 0.0)
        rate = n / elapsed if elapsed > 0 else 0.0
        when = f", about {_duration(more / rate)} at the current rate" if rate > 0 else ""
        return f"needs about {more:,.0f} more requests{when}"


def _kl(p: float, q: float) -> float:
    p, q = min(max(p, 1e-12), 1 - 1e-12), min(max(q, 1e-12), 1 - 1e-12)
    return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _noise(b: Baseline | None) -> CountNoise | None:
    if b is None:
        return None
    return count_noise(b.values.get("errors") or (), b.values.get("requests") or ())


def evidence_for(
    check: ErrorRateCheck | LatencyCheck | MetricCheck, *, baseline: Baseline | None, alpha: float
) -> ErrorEvidence | ValueEvidence | None:
    """The running test for a check with `confidence` and baseline limits; None when nothing can be tested."""
    limits = check.baseline
    control = limits is not None and limits.compare_to == "control" and check.control is not None
    label = "last week" if limits is not None and limits.compare_to == "last_week" else "before"
    if baseline is not None and "last week" not in baseline.origin and label == "last week":
        label = "before (last week's history missing)"
    if isinstance(check, ErrorRateCheck):
        if limits is None or (limits.max_ratio is None and limits.max_increase is None):
            return None
        ev = ErrorEvidence(check, before=baseline, alpha=alpha, control=control, label=label)
        return ev if ev.usable else None
    values = None if baseline is None else baseline.values.get("value")
    log = isinstance(check, LatencyCheck)
    noise = None if not values else level_noise([_tx(v, log) for v in values])
    ve = ValueEvidence.build(check, noise=noise, alpha=alpha, control=control, label=label, log=log)
    return ve


def _tx(v: float, log: bool) -> float:
    return math.log(max(v, 1e-12)) if log else v
