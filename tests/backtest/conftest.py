"""One backfilled Prometheus for the backtest tests: three weeks of a shop's traffic and 30 past deploys.

History ends four hours before now, so every sample sits in a block outside Prometheus' head.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.backtest.synthetic import DAY, Deploy, History, plan
from tests.fakes.prometheus_server import PrometheusProcess, backfilled_prometheus

POLICY = """\
service: shop
defaults:
  verification: {duration: 10m, interval: 30s, warmup: 60s, failure_limit: 2, baseline_window: 30m}
  on_failure: rollback
  target: k8s
environments:
  production:
    checks:
      - name: healthz
        type: http
        url: "http://127.0.0.1:9/healthz"
      - name: errors
        type: error_rate
        source: prom
        errors: sum(increase(http_requests_total{job="shop",code=~"5.."}[30s]))
        requests: sum(increase(http_requests_total{job="shop"}[30s]))
        max: 0.05
        baseline: {max_ratio: 2, max_increase: 0.01}
        min_requests: 100
        confidence: 0.99
      - name: p99
        type: latency
        source: prom
        query: max(shop_latency_p99_seconds{job="shop"})
        max: 1.0
        baseline: {max_ratio: 1.5}
"""


@dataclass
class Shop:
    prometheus: PrometheusProcess
    deploys: list[Deploy]
    history: History


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    workdir = tmp_path_factory.mktemp("backfilled-prometheus")
    end = int(time.time()) // 30 * 30
    deploys = plan(end=end)
    history = History(start=deploys[0].at - 2 * DAY, end=end - 3 * 3600, deploys=deploys)
    openmetrics = workdir / "history.om"
    history.openmetrics(openmetrics)
    with backfilled_prometheus(openmetrics=openmetrics, workdir=workdir) as prom:
        yield Shop(prometheus=prom, deploys=deploys, history=history)


def write_config(root: Path, *, sources: str, policy: str = POLICY) -> Path:
    (root / "services").mkdir(parents=True, exist_ok=True)
    targets = "targets:\n  k8s: {type: kubernetes, namespace: shop, deployment: shop, container: app}\n"
    (root / "watchdog.yaml").write_text(f"sources:\n{sources}{targets}")
    (root / "services" / "shop.yaml").write_text(policy)
    return root


def write_deploys(path: Path, deploys: list[Deploy], *, extra: Sequence[str] = ()) -> Path:
    path.write_text("\n".join([*extra, *(d.line() for d in deploys)]) + "\n")
    return path
