"""The running test of a latency (log values) or metric check against its comparison, keeping min_effect.

Against before: standardised by the baseline's spread and autocorrelation. Against a control: a t-test of
the differences, whose spread (the canary's own noise) the baseline cannot show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from watchdog.analysis.dispersion import DiffAutocorrelation
from watchdog.analysis.models import Measurement
from watchdog.analysis.noise import LevelNoise
from watchdog.analysis.pairing import Pairing
from watchdog.analysis.sequential import GaussianMixtureEProcess, Step, level
from watchdog.analysis.tmixture import TMixtureEProcess
from watchdog.policy.checks import LatencyCheck, MetricCheck

TAU = 0.7  # prior scale of the per-sample effect, in baseline standard deviations


@dataclass(frozen=True)
class _Tolerance:
    ratio: float  # the value may be this many times the comparison (max_ratio, 1 + min_effect)
    increase: float  # or this much above it (max_increase), in the query's unit


class ValueEvidence:
    """Gaussian-mixture e-processes on (value - edge of tolerance of its slice of before) / spread, and
    t-mixtures on (value - edge of tolerance of the control's value in the same sample).

    The comparison of a sample is the control measured with it, or else its own slice of the fixed baseline
    (pairing.py): block means of disjoint baseline slices, so the baseline's sampling error is inside every
    increment's variance instead of a bias that grows with the window.
    """

    def __init__(
        self,
        *,
        check: LatencyCheck | MetricCheck,
        base: list[float],
        noise: LevelNoise,
        tol: _Tolerance,
        alpha: float,
        control: bool,
        label: str,
        log: bool,
        judged: int,
    ) -> None:
        self.check, self.noise, self.tol, self.log, self.label = check, noise, tol, log, label
        self.alpha, self.control, self.base = alpha, control, base
        self.pairing = Pairing(points=len(base), judged=judged)
        self.up = GaussianMixtureEProcess(lrv=noise.lrv, tau=TAU)
        self.down = GaussianMixtureEProcess(lrv=noise.lrv, tau=TAU, below=True)
        # Against a control the spread is the canary's own: a t-test, which needs no estimate of it. (Scaled
        # by the baseline's spread, a canary with 30% noise of its own per sample failed 15-17% exactly at
        # the edge.) It and the Gaussian test of the samples that fell back to before see disjoint,
        # independent samples: an e-process each, so their product is one too.
        self.t_up = TMixtureEProcess()
        self.t_down = TMixtureEProcess(below=True)
        self.values: list[float] = []
        self.ctl_values: list[float] = []
        self.ref_values: list[float] = []
        self._pending: list[float] = []
        self.fallbacks = 0
        self.diff_ac = DiffAutocorrelation()  # the differences' autocorrelation, for the t-test's steps

    @classmethod
    def build(
        cls,
        check: LatencyCheck | MetricCheck,
        *,
        values: Sequence[float],
        noise: LevelNoise | None,
        alpha: float,
        control: bool,
        label: str,
        log: bool,
        judged: int,
    ) -> ValueEvidence | None:
        limits = check.baseline
        ratio = limits.max_ratio if limits is not None and limits.max_ratio is not None else 1.0
        if check.min_effect is not None:
            ratio = max(ratio, 1.0 + check.min_effect)
        inc = limits.max_increase if limits is not None and limits.max_increase is not None else 0.0
        has_limit = ratio > 1.0 or inc > 0.0
        if noise is None or not (has_limit or isinstance(check, LatencyCheck)):
            return None
        base = [math.log(max(v, 1e-12)) if log else v for v in values if math.isfinite(v)]
        return cls(
            check=check,
            base=base,
            noise=noise,
            tol=_Tolerance(ratio, inc),
            alpha=alpha,
            control=control,
            label=label,
            log=log,
            judged=judged,
        )

    def _edge(self, comparison: float) -> float:
        """The highest value within tolerance of `comparison` (both in the test's scale)."""
        if self.log:
            b = math.exp(comparison)
            return math.log(max(b * self.tol.ratio, b + self.tol.increase))
        return max(comparison + abs(comparison) * (self.tol.ratio - 1.0), comparison + self.tol.increase)

    def _x(self, v: float) -> float:
        return math.log(max(v, 1e-12)) if self.log else v

    def _back(self, x: float) -> float:
        return math.exp(x) if self.log else x

    def _add(self, z: float) -> None:
        self.up.add(z, lrv=self.noise.lrv)
        self.down.add(z, lrv=self.noise.lrv)

    def _add_control(self, y: float, lrv: float) -> None:
        self.t_up.add(y, lrv=lrv)
        self.t_down.add(y, lrv=lrv)

    def step(self, m: Measurement, *, position: int) -> Step:
        """What one sample adds: conclusive when it has a value."""
        v = m.values.get("value")
        ok = m.error is None and v is not None and math.isfinite(v)
        note = ""
        if ok:
            assert v is not None
            x = self._x(v)
            self.values.append(x)
            c = m.values.get("control_value") if self.control else None
            if c is not None and math.isfinite(c):
                cx = self._x(c)
                self.ctl_values.append(cx)
                # shared drift and noise cancel in the difference; its autocorrelation is learnt from it
                self._add_control(x - self._edge(cx), self.diff_ac.lrv())
                self.diff_ac.add(x - cx)
            else:
                if self.control:
                    note = "control had no data: compared with before; "
                    self.fallbacks += 1
                self._pending.append(x)
        self._close(position)
        if not ok:
            reason = "no data" if m.error is None else f"source error: {m.error}"
            return Step(False, False, False, reason, self._log_up(), level(self.alpha))
        crossed, within, reason, log_e = self._read()
        return Step(True, crossed, within, note + reason, log_e, level(self.alpha))

    def _close(self, position: int) -> None:
        g = self.pairing.closes(position)
        if g is None:
            return
        new, self._pending = self._pending, []
        ref = self.base[g.start : g.end]
        if not new or not ref:
            return
        self.ref_values.extend(ref)
        mean_new, mean_ref = sum(new) / len(new), sum(ref) / len(ref)
        spread = self.noise.sd * math.sqrt(1.0 / len(new) + 1.0 / len(ref))
        self._add((mean_new - self._edge(mean_ref)) / spread)

    def _log_up(self) -> float:
        return self.up.log_e() + self.t_up.log_e()

    def _read(self) -> tuple[bool, bool, str, float]:
        need = level(self.alpha)
        log_e = self._log_up()
        crossed, within = log_e >= need, self.down.log_e() + self.t_down.log_e() >= need
        now = _median([self._back(x) for x in self.values])
        refs = self.ctl_values if self.control and self.ctl_values else self.ref_values
        what = "control" if self.control and self.ctl_values else self.label
        if self.control and self.fallbacks:
            what += f" ({self.fallbacks} samples compared with before)"
        ref = _median([self._back(x) for x in refs]) if refs else self._back(self.noise.mean)
        verdict = "FAIL: over tolerance" if crossed else ("within tolerance" if within else "not yet decided")
        text = (
            f"{self.check.name} median {_num(now)} over {len(self.values)} samples vs {what} median "
            f"{_num(ref)}, tolerance {self._tol_text()}; evidence {_e(log_e)} (level {_e(need)} for "
            f"confidence {1 - self.alpha:.3g}; spread {self.noise.sd:.3g}{' log' if self.log else ''}, "
            f"autocorrelation x{self.noise.lrv:.2g}); {verdict}"
        )
        return crossed, within, text, log_e

    def _tol_text(self) -> str:
        out = []
        if self.tol.ratio > 1.0:
            out.append(f"x{self.tol.ratio:g}")
        if self.tol.increase > 0:
            out.append(f"+{_num(self.tol.increase)}")
        return " or ".join(out) or "none"

    def lacks(self, *, elapsed: float) -> str:
        return f"needs more samples: {len(self.values)} judged in {elapsed:g}s did not settle it"


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    if n == 0:
        return math.nan
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0


def _num(x: float) -> str:
    return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def _e(log_e: float) -> str:
    if log_e > 700:
        return "> 1e300"
    e = math.exp(log_e)
    return f"{e:.3g}" if e < 1e4 else f"{e:.2e}"
