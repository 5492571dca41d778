"""What the baseline says about its own noise: rate and level bounds, overdispersion and autocorrelation.

The sequential tests are exact for independent binomial or Gaussian samples; real traffic is neither, so
these estimates (from the baseline only, never from the judged window) widen the evidence to match.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MIN_EXPECTED = 5.0  # expected errors per block of baseline points the dispersion is estimated from
MAX_LAG1 = 0.9  # an estimate above this from a short baseline is mostly noise; cap the inflation at 19x
# Dispersion, spread and autocorrelation are quasi-likelihood point estimates from the baseline, floored at
# the independent-binomial (or independent-Gaussian) values; bench/quality.py measures what that keeps.


@dataclass(frozen=True)
class CountNoise:
    """Per-interval error counts of the baseline, reduced."""

    errors: float
    requests: float
    dispersion: float  # Pearson chi-square / df, at least 1 (Poisson-binomial is 1)
    lag1: float  # lag-1 autocorrelation of the extra-binomial part of the counts, clamped to [0, MAX_LAG1]
    points: int

    @property
    def rate(self) -> float:
        return self.errors / self.requests if self.requests > 0 else 0.0

    @property
    def deflate(self) -> float:
        """Long-run variance of a pooled count over binomial: 1 + (dispersion - 1) x (1 + r) / (1 - r).

        Counts are binomial noise (white, variance 1 in Pearson units) plus a wandering rate (the rest of the
        dispersion); only the latter is autocorrelated, so only it is multiplied by its long-run factor.
        Multiplying the whole dispersion by the residuals' own (1 + r) / (1 - r) underestimates it: the white
        part dilutes r (at the edge of tolerance, hour-long runs failed 7.7% where 5% is promised).
        """
        return 1.0 + (self.dispersion - 1.0) * (1.0 + self.lag1) / (1.0 - self.lag1)

    def rate_upper(self, alpha: float) -> float:
        """Upper (1 - alpha) bound on the baseline's rate, from quasi-Poisson effective counts."""
        from scipy.stats import gamma  # lazy: scipy costs ~0.4 s to import

        d = self.deflate
        return float(gamma.ppf(1.0 - alpha, self.errors / d + 1.0)) / max(self.requests / d, 1e-12)

    def rate_lower(self, alpha: float) -> float:
        from scipy.stats import gamma

        d = self.deflate
        if self.errors <= 0:
            return 0.0
        return float(gamma.ppf(alpha, self.errors / d)) / max(self.requests / d, 1e-12)


@dataclass(frozen=True)
class LevelNoise:
    """Per-interval values of the baseline (log latencies, or metric values), reduced."""

    mean: float
    sd: float
    lag1: float
    points: int
    wander: float = 1.0  # long-run variance factor of the wander-plus-jitter fit (_wander_lrv)

    @property
    def lrv(self) -> float:
        """Long-run variance over variance: the larger of the AR(1) reading of lag 1 and the wander fit.

        Lag 1 alone reads a slow wander under white jitter as a weak AR(1) (the jitter dilutes it): at the
        edge of tolerance that underestimate failed 5.7% of p99 deploys where 5% is promised.
        """
        return max((1.0 + self.lag1) / (1.0 - self.lag1), self.wander)

    def mean_upper(self, alpha: float) -> float:
        from scipy.stats import norm

        return self.mean + float(norm.ppf(1.0 - alpha)) * self.sd * math.sqrt(self.lrv / self.points)

    def mean_lower(self, alpha: float) -> float:
        from scipy.stats import norm

        return self.mean - float(norm.ppf(1.0 - alpha)) * self.sd * math.sqrt(self.lrv / self.points)


def count_noise(errors: Sequence[float], requests: Sequence[float]) -> CountNoise | None:
    pairs = [(e, r) for e, r in zip(errors, requests, strict=False) if r > 0 and e >= 0]
    total_e = math.fsum(e for e, _ in pairs)
    total_r = math.fsum(r for _, r in pairs)
    if total_r <= 0:
        return None
    b = total_e / total_r
    blocks = _blocks(pairs, b)
    if b <= 0 or len(blocks) < 3:
        return CountNoise(total_e, total_r, 1.0, 0.0, len(pairs))
    resid = [(e - b * r) / math.sqrt(b * (1.0 - min(b, 0.999)) * r) for e, r in blocks]
    df = len(blocks) - 1
    pearson = math.fsum(x * x for x in resid)
    lag1 = _latent_lag1(resid, pearson / df)
    # Residuals about the window's own mean miss the share of a slow wander the mean absorbed: about its
    # long-run factor over n of its variance (a tenth or more for r = 0.8 over 60 blocks); added back, capped.
    absorbed = min((1.0 + lag1) / (1.0 - lag1) / len(blocks), 0.5)
    dispersion = max(1.0, 1.0 + (pearson / df - 1.0) / (1.0 - absorbed))
    return CountNoise(total_e, total_r, dispersion, lag1, len(pairs))


def _blocks(pairs: Sequence[tuple[float, float]], b: float) -> list[tuple[float, float]]:
    """Consecutive points merged until each expects MIN_EXPECTED errors: a Pearson dispersion from counts of
    a fraction of an error is mostly the skew of those few counts, not extra-binomial noise (which, relative
    to the binomial part, grows with the count: a rate wandering by s adds about b r s^2 in Pearson units).
    """
    out: list[tuple[float, float]] = []
    e_acc = r_acc = 0.0
    for e, r in pairs:
        e_acc, r_acc = e_acc + e, r_acc + r
        if b * r_acc >= MIN_EXPECTED:
            out.append((e_acc, r_acc))
            e_acc = r_acc = 0.0
    if r_acc > 0 and out:  # the short tail joins the last block
        e_last, r_last = out.pop()
        out.append((e_last + e_acc, r_last + r_acc))
    return out


def level_noise(values: Sequence[float]) -> LevelNoise | None:
    xs = [v for v in values if math.isfinite(v)]
    if len(xs) < 2:
        return None
    m = math.fsum(xs) / len(xs)
    df = len(xs) - 1
    var = math.fsum((x - m) ** 2 for x in xs) / df
    sd_upper = math.sqrt(var)
    # A flat baseline (a constant gauge) has sd 0; any change would be "infinitely" significant. A floor of
    # 1% of the level (or 1e-6 absolute) keeps a tiny wobble from counting as evidence.
    floor = max(0.01 * abs(m), 1e-6)
    resid = [x - m for x in xs]
    return LevelNoise(m, max(sd_upper, floor), _lag1(resid), len(xs), _wander_lrv(resid))


def _wander_lrv(resid: Sequence[float]) -> float:
    """Long-run variance factor of an AR(1) wander (share f of the variance, coefficient phi) plus jitter.

    Its autocorrelations are r_k = f phi^k at every lag k >= 1, so the first lags (up to n / 6, at most 10:
    further ones are mostly noise) are fitted by least squares over phi, f in closed form for each phi, and
    the factor is 1 + 2 f phi / (1 - phi). Sample autocorrelations are biased low by about the variance of
    the mean (factor / n, from subtracting it), which is added back; two rounds settle it. Slow wander plus
    jitter is what p99s and gauges look like; on independent values the fit stays near 1.
    """
    n = len(resid)
    lags = min(10, n // 6)
    den = math.fsum(x * x for x in resid)
    if lags < 2 or den <= 0:
        return 1.0
    acf = [math.fsum(resid[i] * resid[i + k] for i in range(n - k)) / den for k in range(1, lags + 1)]
    factor = 1.0
    for _ in range(2):
        r = [a + factor / n for a in acf]
        best = (math.inf, 0.0, 0.0)
        for step in range(5, round(100 * MAX_LAG1) + 1):
            phi = step / 100.0
            pw = [phi**k for k in range(1, lags + 1)]
            f = min(
                max(math.fsum(a * b for a, b in zip(r, pw, strict=True)) / math.fsum(b * b for b in pw), 0.0),
                1.0,
            )
            ss = math.fsum((a - f * b) ** 2 for a, b in zip(r, pw, strict=True))
            if ss < best[0]:
                best = (ss, f, phi)
        _, f, phi = best
        factor = 1.0 + 2.0 * f * phi / (1.0 - phi)
    return factor


def _latent_lag1(resid: Sequence[float], dispersion: float) -> float:
    """Lag-1 autocorrelation of the extra-binomial part: residuals' lag-1 autocovariance over its variance.

    The binomial part is white, so all of the lag-1 autocovariance belongs to the wandering rate, whose
    variance is dispersion - 1. That variance is floored at 2 / sqrt(n) (about two standard errors of a
    dispersion from n points), so a dispersion near 1 by chance cannot turn noise into a strong correlation.
    """
    n = len(resid)
    if n < 4:
        return 0.0
    m = math.fsum(resid) / n
    gamma1 = math.fsum((resid[i] - m) * (resid[i + 1] - m) for i in range(n - 1)) / (n - 1)
    r = gamma1 / max(dispersion - 1.0, 2.0 / math.sqrt(n))
    r += (1.0 + 3.0 * r) / n if r > 0 else 0.0  # Kendall's small-sample bias, as in _lag1
    return min(max(r, 0.0), MAX_LAG1)


def _lag1(resid: Sequence[float]) -> float:
    n = len(resid)
    if n < 4:
        return 0.0
    den = math.fsum(x * x for x in resid)
    if den <= 0:
        return 0.0
    r = math.fsum(resid[i] * resid[i + 1] for i in range(n - 1)) / den
    # The sample lag-1 autocorrelation of a short series is biased low by about (1 + 3r) / n (Kendall);
    # undoing it matters: an underestimate is exactly what would make a slowly wandering service look guilty.
    r += (1.0 + 3.0 * r) / n if r > 0 else 0.0
    return min(max(r, 0.0), MAX_LAG1)
