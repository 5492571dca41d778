"""The labelled corpus of bench/quality.py: generated deploys in families, each with its ground truth.

Healthy noise at 0.2-1,000 req/s, overdispersion, heavy-tailed autocorrelated p99, ramps, drifts and blips
(shared by both versions under a control), regressions of several shapes, and long windows. Seeded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
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
    data: dict[str, dict[str, list[list[float]]]],
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


def _errors_case(
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
) -> Case:
    base_t, win_t = _times(interval=interval, baseline=1800.0, duration=duration)
    times = base_t + win_t
    latent = _ar(rng, len(times), sd=sd, rho=rho)

    def shared(t: float) -> float:
        return blip(t)

    e, r = counts(
        rng,
        times,
        rps=rps,
        interval=interval,
        sd=sd,
        load=load,
        latent=latent,
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
    )


def _p99_case(
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
) -> Case:
    base_t, win_t = _times(interval=interval, baseline=1800.0, duration=duration)
    times = base_t + win_t
    sigma = 0.12 if heavy else 0.08
    common = _ar(rng, len(times), sd=sigma, rho=rho, heavy=heavy)
    own = _ar(rng, len(times), sd=sigma * 0.5, rho=0.0)
    v = p99s(rng, times, latent=common + own, worse=lambda t: drift(t) * (worse(t) if t > 0 else 1.0))
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
        family, level, fair, d, {"checks": [static_p99()]}, {"duration": duration, "interval": interval}
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


def generated() -> Iterator[Case]:
    rng = np.random.default_rng(20261201)
    i = 0

    def nxt() -> int:
        nonlocal i
        i += 1
        return i

    # ---- healthy, with a fair `before` comparison ----
    for rps in RPS:
        for _ in range(20):
            yield _errors_case(rng, nxt(), "healthy errors", rps=rps, expect="passed")
    for rps in (100.0, 1000.0):
        for _ in range(30):
            yield _errors_case(
                rng, nxt(), "healthy errors, overdispersed", rps=rps, expect="passed", sd=0.3, rho=0.8
            )
    for _ in range(40):
        yield _p99_case(rng, nxt(), "healthy p99", expect="passed", level="independent")
    for _ in range(60):
        yield _p99_case(
            rng,
            nxt(),
            "healthy p99, autocorrelated",
            expect="passed",
            level="AR 0.7, t(3)",
            rho=0.7,
            heavy=True,
        )
    for _ in range(40):
        # ~1.6 req/s: 49 requests per 30 s sample at 1%; the absolute max of 2% is the only limit
        case = _errors_case(
            rng, nxt(), "absolute max, low traffic", rps=1.63, expect="passed", level="1.6 req/s"
        )
        check = {"name": "errors", "type": "error_rate", "max": 0.02, "confidence": 0.95}
        case.doc["policy"]["checks"] = [check]
        for role in ("errors",):
            pts = case.doc["data"]["errors"][role]
            reqs = case.doc["data"]["errors"]["requests"]
            case.doc["data"]["errors"][role] = [
                [t, float(rng.binomial(int(r), 0.01))] for (t, _), (_, r) in zip(pts, reqs, strict=True)
            ]
        yield case
    # ---- healthy, but `before` cannot tell it from a regression ----
    for _ in range(40):
        yield _errors_case(
            rng,
            nxt(),
            "traffic ramp (before)",
            rps=100.0,
            expect="passed",
            fair=False,
            load=ramp(3.0),
            level="100 req/s",
        )
    for _ in range(40):
        yield _p99_case(
            rng,
            nxt(),
            "p99 drift 1.25x/40 min (before)",
            expect="passed",
            level="drift",
            fair=False,
            drift=ramp(1.25, start=-1800.0, end=600.0),
        )
    for _ in range(40):
        yield _errors_case(
            rng,
            nxt(),
            "unrelated blip (before)",
            rps=100.0,
            expect="passed",
            fair=False,
            blip=step(5.0, at=240.0, until=300.0),
            level="100 req/s",
        )
    # ---- healthy under a concurrent control ----
    for rps in (5.0, 20.0, 100.0, 1000.0):
        for _ in range(15):
            yield _errors_case(
                rng,
                nxt(),
                "shared ramp (control)",
                rps=rps,
                expect="passed",
                load=ramp(3.0),
                sd=0.2,
                rho=0.5,
                control=True,
            )
    for _ in range(40):
        yield _p99_case(
            rng,
            nxt(),
            "shared drift (control)",
            expect="passed",
            level="drift",
            drift=ramp(1.5, start=-1800.0, end=600.0),
            control=True,
            rho=0.5,
        )
    for _ in range(40):
        yield _errors_case(
            rng,
            nxt(),
            "shared blip (control)",
            rps=100.0,
            expect="passed",
            blip=step(5.0, at=240.0, until=300.0),
            control=True,
        )
    # ---- regressions ----
    for mult in (2.0, 3.0, 5.0):
        for rps in (1.0, 5.0, 20.0, 100.0, 1000.0):
            for _ in range(8):
                yield _errors_case(
                    rng, nxt(), f"errors x{mult:g} (before)", rps=rps, expect="failed", worse=step(mult)
                )
    for rps in (20.0, 100.0, 1000.0):
        for _ in range(10):
            yield _errors_case(
                rng,
                nxt(),
                "errors x3 from 3 min (before)",
                rps=rps,
                expect="failed",
                worse=step(3.0, at=180.0),
            )
    for shift in (1.5, 2.0):
        for rho, heavy, level in ((0.0, False, "independent"), (0.7, True, "AR 0.7, t(3)")):
            for _ in range(20):
                yield _p99_case(
                    rng,
                    nxt(),
                    f"p99 x{shift:g} (before)",
                    expect="failed",
                    level=level,
                    worse=step(shift),
                    rho=rho,
                    heavy=heavy,
                )
    for _ in range(20):
        yield _p99_case(
            rng,
            nxt(),
            "p99 creeping to x2 (before)",
            expect="failed",
            level="independent",
            worse=ramp(2.0, start=0.0, end=600.0),
        )
    for mult in (2.0, 3.0):
        for rps in (5.0, 20.0, 100.0, 1000.0):
            for _ in range(15):
                yield _errors_case(
                    rng,
                    nxt(),
                    f"canary errors x{mult:g} (control)",
                    rps=rps,
                    expect="failed",
                    worse=step(mult),
                    control=True,
                    load=ramp(2.0),
                    sd=0.2,
                    rho=0.5,
                )
    for _ in range(30):
        yield _p99_case(
            rng,
            nxt(),
            "canary p99 x1.6 (control)",
            expect="failed",
            level="shared drift",
            worse=step(1.6),
            control=True,
            drift=ramp(1.3, start=-1800.0, end=600.0),
            rho=0.5,
        )


def long_windows() -> Iterator[Case]:
    """Healthy deploys, errors overdispersed at 1,000 req/s: false fails by window length and interval."""
    rng = np.random.default_rng(7)
    i = 0
    for interval in (10.0, 30.0):
        for duration in (600.0, 1200.0, 1800.0, 3600.0):
            for _ in range(25):
                i += 1
                yield _errors_case(
                    rng,
                    i,
                    "long window",
                    rps=1000.0,
                    expect="passed",
                    sd=0.3,
                    rho=0.8,
                    interval=interval,
                    duration=duration,
                    level=f"{duration / 60:g} min at {interval:g} s",
                )


def at_the_edge(runs: int = 60, seed: int = 11) -> Iterator[Case]:
    """Deploys exactly at the edge of tolerance (errors 1.5x, p99 1.3x): the guarantee's worst case, <= 5%."""
    rng = np.random.default_rng(seed)
    i = 0
    edge_errors = {**ERRORS_CHECK, "baseline": {"max_ratio": 1.5}}
    for interval, duration in ((30.0, 600.0), (10.0, 3600.0)):
        for _ in range(runs):
            i += 1
            case = _errors_case(
                rng,
                i,
                "at the tolerance edge",
                rps=1000.0,
                expect="passed",
                sd=0.3,
                rho=0.8,
                worse=step(1.5),
                interval=interval,
                duration=duration,
                level=f"errors 1.5x, overdispersed, {duration / 60:g} min at {interval:g} s",
            )
            case.doc["policy"]["checks"] = [edge_errors]
            yield case
    for _ in range(runs):
        i += 1
        yield _p99_case(
            rng,
            i,
            "at the tolerance edge",
            expect="passed",
            level="p99 1.3x, AR 0.7, t(3)",
            rho=0.7,
            heavy=True,
            worse=step(1.3),
        )
