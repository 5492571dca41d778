"""Anytime-valid e-processes: binomial rate vs a bound, conditional binomial vs a control, Gaussian mixture.

Each is a nonnegative supermartingale under its null, so by Ville's inequality it ever reaches 1/alpha
with probability at most alpha, however often it is looked at. Pure math; no I/O, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Alternatives the mixtures spread their weight over, as multiples of the null's boundary. A discrete
# mixture of likelihood ratios is itself an exact e-process (a weighted average of martingales), so the grid
# costs a little power between its points and nothing in validity.
UP = (1.1, 1.2, 1.35, 1.5, 1.75, 2.0, 2.5, 3.0, 5.0, 10.0, 30.0, 100.0)
# Where the weight goes, chosen from the test's own arithmetic and not from any data: a regression just
# beyond tolerance (up to 1.5x the edge) is where one window barely has the evidence, so half the weight
# sits on those four points (uniform weights gave them a third); a larger one piles up likelihood ratio so
# fast that a smaller weight delays it by a sample or so. The far end reaches 100x: errors against a
# zero-error comparison are best explained by the largest ratio, and a few errors must be able to show it.
NEAR = 4  # the first NEAR alternatives of UP
NEAR_WEIGHT = 0.5
DOWN = (0.9, 0.8, 0.65, 0.5, 0.3, 0.1)
_P_MAX = 1.0 - 1e-9


def up_weights(n: int) -> tuple[float, ...]:
    """Mixture weights (summing to 1) for the first n alternatives of UP."""
    near, far = min(n, NEAR), max(n - NEAR, 0)
    if far == 0:
        return tuple([1.0 / n] * n)
    return tuple([NEAR_WEIGHT / near] * near + [(1.0 - NEAR_WEIGHT) / far] * far)


def _logmeanexp(xs: list[float], weights: tuple[float, ...] | None = None) -> float:
    top = max(xs)
    if weights is None:
        return top + math.log(math.fsum(math.exp(x - top) for x in xs) / len(xs))
    return top + math.log(math.fsum(w * math.exp(x - top) for x, w in zip(xs, weights, strict=True)))


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0 else x * math.log(y)


@dataclass
class RateEProcess:
    """H0: the error proportion p <= p0 (or >= p0 with `below=True`), from pooled (errors, requests).

    `deflate` >= 1 tempers the log likelihood ratio (quasi-likelihood): with counts whose variance is
    `deflate` times the binomial one (overdispersion, autocorrelation), LR**(1/deflate) keeps the
    supermartingale property in the normal approximation; with deflate = 1 it is exact.
    """

    p0: float
    deflate: float = 1.0
    below: bool = False
    errors: float = 0.0
    requests: float = 0.0
    _alts: tuple[float, ...] = field(init=False, default=())
    _weights: tuple[float, ...] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        p0 = min(max(self.p0, 1e-12), _P_MAX)
        self.p0 = p0
        grid = DOWN if self.below else UP
        self._alts = tuple(sorted({min(p0 * g, _P_MAX) for g in grid if p0 * g > 0 and p0 * g != p0}))
        if not self._alts:  # p0 already at the top: nothing can be above it
            self._alts = (p0,)
        if not self.below:  # near p0 first: the alternatives capped at 1 merge into the last ones
            self._weights = up_weights(len(self._alts))

    def add(self, *, errors: float, requests: float) -> None:
        self.errors += max(errors, 0.0)
        self.requests += max(requests, errors, 0.0)

    def log_e(self) -> float:
        x, n, p0 = self.errors, self.requests, self.p0
        logs = [
            (_xlogy(x, p1 / p0) + _xlogy(n - x, (1.0 - p1) / (1.0 - p0))) / self.deflate for p1 in self._alts
        ]
        return _logmeanexp(logs, self._weights)


@dataclass
class ControlEProcess:
    """H0: the new version's error rate <= rho0 x the control's, both measured in the same samples.

    Conditional on a sample's errors in both arms, the new version's share is Binomial(total, theta) with
    theta = rho n / (rho n + m) for request counts n (new) and m (control): the nuisance (the common rate,
    and any shock both arms share) cancels, and a zero-error control needs no special case. One likelihood
    ratio per alternative rho1 = rho0 x g, multiplied over samples, averaged over g with the weights
    of up_weights: a mixture, so the average is an e-process whatever g is true.
    """

    rho0: float
    deflate: float = 1.0
    below: bool = False
    _log: list[float] = field(init=False, default_factory=list)
    _alts: tuple[float, ...] = field(init=False, default=())
    new_errors: float = 0.0
    new_requests: float = 0.0
    ctl_errors: float = 0.0
    ctl_requests: float = 0.0
    pairs: int = 0

    def __post_init__(self) -> None:
        self._alts = tuple(self.rho0 * g for g in (DOWN if self.below else UP))
        self._log = [0.0] * len(self._alts)

    def add(
        self,
        *,
        errors: float,
        requests: float,
        ctl_errors: float,
        ctl_requests: float,
        deflate: float | None = None,
    ) -> None:
        """One pair; `deflate` (default the process's) tempers this pair's likelihood ratio."""
        d = self.deflate if deflate is None else deflate
        e, c = max(errors, 0.0), max(ctl_errors, 0.0)
        n, m = max(requests, e), max(ctl_requests, c)
        self.new_errors, self.new_requests = self.new_errors + e, self.new_requests + n
        self.ctl_errors, self.ctl_requests = self.ctl_errors + c, self.ctl_requests + m
        self.pairs += 1
        if e + c <= 0 or n <= 0 or m <= 0:
            return  # no errors in either arm, or an arm without traffic: the sample carries no information
        t0 = self.rho0 * n / (self.rho0 * n + m)
        for i, rho1 in enumerate(self._alts):
            t1 = rho1 * n / (rho1 * n + m)
            self._log[i] += (_xlogy(e, t1 / t0) + _xlogy(c, (1.0 - t1) / (1.0 - t0))) / d

    def log_e(self) -> float:
        return _logmeanexp(self._log, None if self.below else up_weights(len(self._alts)))


@dataclass
class GaussianMixtureEProcess:
    """H0: the mean of standardised increments z_t is <= 0 (or >= 0 with `below=True`).

    The one-sided normal-mixture martingale (Robbins): the integral over lambda > 0 of
    exp(lambda S - lambda^2 V / 2) under a half-normal prior of scale tau, in closed form. S sums the
    increments (each clipped to +-clip, so a heavy tail cannot carry it); V = n x lrv is their variance
    with lrv the long-run variance factor for autocorrelated samples.
    """

    lrv: float = 1.0
    tau: float = 0.5
    clip: float = 5.0
    below: bool = False
    s: float = 0.0
    n: int = 0
    v: float = 0.0

    def add(self, z: float, *, lrv: float | None = None) -> None:
        """One increment; `lrv` (chosen before seeing it) is its variance factor, default the process's."""
        z = min(max(z, -self.clip), self.clip)
        self.s += -z if self.below else z
        self.n += 1
        self.v += self.lrv if lrv is None else lrv

    def log_e(self) -> float:
        if self.n == 0:
            return 0.0
        v = self.v
        a = 1.0 + v * self.tau**2
        x = self.s * self.tau / math.sqrt(a)
        return math.log(2.0) - 0.5 * math.log(a) + 0.5 * x * x + _log_ndtr(x)


def _log_ndtr(x: float) -> float:
    """log Phi(x), stable for very negative x."""
    if x > -5.0:
        return math.log(0.5 * math.erfc(-x / math.sqrt(2.0)))
    # asymptotic expansion of the lower tail
    return -0.5 * x * x - math.log(-x) - 0.5 * math.log(2.0 * math.pi) + math.log1p(-1.0 / (x * x))


@dataclass(frozen=True)
class Step:
    """What one sample did to a check's evidence."""

    conclusive: bool  # the sample had data (and, for counts, at least min_requests)
    crossed: bool  # the evidence reached the level: the check fails at this sample
    within: bool  # the evidence that any regression is below tolerance reached the level (pass_early)
    reason: str
    log_e: float = 0.0
    log_level: float = 0.0


def level(alpha: float) -> float:
    """The log e-value the evidence must reach: log(1/alpha) (Ville's inequality)."""
    return -math.log(alpha)
