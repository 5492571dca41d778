"""Weeks of a service's traffic with past deploys, a third of them regressions: one history, three shapes.

The same counts go into Prometheus (OpenMetrics for promtool), the Datadog fake and the Sentry fake.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watchdog.backtest.deploys import Label

STEP = 15  # seconds between the points of every series
DAY = 86400
HEALTHY_ERRORS = 0.005
PEAK_RPS = 50.0
LATENCY = 0.2  # seconds, p99 when healthy
REGRESSION_S = 3600  # a bad version serves this long (then the next fix ships)


@dataclass(frozen=True)
class Deploy:
    index: int
    at: int  # epoch seconds, a multiple of 30
    version: str
    label: Label  # good | bad
    error_rate: float = HEALTHY_ERRORS  # while this version serves (for REGRESSION_S)
    latency_factor: float = 1.0
    # Which verdicts any sane rule gives it: failed for a clear regression, passed for a healthy deploy;
    # both passed and inconclusive where traffic is below min_requests, and so on.
    allowed: frozenset[str] = field(default_factory=frozenset)

    @property
    def deployed_at(self) -> str:
        return datetime.fromtimestamp(self.at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def line(self) -> str:
        return json.dumps({"version": self.version, "deployed_at": self.deployed_at, "label": self.label})


def load(t: float) -> float:
    """Share of peak traffic at time t: a diurnal swing from 3% at midnight UTC to 97% at noon."""
    return 0.5 - 0.47 * math.cos(2 * math.pi * (t % DAY) / DAY)


# (error rate, latency factor) of the regressions, by deploy index; the rest are healthy.
REGRESSIONS: dict[int, tuple[float, float]] = {
    1: (0.03, 1.0),
    4: (0.06, 1.0),
    7: (0.10, 1.0),
    10: (0.005, 3.0),  # 00:00 UTC: too little traffic for errors, latency still tells
    13: (0.25, 1.0),  # 02:24 UTC: low traffic, a large regression
    16: (0.04, 2.0),
    19: (0.035, 1.0),  # the smallest: +3% over a tolerance of +1% and x2
    22: (0.15, 1.0),
    25: (0.08, 2.5),
    20: (0.25, 1.0),  # 00:00 UTC: errors only, below min_requests per sample
}
WITHIN_TOLERANCE = {28: 0.008}  # a change the rules tolerate (ratio 1.6 < 2, +0.3% < +1%): good


def plan(*, end: int, count: int = 30, spacing: int = 60480) -> list[Deploy]:
    """`count` deploys every `spacing` seconds (16.8 h walks through every hour of the day)."""
    first = (end - 4 * 3600 - (count - 1) * spacing) // DAY * DAY  # midnight, so index 0 is at 00:00
    out = []
    for i in range(count):
        at = first + i * spacing
        low = load(at) * PEAK_RPS * 30 < 100  # below min_requests per 30 s sample
        if i in REGRESSIONS:
            rate, lat = REGRESSIONS[i]
            errors_only = lat == 1.0
            allowed = {"failed", "inconclusive"} if low and errors_only else {"failed"}
            out.append(Deploy(i, at, f"1.{i}.0", "bad", rate, lat, frozenset(allowed)))
        else:
            rate = WITHIN_TOLERANCE.get(i, HEALTHY_ERRORS)
            allowed = {"passed", "inconclusive"} if low else {"passed"}
            out.append(Deploy(i, at, f"1.{i}.0", "good", rate, 1.0, frozenset(allowed)))
    return out


@dataclass
class History:
    """Per STEP: (timestamp, requests, errors, latency, serving version) from `start` to `end`."""

    start: int
    end: int
    deploys: list[Deploy]
    seed: int = 14

    def steps(self) -> Iterator[tuple[int, int, int, float, Deploy | None]]:
        rng = random.Random(self.seed)
        order = sorted(self.deploys, key=lambda d: d.at)
        i = -1
        for t in range(self.start, self.end, STEP):
            while i + 1 < len(order) and order[i + 1].at < t:
                i += 1
            live = order[i] if i >= 0 else None
            bad = live is not None and t - live.at <= REGRESSION_S
            rate = live.error_rate if (live is not None and (bad or live.label == "good")) else HEALTHY_ERRORS
            if live is not None and live.label == "bad" and not bad:
                rate = HEALTHY_ERRORS
            factor = live.latency_factor if (live is not None and bad) else 1.0
            requests = _poisson(rng, load(t) * PEAK_RPS * STEP)
            errors = (
                sum(1 for _ in range(requests) if rng.random() < rate)
                if requests < 400
                else _poisson(rng, requests * rate)
            )
            latency = LATENCY * factor * (1 + 0.1 * load(t)) * (1 + rng.gauss(0, 0.02))
            yield t, requests, errors, latency, live

    def openmetrics(self, path: Path) -> None:
        """Counters and a gauge as OpenMetrics text, which `promtool tsdb create-blocks-from` reads."""
        ok: list[str] = []
        err: list[str] = []
        lat: list[str] = []
        total_ok = total_err = 0
        for t, requests, errors, latency, _live in self.steps():
            total_ok += requests - errors
            total_err += errors
            ok.append(f'http_requests_total{{job="shop",code="200"}} {total_ok} {t}')
            err.append(f'http_requests_total{{job="shop",code="500"}} {total_err} {t}')
            lat.append(f'shop_latency_p99_seconds{{job="shop"}} {latency:.5f} {t}')
        # The stable version serving beside each deploy (job="shop-stable"): always healthy, same load.
        stable_ok: list[str] = []
        stable_err: list[str] = []
        rng = random.Random(self.seed + 1)
        total_ok = total_err = 0
        for t in range(self.start, self.end, STEP):
            requests = _poisson(rng, load(t) * PEAK_RPS * STEP)
            errors = _poisson(rng, requests * HEALTHY_ERRORS)
            total_ok += requests - min(errors, requests)
            total_err += min(errors, requests)
            stable_ok.append(f'http_requests_total{{job="shop-stable",code="200"}} {total_ok} {t}')
            stable_err.append(f'http_requests_total{{job="shop-stable",code="500"}} {total_err} {t}')
        text = [
            "# TYPE http_requests counter",
            *ok,
            *err,
            *stable_ok,
            *stable_err,
            "# TYPE shop_latency_p99_seconds gauge",
            *lat,
            "# EOF",
        ]
        path.write_text("\n".join(text) + "\n")


def _poisson(rng: random.Random, mean: float) -> int:
    if mean < 30:
        limit, k, p = math.exp(-mean), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


def near_deploys(
    history: History, *, before: int = 2400, after: int = 1200
) -> Iterator[tuple[int, int, int, float, Deploy | None]]:
    """The steps around each deploy only: what the SaaS fakes need to hold in memory."""
    spans = [(d.at - before, d.at + after) for d in history.deploys]
    for step in history.steps():
        if any(a <= step[0] <= b for a, b in spans):
            yield step


DD_ERRORS = "sum:shop.errors{env:prod}.as_count()"
DD_REQUESTS = "sum:shop.requests{env:prod}.as_count()"
DD_P99 = "max:shop.p99{env:prod}"


def load_datadog(fake: Any, history: History) -> None:
    """Counts per 15 s rollup (a point's time is the start of what it counts) and the p99 gauge."""
    errors, requests, p99 = [], [], []
    for t, n, e, latency, _live in near_deploys(history):
        errors.append((t - STEP, float(e)))
        requests.append((t - STEP, float(n)))
        p99.append((t - STEP, latency))
    fake.add(DD_ERRORS, errors, interval=STEP)
    fake.add(DD_REQUESTS, requests, interval=STEP)
    fake.add(DD_P99, p99, interval=STEP)


def load_sentry(fake: Any, history: History) -> None:
    """Error events and transactions of the release serving at each step, as counts."""
    from tests.fakes.sentry import Event

    for t, n, e, _latency, live in near_deploys(history):
        release = live.version if live is not None else "0.9.0"
        if e:
            fake.events.append(Event(t - STEP + 1, "error", release, count=e))
        if n:
            fake.events.append(Event(t - STEP + 1, "transaction", release, count=n))
