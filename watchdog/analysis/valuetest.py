"""The running test of a latency (log values) or metric check against its comparison, keeping min_effect.

Standardised by the baseline's spread and autocorrelation; the level of a `before` baseline is bounded first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from watchdog.analysis.models import Measurement
from watchdog.analysis.noise import LevelNoise
from watchdog.analysis.sequential import GaussianMixtureEProcess, Step, level
from watchdog.policy.checks import LatencyCheck, MetricCheck

BASELINE_SHARE = 0.25
FALLBACK_SHARE = 0.2
TAU = 0.7  # prior scale of the per-sample effect, in baseline standard deviations


@dataclass(frozen=True)
class _Tolerance:
    ratio: float  # the value may be this many times the comparison (max_ratio, 1 + min_effect)
    increase: float  # or this much above it (max_increase), in the query's unit


class ValueEvidence:
    """Gaussian-mixture e-processes on (value - comparison - tolerance) / spread."""

    def __init__(
        self,
        *,
        check: LatencyCheck | MetricCheck,
        noise: LevelNoise,
        tol: _Tolerance,
        alpha: float,
        control: bool,
        label: str,
        log: bool,
    ) -> None:
        self.check, self.noise, self.tol, self.log, self.label = check, noise, tol, log, label
        self.alpha = alpha
        self.control = control
        a_fixed = alpha * FALLBACK_SHARE if control else alpha
        self.a_control = alpha - a_fixed if control else 0.0
        a_base = a_fixed * BASELINE_SHARE
        self.a_fixed = a_fixed - a_base
        self.mu_up, self.mu_low = noise.mean_upper(a_base), noise.mean_lower(a_base)
        self.up = GaussianMixtureEProcess(lrv=noise.lrv, tau=TAU)
        self.down = GaussianMixtureEProcess(lrv=noise.lrv, tau=TAU, below=True)
        # the difference of two series with the baseline's spread has about sqrt(2) times that spread
        self.c_up = GaussianMixtureEProcess(lrv=noise.lrv, tau=TAU)
        self.c_down = GaussianMixtureEProcess(lrv=noise.lrv, tau=TAU, below=True)
        self.values: list[float] = []
        self.ctl_values: list[float] = []
        self.fallbacks = 0

    @classmethod
    def build(
        cls,
        check: LatencyCheck | MetricCheck,
        *,
        noise: LevelNoise | None,
        alpha: float,
        control: bool,
        label: str,
        log: bool,
    ) -> ValueEvidence | None:
        limits = check.baseline
        ratio = limits.max_ratio if limits is not None and limits.max_ratio is not None else 1.0
        if check.min_effect is not None:
            ratio = max(ratio, 1.0 + check.min_effect)
        inc = limits.max_increase if limits is not None and limits.max_increase is not None else 0.0
        has_limit = ratio > 1.0 or inc > 0.0
        if noise is None or not (has_limit or isinstance(check, LatencyCheck)):
            return None
        return cls(
            check=check,
            noise=noise,
            tol=_Tolerance(ratio, inc),
            alpha=alpha,
            control=control,
            label=label,
            log=log,
        )

    def _edge(self, comparison: float) -> float:
        """The highest value within tolerance of `comparison` (both in the test's scale)."""
        if self.log:
            base = math.exp(comparison)
            return math.log(max(base * self.tol.ratio, base + self.tol.increase))
        return max(comparison + abs(comparison) * (self.tol.ratio - 1.0), comparison + self.tol.increase)

    def _x(self, v: float) -> float:
        return math.log(max(v, 1e-12)) if self.log else v

    def _back(self, x: float) -> float:
        return math.exp(x) if self.log else x

    def step(self, m: Measurement) -> Step:
        """What one sample adds: conclusive when it has a value."""
        v = m.values.get("value")
        if m.error is not None or v is None or not math.isfinite(v):
            reason = "no data" if m.error is None else f"source error: {m.error}"
            return Step(False, False, False, reason, 0.0, level(self.alpha))
        x = self._x(v)
        self.values.append(x)
        sd = self.noise.sd
        c = m.values.get("control_value") if self.control else None
        note = ""
        if c is not None and math.isfinite(c):
            cx = self._x(c)
            self.ctl_values.append(cx)
            edge_c = self._edge(cx)
            self.c_up.add((x - edge_c) / (sd * math.sqrt(2.0)))
            self.c_down.add((x - edge_c) / (sd * math.sqrt(2.0)))
        else:
            if self.control:
                note = "control had no data: compared with before; "
                self.fallbacks += 1
            self.up.add((x - self._edge(self.mu_up)) / sd)
            self.down.add((x - self._edge(self.mu_low)) / sd)
        crossed, within, reason, log_e, need = self._read(note)
        return Step(True, crossed, within, reason, log_e, need)

    def _read(self, note: str) -> tuple[bool, bool, str, float, float]:
        name, fmt = self.check.name, _num
        now = _median([self._back(x) for x in self.values])
        parts: list[str] = []
        crossed, within, best, need = False, True, -math.inf, level(self.alpha)
        if self.control:
            need_c = level(self.a_control)
            log_e = self.c_up.log_e()
            ctl = _median([self._back(x) for x in self.ctl_values]) if self.ctl_values else math.nan
            crossed |= log_e >= need_c
            within &= self.c_down.log_e() >= need_c
            best, need = log_e, need_c
            parts.append(
                f"{name} median {fmt(now)} over {len(self.values)} samples vs control median {fmt(ctl)}, "
                f"tolerance {self._tol_text()}; evidence {_e(log_e)} (needs {_e(need_c)} "
                f"for {1 - self.a_control:.3g})"
            )
        if not self.control or self.up.n > 0:
            need_f = level(self.a_fixed)
            log_e = self.up.log_e()
            crossed |= log_e >= need_f
            within &= self.down.log_e() >= need_f
            if log_e > best:
                best, need = log_e, need_f
            parts.append(
                f"{name} median {fmt(now)} over {len(self.values)} samples vs {self.label} "
                f"{fmt(self._back(self.noise.mean))} (bound {fmt(self._back(self.mu_up))}, "
                f"{self.noise.points} points), tolerance {self._tol_text()}; evidence {_e(log_e)} "
                f"(needs {_e(need_f)} for {1 - self.a_fixed:.3g})"
            )
        verdict = "FAIL: over tolerance" if crossed else ("within tolerance" if within else "not yet decided")
        return crossed, within, f"{note}{'; '.join(parts)}; {verdict}", best, need

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
