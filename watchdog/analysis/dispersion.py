"""Running, predictable noise estimates for comparisons against a concurrent control.

Shocks both versions share cancel in a control comparison, so the before-window's noise overstates it; what
is left is estimated from the pairs seen so far (never the current one), shrunk toward the ideal model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

PRIOR = 5.0  # pseudo-pairs at the model's own variance: a few pairs cannot make the test bold


@dataclass
class SplitDispersion:
    """Extra-binomial variance of the new version's share of the errors in (new, control) pairs."""

    prior: float = 1.0  # where the estimate starts: the baseline's dispersion when there is one
    pairs: list[tuple[float, float, float, float]] = field(default_factory=list)  # e, n, c, m

    def factor(self) -> float:
        """Pearson dispersion of past pairs around the pooled rate ratio; at least 1."""
        ps = [p for p in self.pairs if p[0] + p[2] > 0]
        if len(ps) < 2:
            return max(1.0, self.prior)
        e_tot, n_tot = sum(p[0] for p in ps), sum(p[1] for p in ps)
        c_tot, m_tot = sum(p[2] for p in ps), sum(p[3] for p in ps)
        rho = max((e_tot + 0.5) / n_tot, 1e-12) / max((c_tot + 0.5) / m_tot, 1e-12)
        chi = 0.0
        for e, n, c, m in ps:
            theta = rho * n / (rho * n + m)
            total = e + c
            var = total * theta * (1.0 - theta)
            if var > 0:
                chi += (e - total * theta) ** 2 / var
        df = PRIOR + len(ps) - 1
        # an upper (80%) bound of the dispersion, not the point estimate: from a handful of pairs it is noisy
        # and an underestimate is what would make the test bold
        return max(1.0, (PRIOR * self.prior + chi) / _chi2_low(df))

    def add(self, e: float, n: float, c: float, m: float) -> None:
        self.pairs.append((e, n, c, m))


@dataclass
class DiffSpread:
    """Spread and lag-1 autocorrelation of (new - control) differences, shrunk toward a prior spread."""

    prior_sd: float
    diffs: list[float] = field(default_factory=list)

    def sd(self) -> float:
        n = len(self.diffs)
        if n < 2:
            return self.prior_sd
        mean = sum(self.diffs) / n
        ss = sum((d - mean) ** 2 for d in self.diffs)
        return math.sqrt((PRIOR * self.prior_sd**2 + ss) / (PRIOR + n - 1))

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


def _chi2_low(df: float) -> float:
    """The 20% quantile of chi-square(df) (Wilson-Hilferty), so that X / quantile bounds X / df from above."""
    z = -0.8416
    return max(df * (1.0 - 2.0 / (9.0 * df) + z * math.sqrt(2.0 / (9.0 * df))) ** 3, 1e-9)
