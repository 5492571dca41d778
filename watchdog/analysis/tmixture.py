"""A scale-free e-process for the mean of differences whose spread nothing tells in advance (a t-test).

Against a control the differences' spread is the canary's own, which the baseline cannot show; this test
integrates the spread out instead of estimating it, so it stays at its level from the first sample on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from watchdog.analysis.sequential import _log_ndtr

# Alternatives for the effect in units of the differences' own sd (delta = mean / sd), equally weighted:
# from a quarter of an sd (a slow drift over a long window) to 8 (a step no one needs many samples for).
DELTAS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
_GRID = 241  # Simpson points for the one-dimensional integral (log error below 1e-7 from n = 2)


def log_integral(n: int, b: float) -> float:
    """log of the integral over u > 0 of u^(n-1) exp(-u^2 / 2 + b u), for n >= 1.

    The likelihood of n normal values integrated over their scale with the scale-invariant prior 1 / sigma
    comes to this with b = delta x S / sqrt(Q) (S their sum, Q their sum of squares). The integrand is
    log-concave with its peak at u* = (b + sqrt(b^2 + 4 (n - 1))) / 2; a grid of +-14 curvature widths
    around it (clipped at 0) holds all of its mass.
    """
    if n == 1:  # closed form: sqrt(2 pi) exp(b^2 / 2) Phi(b)
        return 0.5 * math.log(2.0 * math.pi) + 0.5 * b * b + _log_ndtr(b)
    import numpy as np  # lazy: the analysis package imports nothing heavy at start-up

    peak = (b + math.sqrt(b * b + 4.0 * (n - 1))) / 2.0
    width = 1.0 / math.sqrt(1.0 + (n - 1) / (peak * peak))
    lo, hi = max(peak - 14.0 * width, 0.0), peak + 14.0 * width
    u = np.linspace(lo, hi, _GRID)
    with np.errstate(divide="ignore"):
        f = (n - 1) * np.log(u) - 0.5 * u * u + b * u
    top = float(f.max())
    w = np.ones(_GRID)  # Simpson's rule: 1, 4, 2, 4, ..., 2, 4, 1 (an odd number of points)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return top + math.log(float(np.dot(w, np.exp(f - top))) * (hi - lo) / (_GRID - 1) / 3.0)


def _log_integral_at_zero(n: int) -> float:
    return (n / 2.0 - 1.0) * math.log(2.0) + math.lgamma(n / 2.0)


@dataclass
class TMixtureEProcess:
    """H0: the mean of the values y_t is <= 0 (>= 0 with `below=True`), whatever their common sd.

    For each alternative delta (the mean in sds) the Bayes factor of normal values with the sd integrated
    out under the prior 1 / sigma (the same prior under both hypotheses, so the sd cancels: Lai's
    sequential t-test) is exp(-n delta^2 / 2) I_n(delta S / sqrt Q) / I_n(0). Its value depends on the data
    only through their scale-free shape, and it is a test martingale there when the mean is 0 and the
    values are independent normal; a mean below 0 makes S smaller and every factor with it. The process
    averages the alternatives (a mixture, still an e-process). One sample says nothing about a spread:
    after it the e-value is at most 2.

    `lrv` of add() (chosen before the value is seen) tempers that value's step, as for the counts: with
    autocorrelated values the steps of the log are too large by about the long-run variance factor.
    """

    below: bool = False
    n: int = 0
    s: float = 0.0
    q: float = 0.0
    _log: list[float] = field(default_factory=lambda: [0.0] * len(DELTAS))
    _prev: list[float] = field(default_factory=lambda: [0.0] * len(DELTAS))

    def add(self, y: float, *, lrv: float = 1.0) -> None:
        y = -y if self.below else y
        if not math.isfinite(y * y):
            return  # a value beyond float range (a metric in bytes near 1e160) cannot be weighed: skipped
        self.n += 1
        self.s += y
        self.q += y * y
        if not 0.0 < self.q < math.inf:
            return  # only zeros so far (no shape yet), or a sum beyond float range
        r = self.s / math.sqrt(self.q)
        base = _log_integral_at_zero(self.n)
        for i, d in enumerate(DELTAS):
            now = -0.5 * self.n * d * d + log_integral(self.n, d * r) - base
            self._log[i] += (now - self._prev[i]) / max(lrv, 1.0)
            self._prev[i] = now

    def log_e(self) -> float:
        top = max(self._log)
        return top + math.log(math.fsum(math.exp(x - top) for x in self._log) / len(self._log))
