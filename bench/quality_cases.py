"""The building blocks of bench/quality.py's corpus: the labelled Case, the noise generators (counts and p99
under AR(1) wander, overdispersion and heavy tails), the scenario document, and one errors or p99 case.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

BASE_RATE = 0.005  # healthy error proportion
P99 = 0.3  # healthy p99 in seconds
ERRORS_CHECK: dict[str, Any] = {
    "name": "errors",
    "type": "error_rate",
    "max": 0.05,
    "baseline": {"max_ratio": 1.5, "max_increase": 0.002},
    "min_requests": 100,
    "confidence": 0.95,
}
P99_CHECK: dict[str, Any] = {
    "name": "p99",
    "type": "latency",
    "max": 4.0,
    "baseline": {"max_ratio": 1.3},
    "min_effect": 0.1,
    "confidence": 0.95,
}
Mult = Callable[[float], float]  # seconds from deploy (negative: baseline) -> multiplier


def one(_: float) -> float:
    return 1.0


@dataclass
class Case:
    """One labelled scenario document plus what the benchmark groups and scores it by."""

    family: str
    level: str  # traffic level or noise kind, for the per-level rows
    fair: bool  # the comparison can tell this from a regression (ramps and drifts: only with a control)
    doc: dict[str, Any]
    static: dict[str, Any]  # the static-threshold policy's checks for the same data
    extra: dict[str, Any] = field(default_factory=dict)  # window length etc.
    # the generator's noise parameters, for the reference test (bench/quality_reference.py `visible`):
    # counts: sd and rho of the shared latent AR(1) log rate, `own` the canary's own per-sample log sd;
    # p99: sigma and rho of the shared AR(1) log, `jitter` each series' own per-sample log sd. None: unknown.
    noise: dict[str, float] | None = None

    @property
    def label(self) -> str:
        return str(self.doc["expect"])


def _times(*, interval: float, baseline: float, duration: float) -> tuple[list[float], list[float]]:
    base = [-baseline + i * interval for i in range(int(baseline // interval))]
    window = [k * interval for k in range(1, int(duration // interval) + 1)]
    return base, window


def _ar(rng: np.random.Generator, n: int, *, sd: float, rho: float, heavy: bool = False) -> np.ndarray:
    if sd <= 0:
        return np.zeros(n)
    eps = rng.standard_t(3, size=n) / math.sqrt(3.0) if heavy else rng.standard_normal(n)
    x = np.zeros(n)
    x[0] = eps[0] * sd
    for i in range(1, n):
        x[i] = rho * x[i - 1] + math.sqrt(1 - rho * rho) * sd * eps[i]
    return x


def counts(
    rng: np.random.Generator,
    times: list[float],
    *,
    rps: float,
    interval: float,
    rate: float = BASE_RATE,
    sd: float = 0.0,
    rho: float = 0.0,
    load: Mult = one,
    worse: Mult = one,
    latent: np.ndarray | None = None,
) -> tuple[list[float], list[float]]:
    """Requests ~ Poisson(rps x interval x load); errors ~ Binomial(rate x latent x worse x load^0.5)."""
    z = latent if latent is not None else _ar(rng, len(times), sd=sd, rho=rho)
    errors, requests = [], []
    for t, zi in zip(times, z, strict=True):
        n = int(rng.poisson(rps * interval * load(t)))
        p = min(rate * math.exp(zi - sd * sd / 2) * worse(t), 0.95)
        errors.append(float(rng.binomial(n, p)))
        requests.append(float(n))
    return errors, requests


def p99s(
    rng: np.random.Generator,
    times: list[float],
    *,
    sigma: float = 0.08,
    rho: float = 0.0,
    heavy: bool = False,
    worse: Mult = one,
    latent: np.ndarray | None = None,
) -> list[float]:
    z = latent if latent is not None else _ar(rng, len(times), sd=sigma, rho=rho, heavy=heavy)
    return [round(P99 * math.exp(zi) * worse(t), 5) for t, zi in zip(times, z, strict=True)]


def points(times: list[float], values: list[float]) -> list[list[float]]:
    return [[t, v] for t, v in zip(times, values, strict=True)]


def doc(
    name: str,
    *,
    checks: list[dict[str, Any]],
    data: Mapping[str, Mapping[str, Sequence[Sequence[float | None]]]],  # a None point is a gap
    expect: str,
    interval: float = 30.0,
    duration: float = 600.0,
) -> dict[str, Any]:
    verification = {"duration": duration, "interval": interval, "warmup": 60.0, "failure_limit": 2}
    return {
        "name": name,
        "policy": {"verification": verification, "checks": checks},
        "data": data,
        "expect": expect,
    }


def static_errors(base_rate: float) -> dict[str, Any]:
    """What a Flagger or Argo Rollouts user writes: one fixed ceiling, a few times the usual rate."""
    return {"name": "errors", "type": "error_rate", "max": max(0.01, 4 * base_rate)}


def static_p99() -> dict[str, Any]:
    return {"name": "p99", "type": "latency", "max": round(P99 * 1.6, 3)}


def control_of(check: dict[str, Any]) -> dict[str, Any]:
    out = {**check, "baseline": {**check["baseline"], "compare_to": "control"}}
    out["control"] = {"errors": "c", "requests": "c"} if check["type"] == "error_rate" else {"query": "c"}
    return out


RPS = (0.2, 1.0, 5.0, 20.0, 100.0, 1000.0)


def errors_case(
    rng: np.random.Generator,
    i: int,
    family: str,
    *,
    rps: float,
    expect: str,
    fair: bool = True,
    sd: float = 0.0,
    rho: float = 0.0,
    load: Mult = one,
    worse: Mult = one,
    blip: Mult = one,
    control: bool = False,
    interval: float = 30.0,
    duration: float = 600.0,
    level: str | None = None,
    own: float = 0.0,
) -> Case:
    """`own`: log-scale sd of the new version's own rate noise after the deploy (per sample, independent),
    which neither the baseline nor the control shares; 0 in every family but the one added for it."""
    base_t, win_t = _times(interval=interval, baseline=1800.0, duration=duration)
    times = base_t + win_t
    latent = _ar(rng, len(times), sd=sd, rho=rho)
    if own > 0:
        mine = rng.normal(0.0, own, size=len(times))
        mine[: len(base_t)] = 0.0
        latent_new = latent + mine - own * own / 2 * (np.arange(len(times)) >= len(base_t))
    else:
        latent_new = latent

    def shared(t: float) -> float:
        return blip(t)

    e, r = counts(
        rng,
        times,
        rps=rps,
        interval=interval,
        sd=sd,
        load=load,
        latent=latent_new,
        worse=lambda t: shared(t) * (worse(t) if t > 0 else 1.0) * load(t) ** 0.5,
    )
    data: dict[str, list[list[float]]] = {"errors": points(times, e), "requests": points(times, r)}
    check = ERRORS_CHECK
    if control:
        # the stable version serves beside it: the same load, latent noise and blips, never the regression
        ce, cr = counts(
            rng,
            times,
            rps=rps,
            interval=interval,
            sd=sd,
            load=load,
            latent=latent,
            worse=lambda t: shared(t) * load(t) ** 0.5,
        )
        data["control_errors"] = points(times, ce)
        data["control_requests"] = points(times, cr)
        check = control_of(ERRORS_CHECK)
    name = f"{family}-{i}"
    d = doc(name, checks=[check], data={"errors": data}, expect=expect, interval=interval, duration=duration)
    return Case(
        family,
        level or f"{rps:g} req/s",
        fair,
        d,
        {"checks": [static_errors(BASE_RATE)]},
        {"duration": duration, "interval": interval},
        {"sd": sd, "rho": rho, "own": own},
    )


def p99_case(
    rng: np.random.Generator,
    i: int,
    family: str,
    *,
    expect: str,
    level: str,
    fair: bool = True,
    rho: float = 0.0,
    heavy: bool = False,
    drift: Mult = one,
    worse: Mult = one,
    control: bool = False,
    interval: float = 30.0,
    duration: float = 600.0,
    own: float = 0.0,
) -> Case:
    """`own`: log-scale sd of the new version's own extra noise after the deploy (per sample, independent,
    not shared by its control): a canary on a pod or two is noisier than the service was before it."""
    base_t, win_t = _times(interval=interval, baseline=1800.0, duration=duration)
    times = base_t + win_t
    sigma = 0.12 if heavy else 0.08
    common = _ar(rng, len(times), sd=sigma, rho=rho, heavy=heavy)
    jitter = _ar(rng, len(times), sd=sigma * 0.5, rho=0.0)
    if own > 0:  # drawn only when asked for, so every other row keeps its draws
        jitter = jitter + rng.normal(0.0, own, size=len(times)) * (np.array(times) > 0)
    v = p99s(rng, times, latent=common + jitter, worse=lambda t: drift(t) * (worse(t) if t > 0 else 1.0))
    data: dict[str, list[list[float]]] = {"value": points(times, v)}
    check = P99_CHECK
    if control:
        other = _ar(rng, len(times), sd=sigma * 0.5, rho=0.0)
        data["control_value"] = points(times, p99s(rng, times, latent=common + other, worse=drift))
        check = control_of(P99_CHECK)
    d = doc(
        f"{family}-{i}",
        checks=[check],
        data={"p99": data},
        expect=expect,
        interval=interval,
        duration=duration,
    )
    return Case(
        family,
        level,
        fair,
        d,
        {"checks": [static_p99()]},
        {"duration": duration, "interval": interval},
        {"sigma": sigma, "rho": rho, "jitter": sigma * 0.5, "own": own},
    )


def ramp(factor: float, *, start: float = -300.0, end: float = 600.0) -> Mult:
    """1 before `start`, rising linearly to `factor` at `end`, then held."""

    def f(t: float) -> float:
        if t <= start:
            return 1.0
        return 1.0 + (factor - 1.0) * min((t - start) / (end - start), 1.0)

    return f


def step(factor: float, *, at: float = 0.0, until: float = math.inf) -> Mult:
    return lambda t: factor if at < t <= until else 1.0
