"""The real Prometheus and the daemon: a healthy app that never served a 5xx has no 5xx series at all.

Its errors query returns an empty vector while requests flow; that is 0 errors, so the deploy passes and
its artifact becomes the stable one (before, every such deploy ended inconclusive).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.daemon import Daemon
from tests.fakes.prometheus_server import PrometheusProcess, running_prometheus
from watchdog.demo import DemoApp
from watchdog.sources.counts import ZERO_NOTE
from watchdog.store import Store

pytestmark = pytest.mark.slow

POLICY = """\
service: shop
defaults:
  verification: {duration: 6s, interval: 1s, warmup: 1s, failure_limit: 2, baseline_window: 30s}
  on_failure: alert
  on_inconclusive: alert
environments:
  staging:
    checks:
      - name: errors
        type: error_rate
        source: prom
        errors: sum(increase(demo_requests_total{code=~"5.."}[5s]))
        requests: sum(increase(demo_requests_total[5s]))
        max: 0.02
        min_requests: 10
"""


@pytest.fixture
def app() -> Iterator[DemoApp]:
    with DemoApp(port=0, version="2.0.0", rps=200, seed=3, declare_errors=False) as demo:
        demo.set_error_rate(0.0)
        yield demo


@pytest.fixture
def prometheus(app: DemoApp, tmp_path: Path) -> Iterator[PrometheusProcess]:
    with running_prometheus(targets=[app.url], workdir=tmp_path / "prometheus") as prom:
        yield prom


def test_no_5xx_series_passes_and_becomes_stable(
    app: DemoApp, prometheus: PrometheusProcess, tmp_path: Path
) -> None:
    assert prometheus.query('demo_requests_total{code=~"5.."}') == []  # there really is no 5xx series
    config = tmp_path / "config"
    (config / "services").mkdir(parents=True)
    (config / "watchdog.yaml").write_text(
        f"sources:\n  prom: {{type: prometheus, url: '{prometheus.url}'}}\n"
    )
    (config / "services" / "shop.yaml").write_text(POLICY)
    daemon = Daemon(config=config, data=tmp_path / "data").start()
    try:
        deployment = daemon.notify(
            service="shop", environment="staging", version="2.0.0", artifact="shop@sha256:aa"
        )
        final = daemon.wait_state(deployment, {"passed", "failed", "inconclusive"}, timeout=60)
    finally:
        daemon.stop()
    assert final["state"] == "passed", final["reasons"]
    judged = [s for s in final["samples"] if not s.get("warmup")]
    assert judged and all(s["outcome"] == "pass" for s in judged), judged
    # The API answer says why there was an error rate at all: no 5xx series was read as 0 errors.
    assert all(s["note"] == ZERO_NOTE for s in judged), judged
    assert all(ZERO_NOTE in s["reason"] for s in judged), judged  # and the reason a person reads says so
    store = Store(f"sqlite:///{tmp_path / 'data' / 'watchdog.db'}")
    try:
        stable = store.rollback_candidate(service="shop", environment="staging", exclude_artifact="other")
        assert stable is not None and stable.artifact == "shop@sha256:aa"
        (verification,) = [v for v in [store.deploy_verification(deployment)] if v is not None]
        notes = {str(s.measurement.get("note")) for s in store.samples_for(verification.id)}
    finally:
        store.close()
    assert ZERO_NOTE in notes, notes
