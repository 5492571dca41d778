"""compare_to: control end to end at the source: the check's and the control's queries in one sample.

The real Prometheus scrapes one app serving two versions (labelled); the Datadog and Sentry fakes answer
the same shapes as the services. The merged measurement then goes through the Evaluator's control test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, generate_latest

from tests.conftest import KNOWN_SECRET
from tests.fakes.datadog import FakeDatadog
from tests.fakes.prometheus_server import PrometheusProcess, running_prometheus
from tests.fakes.scripted_http import Recorded, Reply, ScriptedServer
from tests.fakes.sentry import FakeSentry
from tests.sources.helpers import check, ctx
from watchdog.analysis import Evaluator, Timing, Verdict
from watchdog.engine.sampling import sample_all
from watchdog.plumbing import Plumbing
from watchdog.policy.connections import (
    DatadogSourceConfig,
    PrometheusSourceConfig,
    ScrapeSourceConfig,
    SentrySourceConfig,
)
from watchdog.sources.base import SampleContext
from watchdog.sources.datadog import DatadogSource
from watchdog.sources.prometheus import PrometheusSource
from watchdog.sources.scrape import ScrapeSource
from watchdog.sources.sentry import SentrySource


class TwoVersions:
    """One app, two versions serving side by side: the stable one at 0.5% errors, the canary at 20%."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("shop_requests", "requests", ["version", "code"], registry=self.registry)
        self._stop = threading.Event()
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = generate_latest(app.registry)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._threads = [
            threading.Thread(target=self.server.serve_forever, daemon=True),
            threading.Thread(target=self._traffic, daemon=True),
        ]

    def _traffic(self) -> None:
        n = 0
        while not self._stop.is_set():
            for _ in range(20):
                n += 1
                self.requests.labels("1.0.0", "500" if n % 200 == 0 else "200").inc()
                self.requests.labels("1.1.0", "500" if n % 5 == 0 else "200").inc()
            time.sleep(0.05)

    def __enter__(self) -> TwoVersions:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        for t in self._threads:
            t.join(timeout=5)


def canary_ctx(**kw: Any) -> SampleContext:
    base = ctx(version="1.1.0")
    return SampleContext(**{**base.__dict__, "stable_version": "1.0.0", **kw})


def control_check(source: str, errors: str, requests: str, c_errors: str, c_requests: str) -> Any:
    return check(
        name="errors",
        type="error_rate",
        source=source,
        errors=errors,
        requests=requests,
        control={"errors": c_errors, "requests": c_requests},
        baseline={"compare_to": "control", "max_ratio": 1.5},
        confidence=0.99,
    )


def judge_series(chk: Any, samples: list[Any]) -> Any:
    timing = Timing(
        duration=float(len(samples)), interval=1.0, warmup=0.0, failure_limit=2, min_conclusive=0.5
    )
    ev = Evaluator(checks=[chk], timing=timing, baselines={})
    decision = None
    for k, m in enumerate(samples, start=1):
        _, decision = ev.observe(k=k, measurements={"errors": m})
        if decision is not None:
            break
    return decision


@pytest.fixture
def two_versions() -> Iterator[TwoVersions]:
    with TwoVersions() as app:
        yield app


@pytest.fixture
def prometheus(two_versions: TwoVersions, tmp_path: Path) -> Iterator[PrometheusProcess]:
    with running_prometheus(targets=[two_versions.url], workdir=tmp_path / "prometheus") as prom:
        yield prom


Q = 'sum(increase(shop_requests_total{{version="{{{{ {v} }}}}"{code}}}[5s]))'


@pytest.mark.slow
async def test_real_prometheus_canary_against_its_stable_version(prometheus: PrometheusProcess) -> None:
    chk = control_check(
        "prom",
        Q.format(v="version", code=',code="500"'),
        Q.format(v="version", code=""),
        Q.format(v="stable_version", code=',code="500"'),
        Q.format(v="stable_version", code=""),
    )
    src = PrometheusSource("prom", PrometheusSourceConfig(type="prometheus", url=prometheus.url))
    try:
        deadline = time.monotonic() + 30
        samples: list[Any] = []
        while time.monotonic() < deadline and len(samples) < 6:
            got = await sample_all(
                sources={"prom": src}, checks=[chk], at=datetime.now(UTC), interval=1, ctx=canary_ctx()
            )
            m = got["errors"]
            if (m.values.get("requests") or 0) > 0 and (m.values.get("control_requests") or 0) > 0:
                samples.append(m)
            time.sleep(1.0)
        assert len(samples) >= 3, samples
        first = samples[0].values
        assert first["errors"] is not None and first["control_errors"] is not None
        # {{ version }} and {{ stable_version }} picked the two versions' series: 20% against 0.5%
        assert first["errors"] / first["requests"] > 0.1
        assert first["control_errors"] / first["control_requests"] < 0.05
        decision = judge_series(chk, samples)
        assert decision is not None and decision.verdict is Verdict.FAILED
        assert "vs control" in decision.reasons[0]
    finally:
        await src.aclose()


async def test_prometheus_control_without_a_stable_version_has_no_data(prometheus: PrometheusProcess) -> None:
    """No stable version known: the control query keeps its placeholder and finds nothing, not everything."""
    chk = control_check(
        "prom",
        Q.format(v="version", code=',code="500"'),
        Q.format(v="version", code=""),
        Q.format(v="stable_version", code=',code="500"'),
        Q.format(v="stable_version", code=""),
    )
    src = PrometheusSource("prom", PrometheusSourceConfig(type="prometheus", url=prometheus.url))
    try:
        got = await sample_all(
            sources={"prom": src}, checks=[chk], at=datetime.now(UTC), interval=1, ctx=ctx(version="1.1.0")
        )
        m = got["errors"]
        assert m.values.get("control_requests") is None
    finally:
        await src.aclose()


DEPLOY = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


async def test_datadog_control_queries_in_the_same_sample() -> None:
    env = {"DD_API_KEY": KNOWN_SECRET, "DD_APP_KEY": "app-key-0123456789"}
    with FakeDatadog(api_key=KNOWN_SECRET, app_key="app-key-0123456789") as fake:
        t0 = DEPLOY.timestamp()
        for v, errors in (("1.1.0", 60.0), ("1.0.0", 5.0)):
            base = "trace.http.request.{}{{service:checkout,version:" + v + "}}.as_count()"
            fake.add("sum:" + base.format("errors"), [(t0 + 30 * k, errors) for k in range(10)])
            fake.add("sum:" + base.format("hits"), [(t0 + 30 * k, 1000.0) for k in range(10)])
        config = DatadogSourceConfig(
            type="datadog", host=fake.url, api_key_env="DD_API_KEY", app_key_env="DD_APP_KEY"
        )
        src = DatadogSource("dd", config, plumbing=Plumbing(environ=env))
        tmpl = "sum:trace.http.request.{}{{service:checkout,version:{{{{ {} }}}}}}.as_count()"
        chk = control_check(
            "dd",
            tmpl.format("errors", "version"),
            tmpl.format("hits", "version"),
            tmpl.format("errors", "stable_version"),
            tmpl.format("hits", "stable_version"),
        )
        c = canary_ctx(deployed_at=DEPLOY)
        try:
            samples = []
            for k in range(1, 9):
                at = DEPLOY + timedelta(seconds=30 * k)
                got = await sample_all(sources={"dd": src}, checks=[chk], at=at, interval=30, ctx=c)
                samples.append(got["errors"])
        finally:
            await src.aclose()
    assert samples[0].values == {
        "errors": 60.0,
        "requests": 1000.0,
        "control_errors": 5.0,
        "control_requests": 1000.0,
    }
    decision = judge_series(chk, samples)
    assert decision is not None and decision.verdict is Verdict.FAILED


async def test_sentry_control_is_the_stable_release() -> None:
    with FakeSentry(token=KNOWN_SECRET) as fake:
        t0 = DEPLOY.timestamp()
        for release, every in (("1.1.0", 2.0), ("1.0.0", 30.0)):
            fake.add_events(
                type="error", release=release, times=[t0 + i * every for i in range(int(300 / every))]
            )
            fake.add_events(type="transaction", release=release, times=[t0 + i * 0.5 for i in range(600)])
        config = SentrySourceConfig(
            type="sentry", url=fake.url, organization="acme", project="checkout", token_env="SENTRY_TOKEN"
        )
        src = SentrySource("sentry", config, plumbing=Plumbing(environ={"SENTRY_TOKEN": KNOWN_SECRET}))
        chk = control_check(
            "sentry",
            "events",
            "transactions",
            "events release:{{ stable_version }}",
            "transactions release:{{ stable_version }}",
        )
        c = canary_ctx(deployed_at=DEPLOY)
        try:
            samples = []
            for k in range(1, 9):
                at = DEPLOY + timedelta(seconds=30 * k)
                got = await sample_all(sources={"sentry": src}, checks=[chk], at=at, interval=30, ctx=c)
                samples.append(got["errors"])
        finally:
            await src.aclose()
    first = samples[0].values
    assert first["errors"] == 15.0 and first["control_errors"] == 1.0
    assert first["requests"] == 60.0 and first["control_requests"] == 60.0
    decision = judge_series(chk, samples)
    assert decision is not None and decision.verdict is Verdict.FAILED


class PodExposition(ScriptedServer):
    """One pod's /metrics: counters the test moves between samples."""

    def __init__(self) -> None:
        super().__init__()
        self.total, self.failed = 1000.0, 5.0

    def handle(self, request: Recorded) -> Reply:
        body = (
            "# TYPE http_requests_total counter\n"
            f'http_requests_total{{code="200"}} {self.total - self.failed}\n'
            f'http_requests_total{{code="500"}} {self.failed}\n'
        )
        return Reply(200, body.encode())


async def test_scrape_control_from_a_second_url() -> None:
    """The canary pod and a stable pod, each its own scrape source; the control names the second one."""
    with PodExposition() as canary, PodExposition() as stable:
        sources: dict[str, Any] = {
            "canary": ScrapeSource("canary", ScrapeSourceConfig(type="scrape", url=canary.url + "/metrics")),
            "stable": ScrapeSource("stable", ScrapeSourceConfig(type="scrape", url=stable.url + "/metrics")),
        }
        chk = check(
            name="errors",
            type="error_rate",
            source="canary",
            errors='http_requests_total{code="500"}',
            requests="http_requests_total",
            control={
                "source": "stable",
                "errors": 'http_requests_total{code="500"}',
                "requests": "http_requests_total",
            },
            baseline={"compare_to": "control", "max_ratio": 1.5},
            confidence=0.99,
        )
        c = canary_ctx()
        try:
            samples = []
            for _ in range(7):
                got = await sample_all(
                    sources=sources, checks=[chk], at=datetime.now(UTC), interval=30, ctx=c
                )
                samples.append(got["errors"])
                canary.total, canary.failed = canary.total + 1000, canary.failed + 40
                stable.total, stable.failed = stable.total + 1000, stable.failed + 5
        finally:
            for s in sources.values():
                await s.aclose()
    assert samples[0].values["control_requests"] is None  # the first scrape of a counter has no increase
    assert samples[1].values == {
        "errors": 40.0,
        "requests": 1000.0,
        "control_errors": 5.0,
        "control_requests": 1000.0,
    }
    decision = judge_series(chk, samples)
    assert decision is not None and decision.verdict is Verdict.FAILED
    assert "vs control" in decision.reasons[0]
