"""The labelled corpus of bench/quality.py: generated deploys in families, each with its ground truth.

Healthy noise at 0.2-1,000 req/s, overdispersion, heavy-tailed autocorrelated p99, ramps, drifts and blips
(shared by both versions under a control), regressions of several shapes, and long windows. Seeded.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from bench.quality_cases import (
    ERRORS_CHECK,
    RPS,
    Case,
    control_of,
    errors_case,
    p99_case,
    ramp,
    step,
)


def generated(seed: int = 20261201) -> Iterator[Case]:
    rng = np.random.default_rng(seed)
    i = 0

    def nxt() -> int:
        nonlocal i
        i += 1
        return i

    # ---- healthy, with a fair `before` comparison ----
    for rps in RPS:
        for _ in range(20):
            yield errors_case(rng, nxt(), "healthy errors", rps=rps, expect="passed")
    for rps in (100.0, 1000.0):
        for _ in range(30):
            yield errors_case(
                rng, nxt(), "healthy errors, overdispersed", rps=rps, expect="passed", sd=0.3, rho=0.8
            )
    for _ in range(40):
        yield p99_case(rng, nxt(), "healthy p99", expect="passed", level="independent")
    for _ in range(60):
        yield p99_case(
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
        case = errors_case(
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
        yield errors_case(
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
        yield p99_case(
            rng,
            nxt(),
            "p99 drift 1.25x/40 min (before)",
            expect="passed",
            level="drift",
            fair=False,
            drift=ramp(1.25, start=-1800.0, end=600.0),
        )
    for _ in range(40):
        yield errors_case(
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
            yield errors_case(
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
        yield p99_case(
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
        yield errors_case(
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
                yield errors_case(
                    rng, nxt(), f"errors x{mult:g} (before)", rps=rps, expect="failed", worse=step(mult)
                )
    for rps in (20.0, 100.0, 1000.0):
        for _ in range(10):
            yield errors_case(
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
                yield p99_case(
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
        yield p99_case(
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
                yield errors_case(
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
        yield p99_case(
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


def long_windows(seed: int = 7) -> Iterator[Case]:
    """Healthy deploys, errors overdispersed at 1,000 req/s: false fails by window length and interval."""
    rng = np.random.default_rng(seed)
    i = 0
    for interval in (10.0, 30.0):
        for duration in (600.0, 1200.0, 1800.0, 3600.0):
            for _ in range(25):
                i += 1
                yield errors_case(
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
            case = errors_case(
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
        yield p99_case(
            rng,
            i,
            "at the tolerance edge",
            expect="passed",
            level="p99 1.3x, AR 0.7, t(3)",
            rho=0.7,
            heavy=True,
            worse=step(1.3),
        )
    # Added with the split-dispersion work (after the rows above, so their draws are unchanged): a canary
    # whose error rate wanders on its own by 30% per sample, against a calm control and a calm baseline.
    # Shared shocks cancel in a control comparison; this noise does not, and nothing before the first pair
    # shows it: at 1,000 req/s one pair at a binomial spread would carry the whole test.
    # Then (its second round, after every row above) the same canary wandering by 50% per sample,
    # beyond the split's own prior: the pairs themselves must show it.
    edge_control = control_of(edge_errors)
    for own in (0.3, 0.5):
        for _ in range(runs):
            i += 1
            case = errors_case(
                rng,
                i,
                "at the tolerance edge",
                rps=1000.0,
                expect="passed",
                worse=step(1.5),
                control=True,
                own=own,
                level=f"canary errors 1.5x, own noise {own:.0%}, control, 10 min at 30 s",
            )
            case.doc["policy"]["checks"] = [edge_control]
            yield case
    # Then (after every row above) a canary p99 exactly at 1.3x its control, under a shared drift, with 30%
    # noise of its own per sample that the baseline never showed: the control test cannot take the spread
    # from the baseline (scaled by it, these failed 15-17% of windows).
    for _ in range(runs):
        i += 1
        yield p99_case(
            rng,
            i,
            "at the tolerance edge",
            expect="passed",
            level="canary p99 1.3x, own noise 30%, control, shared drift",
            worse=step(1.3),
            control=True,
            drift=ramp(1.3, start=-1800.0, end=600.0),
            rho=0.5,
            own=0.3,
        )
