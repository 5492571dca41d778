"""One running test per statistical check: every judged sample adds to it; it fails the check once it crosses.

Error counts: the binomial (against a baseline bound) or conditional-binomial (against a control) e-process;
latency and metrics a Gaussian mixture on standardised values. Each reason names the numbers behind it.
"""

from __future__ import annotations

import math

from watchdog.analysis.dispersion import SplitDispersion
from watchdog.analysis.models import Baseline, Measurement
from watchdog.analysis.noise import CountNoise, count_noise, level_noise
from watchdog.analysis.pairing import Pairing, slice_sum
from watchdog.analysis.sequential import ControlEProcess, RateEProcess, Step, level
from watchdog.analysis.valuetest import ValueEvidence
from watchdog.policy.checks import BaselineLimits, ErrorRateCheck, LatencyCheck, MetricCheck

# The share of a check's alpha spent on bounding the finite baseline (its rate or level could be a little
# worse than measured); the rest goes to the sequential test. A union bound keeps the sum honest.
BASELINE_SHARE = 0.25


def threshold(b: float, limits: BaselineLimits) -> float:
    """The error proportion above which every given baseline limit is exceeded (the edge of tolerance)."""
    edge = [b]
    if limits.max_ratio is not None:
        edge.append(b * limits.max_ratio)
    if limits.max_increase is not None:
        edge.append(b + limits.max_increase)
    return min(max(edge), 1.0 - 1e-9)


def increase_cap(d: float, r: float) -> float:
    """The highest rate at which an increase of `d` alone can keep a deploy within tolerance, where the
    ratio test is at `r`: d x r / (r - 1) (1 when r <= 1: no cap).

    The increase test only has to be right where the ratio test is wrong, i.e. where the new rate p is
    above r x b yet at most b + d. Then b < p / r, so p < p / r + d, so p < d x r / (r - 1), whatever the
    comparison's b is. Testing the rate against a bound no lower than this stays valid (the intersection
    of the two tests still errs only where one of its nulls holds) and needs no baseline.
    """
    return min(d * r / (r - 1.0), 1.0 - 1e-9) if r > 1.0 else 1.0


def fmt_e(log_e: float) -> str:
    if log_e > 700:
        return "> 1e300"
    e = math.exp(log_e)
    return f"{e:.3g}" if e < 1e4 else f"{e:.2e}"


def pct(x: float) -> str:
    p = x * 100.0
    return f"{p:.2g}%" if 0 < abs(p) < 0.1 else f"{p:.2f}%" if abs(p) < 10 else f"{p:.1f}%"


class ErrorEvidence:
    """error_rate with `confidence`: the pooled test(s) of the check, fed one sample at a time.

    max_ratio: conditional binomial of each sample against the control measured with it, or else against its
    own slice of the fixed baseline (pairing.py). max_increase: the pooled rate against the baseline's upper
    bound plus the increase. With both limits both tests must cross (a breach exceeds every limit), each at
    the check's full level: an intersection-union test keeps the false-fail probability at alpha.
    """

    def __init__(
        self,
        check: ErrorRateCheck,
        *,
        before: Baseline | None,
        alpha: float,
        control: bool,
        label: str,
        judged: int,
    ) -> None:
        assert check.baseline is not None
        self.check, self.limits, self.alpha, self.label = check, check.baseline, alpha, label
        self.control = control
        self.noise = _noise(before)
        self.base_e: list[float] = []
        self.base_r: list[float] = []
        if before is not None and self.noise is not None:
            pairs = zip(before.values.get("errors") or (), before.values.get("requests") or (), strict=False)
            for e, r in pairs:
                if r > 0 and e >= 0:
                    self.base_e.append(e)
                    self.base_r.append(r)
        self.pairing = Pairing(points=len(self.base_r), judged=judged)
        deflate = self.noise.deflate if self.noise is not None else 1.0
        self.rho0 = self.limits.max_ratio or 1.0
        # With a control and max_increase alone, a rate p within tolerance (p <= c + d) that is above k x the
        # control's c is below d x k / (k - 1), for any k > 1: the ratio test at k and the rate test against
        # that bound, both crossing, are a valid test of the increase. k is the ratio the increase allows at
        # the baseline's rate (fixed before the window, so the choice costs no validity), 2 without one.
        self.split_k: float | None = None
        if control and self.limits.max_ratio is None and self.limits.max_increase is not None:
            base_rate = self.noise.rate if self.noise is not None else 0.0
            k = 1.0 + self.limits.max_increase / base_rate if base_rate > 0 else 2.0
            self.split_k = self.rho0 = min(max(k, 1.001), 1000.0)
        self.ratio = ControlEProcess(rho0=self.rho0, deflate=deflate)
        self.ratio_down = ControlEProcess(rho0=self.rho0, deflate=deflate, below=True)
        self.inc: RateEProcess | None = None
        self.inc_down: RateEProcess | None = None
        self.a_inc = alpha * (1.0 - BASELINE_SHARE)
        d = self.limits.max_increase
        if d is not None and self.noise is not None and not control:
            a_base = alpha * BASELINE_SHARE
            # the baseline's bound plus d, or the cap where that is lower: a thin baseline is not paid twice
            up = min(self.noise.rate_upper(a_base) + d, 1.0 - 1e-9, increase_cap(d, self.rho0))
            low = self.noise.rate_lower(a_base) + d
            self.inc = RateEProcess(p0=up, deflate=deflate)
            self.inc_down = RateEProcess(p0=low, deflate=deflate, below=True)
        elif d is not None and control and increase_cap(d, self.rho0) < 1.0:
            # Against a control the ratio test answers for every rate above the cap, and the cap needs no
            # baseline: the increase test is the pooled rate against it, at the check's whole level. (The
            # estimate alone, compared with the increase, failed 27-85% of deploys exactly at +max_increase.)
            self.inc = RateEProcess(p0=increase_cap(d, self.rho0), deflate=deflate)
            self.a_inc = alpha
            if self.split_k is not None:  # a rate shown below d is within tolerance whatever the control's
                self.inc_down = RateEProcess(p0=min(d, 1.0 - 1e-9), deflate=deflate, below=True)
        self._pending = [0.0, 0.0]
        # The split's own dispersion is not the baseline's: shocks both versions share cancel in it, so it
        # starts from a canary's own wander (dispersion.py) and is learnt from the pairs.
        self.split = SplitDispersion()
        self.slices_used = 0
        self.pooled_errors = 0.0
        self.pooled_requests = 0.0
        self.fallbacks = 0

    @property
    def usable(self) -> bool:
        return self.control or self.noise is not None

    def step(self, m: Measurement, *, position: int) -> Step:
        errors, requests = m.values.get("errors"), m.values.get("requests")
        data = m.error is None and errors is not None and requests is not None
        note = ""
        if data:
            assert errors is not None and requests is not None
            self.pooled_errors += max(errors, 0.0)
            self.pooled_requests += max(requests, 0.0)
            ce, cr = m.values.get("control_errors"), m.values.get("control_requests")
            if self.control and ce is not None and cr is not None and cr > 0:
                # shared shocks cancel in the split: temper by the dispersion of the pairs so far
                d = self.split.factor(max(errors, 0.0) + max(ce, 0.0))
                self.ratio.add(errors=errors, requests=requests, ctl_errors=ce, ctl_requests=cr, deflate=d)
                self.ratio_down.add(
                    errors=errors, requests=requests, ctl_errors=ce, ctl_requests=cr, deflate=d
                )
                self.split.add(errors, requests, ce, cr)
            else:
                if self.control:
                    self.fallbacks += 1
                    note = (
                        "control had no data: compared with before; "
                        if self.noise is not None
                        else "control had no data and there is no before baseline: no evidence added; "
                    )
                self._pending[0] += max(errors, 0.0)
                self._pending[1] += max(requests, 0.0)
            if self.inc is not None:
                self.inc.add(errors=errors, requests=requests)
            if self.inc_down is not None:
                self.inc_down.add(errors=errors, requests=requests)
        self._close(position)
        if not data:
            reason = "no data" if m.error is None else f"source error: {m.error}"
            return Step(False, False, False, reason, self._best(), level(self.alpha))
        assert requests is not None
        conclusive = requests > 0 and requests >= self.check.min_requests
        low = (
            ""
            if conclusive
            else f"{requests:g} requests < min_requests {self.check.min_requests:g} (pooled); "
        )
        crossed, within, text, log_e = self._read()
        verdict = "FAIL: over tolerance" if crossed else ("within tolerance" if within else "not yet decided")
        return Step(conclusive, crossed, within, f"{note}{low}{text}; {verdict}", log_e, level(self.alpha))

    def _close(self, position: int) -> None:
        """When `position` closes a baseline group, the pending fallback counts meet their baseline slice."""
        g = self.pairing.closes(position)
        if g is None:
            return
        e, r = self._pending
        self._pending = [0.0, 0.0]
        if r <= 0:
            return  # the slice is spent unused: reusing it later would couple two pairs
        be, br = slice_sum(self.base_e, g), slice_sum(self.base_r, g)
        self.ratio.add(errors=e, requests=r, ctl_errors=be, ctl_requests=br)
        self.ratio_down.add(errors=e, requests=r, ctl_errors=be, ctl_requests=br)
        self.slices_used += 1

    def _best(self) -> float:
        return self.ratio.log_e()

    def _read(self) -> tuple[bool, bool, str, float]:
        need = level(self.alpha)
        lim = self.limits
        r = self.ratio
        rate = self.pooled_errors / self.pooled_requests if self.pooled_requests > 0 else 0.0
        ref_e, ref_r = r.ctl_errors, r.ctl_requests
        ref = ref_e / ref_r if ref_r > 0 else (self.noise.rate if self.noise is not None else 0.0)
        what = "control" if self.control and self.fallbacks == 0 else self.label
        if self.control and self.fallbacks:
            what = f"control ({self.fallbacks} samples compared with before)"
        log_r = r.log_e()
        where = (
            f"in the same {r.pairs} samples"
            if what == "control"
            else f"in {r.pairs} baseline slices paired with them"
        )
        parts = [
            f"error rate {pct(rate)} ({self.pooled_errors:,.0f}/{self.pooled_requests:,.0f}) vs {what} "
            f"{pct(ref)} ({ref_e:,.0f}/{ref_r:,.0f} {where})"
        ]
        ratio_hit = log_r >= need
        ratio_within = self.ratio_down.log_e() >= level(self.alpha / self._limits())
        tol = []
        if lim.max_ratio is not None:
            tol.append(f"x{lim.max_ratio:g}")
        if lim.max_increase is not None:
            tol.append(f"+{pct(lim.max_increase)}")
        parts.append(f"tolerance {' and '.join(tol)}")
        crossed, within, best = True, False, log_r
        if lim.max_ratio is not None or self.control:
            crossed = ratio_hit
            # a split below k x the control's says nothing of the increase: only the rate test can say within
            within = ratio_within and self.split_k is None
            against = ""
            if self.split_k is not None:
                derived = self.noise is not None and self.noise.rate > 0
                why = (
                    "the ratio the increase allows at the baseline's rate"
                    if derived
                    else "no baseline to derive it"
                )
                against = f" against x{self.split_k:.3g} ({why})"
            parts.append(f"ratio evidence {fmt_e(log_r)}{against}")
        if lim.max_increase is not None:
            if self.inc is not None:
                log_i = self.inc.log_e()
                crossed = crossed and log_i >= level(self.a_inc)
                if self.inc_down is not None:
                    within = within or self.inc_down.log_e() >= level(self.a_inc / self._limits())
                best = log_i if lim.max_ratio is None and self.split_k is None else min(best, log_i)
                need_i = fmt_e(level(self.a_inc))
                parts.append(f"increase evidence {fmt_e(log_i)} against {pct(self.inc.p0)} (level {need_i})")
            else:
                crossed = False
        parts.append(f"level {fmt_e(need)} for confidence {1 - self.alpha:.3g}")
        if self.check.min_requests > 0 and not crossed and not within:
            parts.append(f"pooled {self.pooled_requests:,.0f} requests")
        return crossed, within, ", ".join(parts), best

    def _limits(self) -> int:
        return int(self.limits.max_ratio is not None) + int(self.limits.max_increase is not None) or 1

    def lacks(self, *, elapsed: float, short_requests: float = 0.0) -> str:
        """For an inconclusive end: roughly how much more traffic would have settled it."""
        n, x = self.pooled_requests, self.pooled_errors
        rate = n / elapsed if elapsed > 0 else 0.0
        if short_requests > 0:
            when = f", about {_duration(short_requests / rate)} at the current rate" if rate > 0 else ""
            return f"needs about {short_requests:,.0f} more requests for min_conclusive{when}"
        r = self.ratio
        base = (
            r.ctl_errors / r.ctl_requests if r.ctl_requests > 0 else (self.noise.rate if self.noise else 0.0)
        )
        p0 = threshold(max(base, 1.0 / max(r.ctl_requests, 1.0)), self.limits)
        need = level(self.alpha)
        p = max(x / n if n > 0 else 0.0, 1e-12)
        kl = _kl(p, p0) if p > p0 else _kl(p0 * 0.5, p0)  # settle either way: at least half the edge
        total = r.deflate * need / max(kl, 1e-15)
        more = max(total - n, 0.0)
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
    check: ErrorRateCheck | LatencyCheck | MetricCheck,
    *,
    baseline: Baseline | None,
    alpha: float,
    judged: int,
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
        ev = ErrorEvidence(check, before=baseline, alpha=alpha, control=control, label=label, judged=judged)
        return ev if ev.usable else None
    values = None if baseline is None else baseline.values.get("value")
    log = isinstance(check, LatencyCheck)
    noise = None if not values else level_noise([_tx(v, log) for v in values])
    return ValueEvidence.build(
        check,
        values=values or [],
        noise=noise,
        alpha=alpha,
        control=control,
        label=label,
        log=log,
        judged=judged,
    )


def _tx(v: float, log: bool) -> float:
    return math.log(max(v, 1e-12)) if log else v
