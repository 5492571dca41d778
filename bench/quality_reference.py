"""bench/quality.py's references: the whole-window tests of "could see it" (told the noise, or taking samples
as independent), the told-the-truth oracle, and the references' own level at the edge of tolerance."""

from __future__ import annotations

import itertools
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.quality_cases import BASE_RATE, Case  # noqa: E402
from bench.quality_corpus import at_the_edge  # noqa: E402


def visible(case: Case) -> bool:
    """Would one test on the whole judged window, looked at once at its end, see the regression?

    The benchmark's reference for "could see": told the noise the generator used (`Case.noise`), it holds
    its level at the edge of tolerance (tests/test_quality_bench.py measures it). Error counts with neither
    a shared wander nor a canary's own noise are binomial, and against a control a wander both versions
    share cancels in the conditional binomial (at 20 req/s the normal approximation below said "regression"
    5.9% of 1,000 runs at the edge there); for those, and for the windows whose noise is not known (the
    dataset windows), it is `visible_if_independent`'s exact test. Otherwise the window's figure
    against the baseline's (or the control's) is compared on the log scale with its variance computed from
    the known noise: binomial counts plus a multiplicative AR(1) wander shared by the whole timeline (and by
    a control at the same instant) plus the canary's own independent per-sample wander; for p99, a shared
    AR(1) log plus each series' own jitter. Both are normal approximations: z at 1 - alpha.
    """
    noise = case.noise
    check = case.doc["policy"]["checks"][0]
    limits = check.get("baseline") or {}
    if (
        noise is None
        or check["type"] == "metric"
        or (check["type"] == "error_rate" and "max_ratio" not in limits)
    ):
        return visible_if_independent(case)
    if check["type"] == "error_rate":
        control = limits.get("compare_to") == "control"
        if noise["own"] <= 0 and (noise["sd"] <= 0 or control):  # binomial, or a shared wander that cancels
            return visible_if_independent(case)
        return _counts_told_noise(case, noise)
    return _log_told_noise(case, noise)


def _reference_arms(case: Case, new_role: str, ctl_role: str) -> tuple[list[int], list[int], bool]:
    """Timeline positions of the judged window's samples and of what they are compared with: the control's
    samples in the same window, or the baseline's (before the deploy)."""
    check = case.doc["policy"]["checks"][0]
    roles = case.doc["data"][check["name"]]
    warm = case.doc["policy"]["verification"]["warmup"]
    control = check.get("baseline", {}).get("compare_to") == "control"
    times = [t for t, _ in roles[new_role]]
    new = [i for i, t in enumerate(times) if t > warm]
    if control:
        assert [t for t, _ in roles[ctl_role]] == times
        return new, new, True
    return new, [i for i, t in enumerate(times) if t < 0], False


def _counts_told_noise(case: Case, noise: dict[str, float]) -> bool:
    import numpy as np
    from scipy.stats import norm

    check = case.doc["policy"]["checks"][0]
    roles = case.doc["data"][check["name"]]
    alpha = 1.0 - float(check.get("confidence", 0.95))
    rho = float(check["baseline"]["max_ratio"])
    new, ref, control = _reference_arms(case, "errors", "control_errors")
    e = np.array([v for _, v in roles["errors"]])
    n = np.array([v for _, v in roles["requests"]])
    ce = np.array([v for _, v in roles["control_errors"]]) if control else e
    cn = np.array([v for _, v in roles["control_requests"]]) if control else n
    x, big_n, r, m = e[new].sum(), n[new].sum(), ce[ref].sum(), cn[ref].sum()
    if big_n <= 0 or m <= 0 or x <= 0:
        return False
    p0 = (x + r) / (rho * big_n + m)  # the common rate under "exactly at the edge"
    # every sample's rate is the rate times a factor of mean 1: exp(z - sd^2/2) with z a stationary AR(1)
    # (the canary and its control share it), times the canary's own exp(u - own^2/2) after the deploy
    sd, phi, own = noise["sd"], noise["rho"], noise["own"]
    pos = np.array(new + ref)
    w = np.concatenate([n[new] / big_n, -cn[ref] / m])
    lag = np.abs(pos[:, None] - pos[None, :])
    k = np.expm1(sd * sd * phi**lag) if sd > 0 else np.zeros(lag.shape)
    same = np.eye(len(pos), dtype=bool)
    canary = np.concatenate([np.ones(len(new), bool), np.zeros(len(ref), bool)])
    # the own wander is the new version's: on its samples only, not the baseline's or the control's
    k[same & canary[:, None]] = math.exp(sd * sd + own * own) - 1.0
    # log(x/N) - log(rho r/M): binomial parts 1/(expected count) and the factors' weighted means
    var = 1.0 / (rho * p0 * big_n) + 1.0 / (p0 * m) + float(w @ k @ w)
    stat = math.log(x / big_n) - math.log(rho * max(r, 0.5) / m)
    return bool(stat / math.sqrt(var) > norm.ppf(1.0 - alpha))


def _log_told_noise(case: Case, noise: dict[str, float]) -> bool:
    import numpy as np
    from scipy.stats import norm

    check = case.doc["policy"]["checks"][0]
    roles = case.doc["data"][check["name"]]
    alpha = 1.0 - float(check.get("confidence", 0.95))
    limits = check.get("baseline") or {}
    tol = math.log(max(float(limits.get("max_ratio", 1.0)), 1.0 + float(check.get("min_effect") or 0.0)))
    new, ref, control = _reference_arms(case, "value", "control_value")
    v = [math.log(max(x, 1e-12)) if x is not None else math.nan for _, x in roles["value"]]
    c = (
        [math.log(max(x, 1e-12)) if x is not None else math.nan for _, x in roles["control_value"]]
        if control
        else v
    )
    new = [i for i in new if math.isfinite(v[i])]
    ref = [i for i in ref if math.isfinite(c[i])]
    if len(new) < 2 or len(ref) < 2:
        return False
    pos = np.array(new + ref)
    w = np.concatenate([np.full(len(new), 1.0 / len(new)), np.full(len(ref), -1.0 / len(ref))])
    lag = np.abs(pos[:, None] - pos[None, :])
    cov = noise["sigma"] ** 2 * noise["rho"] ** lag
    # each series' jitter: on the diagonal only, and not shared between a canary and its control
    series = np.concatenate([np.zeros(len(new)), np.full(len(ref), 1.0 if control else 0.0)])
    cov = cov + noise["jitter"] ** 2 * ((lag == 0) & (series[:, None] == series[None, :]))
    # the new version's own extra noise after the deploy (the noisy-canary edge row), on its values only
    cov = cov + noise.get("own", 0.0) ** 2 * np.diag(np.concatenate([np.ones(len(new)), np.zeros(len(ref))]))
    stat = float(np.mean([v[i] for i in new]) - tol - np.mean([c[i] for i in ref]))
    return bool(stat / math.sqrt(float(w @ cov @ w)) > norm.ppf(1.0 - alpha))


def visible_if_independent(case: Case) -> bool:
    """One exact test on the whole judged window, looked at once at its end, that takes the samples as
    independent: a conditional binomial on the summed error counts, Welch's t on log p99 (a paired t
    against a control). The benchmark's first reference: exact for binomial counts and independent
    Gaussian logs, but not at its level where the noise is overdispersed, autocorrelated or the canary
    wanders on its own (bench/quality.py's second denominator, for comparison)."""
    from scipy.stats import binom, ttest_1samp, ttest_ind

    check = case.doc["policy"]["checks"][0]
    roles = case.doc["data"][check["name"]]
    warm = case.doc["policy"]["verification"]["warmup"]
    alpha = 1.0 - float(check.get("confidence", 0.95))
    control = check.get("baseline", {}).get("compare_to") == "control"
    limits = check.get("baseline") or {}

    def split(role: str) -> tuple[list[float], list[float]]:
        pts = roles[role]
        return [v for t, v in pts if t < 0], [v for t, v in pts if t > warm]

    if check["type"] == "error_rate":
        if control:
            _, be = split("control_errors")
            _, br = split("control_requests")
        else:
            be, _ = split("errors")
            br, _ = split("requests")
        _, we = split("errors")
        _, wr = split("requests")
        x, n, e, b = sum(we), sum(wr), sum(be), sum(br)
        if "max_ratio" not in limits:
            return bool(binom.sf(x - 1, n, check.get("max", 0.02)) < alpha) if n > 0 else False
        rho = float(limits["max_ratio"])
        if n <= 0 or b <= 0 or x + e <= 0:
            return False
        theta = rho * n / (rho * n + b)
        return bool(binom.sf(x - 1, x + e, theta) < alpha)
    base, win = split("value")
    base = [v for v in base if v is not None]
    win = [v for v in win if v is not None]
    if len(win) < 2 or len(base) < 2:
        return False
    if check["type"] == "metric":
        if "baseline" not in check:  # an absolute min or max only: the rule itself is the whole test
            low, high = check.get("min", -math.inf), check.get("max", math.inf)
            bad = [not (low <= v <= high) for v in win]
            return any(a and b for a, b in itertools.pairwise(bad))
        mb = statistics.fmean(base)
        edge = max(
            (float(limits.get("max_ratio", 1.0)) - 1.0) * abs(mb), float(limits.get("max_increase", 0.0))
        )
        shifted = [v - edge for v in win]
        return bool(ttest_ind(shifted, base, equal_var=False, alternative="greater").pvalue < alpha)
    tol = math.log(max(float(limits.get("max_ratio", 1.0)), 1.0 + float(check.get("min_effect") or 0.0)))
    lw = [math.log(max(v, 1e-12)) - tol for v in win]
    if control:
        _, cw = split("control_value")
        diffs = [a - math.log(max(c, 1e-12)) for a, c in zip(lw, cw, strict=False)]
        return bool(ttest_1samp(diffs, 0.0, alternative="greater").pvalue < alpha)
    lb = [math.log(max(v, 1e-12)) for v in base]
    return bool(ttest_ind(lw, lb, equal_var=False, alternative="greater").pvalue < alpha)


def oracle(case: Case) -> bool | None:
    """Would the log-optimal anytime test, told the true size of the regression, cross in the window?

    The sequential probability ratio of the true rate ratio against the edge of tolerance, on the same
    samples (conditional binomial against the control; against `before` it is also told the baseline's
    true rate): no anytime-valid test at the same level catches more on average, so where it misses, a
    target above it is out of reach. Only for the generated error regressions, whose truth is known.
    """
    family = case.family
    if case.label != "failed" or not family.startswith(("errors x", "canary errors x")):
        return None
    mult = float(family.split(" ")[1 if family.startswith("errors") else 2][1:])
    roles = case.doc["data"]["errors"]
    warm = float(case.doc["policy"]["verification"]["warmup"])
    need = math.log(20.0)  # every generated check has confidence 0.95
    rho0 = 1.5  # ERRORS_CHECK's max_ratio, the binding limit at the corpus's base rate

    def win(role: str) -> list[tuple[float, float]]:
        return [(t, v) for t, v in roles[role] if t > warm]

    log = 0.0
    if "control" in family:
        for (_, e), (_, n), (_, c), (_, m) in zip(
            win("errors"), win("requests"), win("control_errors"), win("control_requests"), strict=True
        ):
            if e + c <= 0 or n <= 0 or m <= 0:
                continue
            t0, t1 = rho0 * n / (rho0 * n + m), mult * n / (mult * n + m)
            log += e * math.log(t1 / t0) + c * math.log((1 - t1) / (1 - t0))
            if log >= need:
                return True
        return False
    start = 180.0 if "from 3 min" in family else 0.0
    p0 = rho0 * BASE_RATE
    for (t, e), (_, n) in zip(win("errors"), win("requests"), strict=True):
        p1 = BASE_RATE * (mult if t > start else 1.0)
        if p1 <= p0:
            continue  # it is told the regression has not started
        log += e * math.log(p1 / p0) + (n - e) * math.log((1 - p1) / (1 - p0))
        if log >= need:
            return True
    return False


def reference_at_the_edge(runs: int, seed: int = 1011) -> dict[str, Any]:
    """How often each reference says "regression" exactly at the edge of tolerance, where a test at 95%
    confidence may say so at most 5% of the time (the same draws as `edge_runs` for the same seed)."""
    said: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for case in at_the_edge(runs=runs, seed=seed):
        said[case.level].append((visible(case), visible_if_independent(case)))
    return {
        level: {
            "runs": len(v),
            "visible": sum(a for a, _ in v) / len(v),
            "visible_if_independent": sum(b for _, b in v) / len(v),
        }
        for level, v in said.items()
    }
