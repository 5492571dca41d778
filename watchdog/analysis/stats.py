"""The statistics behind baseline comparisons: aggregates, the binomial test and Mann-Whitney U.

scipy is imported lazily: it costs ~0.4 s to import and most samples are decided by a plain comparison.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    s = sorted(values)
    n = len(s)
    mid = n // 2
    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2.0


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def rate_floor(baseline_requests: float) -> float:
    """The baseline error rate to test against when the baseline saw no errors at all.

    A binomial test against p = 0 is meaningless (any single error is "infinitely" significant), so we test
    against the highest rate still consistent with zero errors in n baseline requests: the one-sided 95 %
    upper bound 1 - 0.05^(1/n), about 3/n (the "rule of three"). One stray error after a clean baseline is
    then no evidence; a few errors in a busy sample are.
    """
    n = max(baseline_requests, 1.0)
    return -math.expm1(math.log(0.05) / n)


def binomial_p(*, errors: float, requests: float, p0: float) -> float:
    """One-sided p-value that the sample's error proportion is higher than p0 (exact binomial test)."""
    from scipy.stats import binomtest  # lazy: see module docstring

    n = max(round(requests), 1)
    k = min(max(round(errors), 0), n)
    p0 = min(max(p0, 1e-12), 1.0 - 1e-12)
    return float(binomtest(k, n, p0, alternative="greater").pvalue)


def mann_whitney_p(*, post: Sequence[float], baseline: Sequence[float]) -> float:
    """One-sided p-value that the post-deploy values are stochastically greater than the baseline's."""
    from scipy.stats import mannwhitneyu  # lazy: see module docstring

    if min(post) == max(post) == min(baseline) == max(baseline):
        return 1.0  # all values equal: no shift, and scipy would warn about a degenerate sample
    return float(mannwhitneyu(post, baseline, alternative="greater").pvalue)
