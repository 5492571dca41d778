"""Running, predictable noise estimates for comparisons against a concurrent control.

Shocks both versions share cancel in a control comparison, so the before-window's noise overstates it; what
is left is estimated from the pairs seen so far (never the current one), shrunk toward the ideal model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

PRIOR = 5.0  # pseudo-pairs at the model's own variance: a few pairs cannot make the test bold


# Before any pair shows it, how much a canary's error rate may wander on its own from one sample to the next
# (log-scale sd): 40%, above the 30% wobble a bad host or a slow dependency gives a rate (the overdispersion
# the docs describe), because nothing but this prior holds the first three pairs, and a canary wandering by
# 50% failed 5-6% at the edge under a 30% prior; since the pairs' own bound (UPPER_Z) takes a plainly binomial
# busy canary off the prior by its fourth sample, the extra caution costs little there. It enters as extra
# variance of the split per error pair, so it costs little at low traffic either.
OWN_WANDER = 0.4
# Once three pairs are in, kappa is also bounded by the pairs alone at 95% (_kappa_upper): wrong one time in
# twenty for a given number of pairs, and then only by as much as a chi-square's low tail allows, while
# pairs that are plainly binomial stop paying for the prior after a few samples (busy canaries).
UPPER_Z = -1.645


@dataclass
class SplitDispersion:
    """Extra-binomial variance of the new version's share of the errors in (new, control) pairs.

    Conditional on a pair's total errors T, the share is binomial when both versions see the same shocks;
    a canary whose rate wanders on its own (log-scale sd s) makes it beta-binomial, with dispersion
    1 + (T - 1) x kappa where kappa = var(theta) / (theta (1 - theta)) ~ theta (1 - theta) s^2. Kappa is
    a property of the service, not of the traffic, so a prior on it costs little where T is small and
    protects where T is large (one 1,000 req/s pair would otherwise carry the whole test).
    """

    wander: float = OWN_WANDER  # prior log-scale sd of the canary's own rate
    pairs: list[tuple[float, float, float, float]] = field(default_factory=list)  # e, n, c, m

    def factor(self, total: float = 0.0) -> float:
        """The dispersion for a pair with `total` errors, from the pairs before it (never this one)."""
        return max(1.0, 1.0 + max(total - 1.0, 0.0) * self.kappa())

    def kappa(self) -> float:
        """Moment estimate of kappa from past pairs, shrunk toward the prior by PRIOR pseudo-pairs, and from
        three pairs on at most the pairs' own 95% upper bound (plainly binomial pairs learn it fast)."""
        ps = [p for p in self.pairs if p[0] + p[2] > 0]
        k = len(ps)
        e_tot, n_tot = sum(p[0] for p in ps), sum(p[1] for p in ps)
        c_tot, m_tot = sum(p[2] for p in ps), sum(p[3] for p in ps)
        if k < 2 or n_tot <= 0 or m_tot <= 0:  # one pair fits its own ratio: it says nothing about spread
            return 0.25 * self.wander**2  # theta (1 - theta) at its largest
        rho = max((e_tot + 0.5) / n_tot, 1e-12) / max((c_tot + 0.5) / m_tot, 1e-12)
        excess, weight = 0.0, 0.0
        for e, n, c, m in ps:
            theta = rho * n / (rho * n + m)
            total = e + c
            var = total * theta * (1.0 - theta)
            if var > 0:
                # Pearson residual squared minus its binomial expectation (k / (k - 1) undoes the pooled
                # fit) has mean (T - 1) kappa and a variance about 2 whatever T: least squares weighs a
                # pair by T - 1, so pairs of one or two errors (which cannot show much spread) weigh little
                excess += (total - 1.0) * ((e - total * theta) ** 2 / var * k / (k - 1) - 1.0)
                weight += (total - 1.0) ** 2
        theta0 = rho * n_tot / (rho * n_tot + m_tot)
        prior = theta0 * (1.0 - theta0) * self.wander**2
        w0 = PRIOR * max(weight / k, 1.0)  # PRIOR pseudo-pairs of the average weight seen
        shrunk = max(0.0, (w0 * prior + excess) / (w0 + weight))
        return min(shrunk, _kappa_upper(ps, rho)) if k >= 3 else shrunk

    def add(self, e: float, n: float, c: float, m: float) -> None:
        self.pairs.append((e, n, c, m))


@dataclass
class DiffAutocorrelation:
    """Lag-1 autocorrelation of (new - control) differences, shrunk toward independence.

    Their spread needs no estimate: the t-test (tmixture.py) integrates it out.
    """

    diffs: list[float] = field(default_factory=list)

    def lrv(self) -> float:
        n = len(self.diffs)
        if n < 4:
            return 1.0
        mean = sum(self.diffs) / n
        r = [d - mean for d in self.diffs]
        den = sum(x * x for x in r)
        if den <= 0:
            return 1.0
        lag1 = sum(r[i] * r[i + 1] for i in range(n - 1)) / den
        lag1 = min(max(lag1 * (n - 1) / (n - 1 + PRIOR), 0.0), 0.9)  # shrunk toward independence
        return (1.0 + lag1) / (1.0 - lag1)

    def add(self, d: float) -> None:
        self.diffs.append(d)


def _kappa_upper(pairs: list[tuple[float, float, float, float]], rho: float) -> float:
    """An upper confidence bound on kappa from the pairs alone: the kappa at which the sum of the Pearson
    residuals squared, each over its pair's dispersion 1 + (T - 1) kappa, falls to a low chi-square quantile.

    The sum is a chi-square with one df per pair (less the fitted ratio) when kappa is right, and decreases
    as kappa grows, so a kappa with a sum above the quantile is one the pairs make unlikely. Pairs that are
    plainly binomial bring it down within a few samples; a canary wandering on its own keeps it up.
    """
    resid: list[tuple[float, float]] = []
    for e, n, c, m in pairs:
        theta = rho * n / (rho * n + m)
        total = e + c
        var = total * theta * (1.0 - theta)
        if var > 0:
            resid.append(((e - total * theta) ** 2 / var, total - 1.0))
    if len(resid) < 3:
        return math.inf
    q = _chi2_low(len(resid) - 1.0)

    def g(kappa: float) -> float:
        return math.fsum(r2 / (1.0 + t1 * kappa) for r2, t1 in resid)

    if g(0.0) <= q:
        return 0.0
    lo, hi = 0.0, 1.0
    if g(hi) > q:
        return hi
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if g(mid) > q else (lo, mid)
    return hi


def _chi2_low(df: float, z: float = UPPER_Z) -> float:
    """A low quantile of chi-square(df) (Wilson-Hilferty; z -1.645 is the 5% one)."""
    return max(df * (1.0 - 2.0 / (9.0 * df) + z * math.sqrt(2.0 / (9.0 * df))) ** 3, 1e-9)
