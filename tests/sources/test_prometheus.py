"""The prometheus source: a scripted loopback fake for the wire details, the real binary end to end.

The real test scrapes the demo app every second, breaks it, and watches the error ratio cross a threshold.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import KNOWN_SECRET
from tests.fakes.prometheus_server import (
    FakePrometheus,
    PrometheusProcess,
    error,
    matrix,
    running_prometheus,
    vector,
)
from tests.fakes.scripted_http import Recorded, Reply
from tests.sources.helpers import NOW, check, ctx
from watchdog.analysis.judge import judge
from watchdog.analysis.models import Outcome
from watchdog.demo import DemoApp
from watchdog.errors import SourceError
from watchdog.plumbing import Plumbing
from watchdog.policy.connections import PrometheusSourceConfig
from watchdog.sources.prometheus import PrometheusSource
from watchdog.telemetry import Metrics
from watchdog.templating import Context, render


class SlowPrometheus(FakePrometheus):
    def handle(self, request: Recorded) -> Reply:
        if request.param("query") == "slow":
            time.sleep(1.0)
        return super().handle(request)


@pytest.fixture
def fake() -> Iterator[SlowPrometheus]:
    with SlowPrometheus() as server:
        yield server


def make(url: str, **config: Any) -> PrometheusSource:
    cfg = PrometheusSourceConfig.model_validate({"type": "prometheus", "url": url, **config})
    return PrometheusSource(
        "prom", cfg, plumbing=Plumbing(environ={"TOKEN": KNOWN_SECRET, "TENANT": "team-a"}), backoff=0.01
    )


@pytest.fixture
async def source(fake: SlowPrometheus) -> AsyncIterator[PrometheusSource]:
    src = make(fake.url)
    yield src
    await src.aclose()


def metric(query: str) -> Any:
    return check(type="metric", source="prom", query=query)


async def value(source: PrometheusSource, query: str) -> Any:
    return await source.sample(metric(query), at=NOW, interval=30, ctx=ctx())


# ---- the wire format, against the fake --------------------------------------------------------------


async def test_instant_query_params_and_placeholders(fake: SlowPrometheus, source: PrometheusSource) -> None:
    fake.answers['sum(up{version="1.2.0"}[30s])'] = vector("0.25")
    m = await value(source, 'sum(up{version="{{ version }}"}[{{ interval }}])')
    assert m.values == {"value": 0.25} and m.error is None and m.note is None
    sent = fake.requests[-1]
    assert sent.path == "/api/v1/query" and float(sent.param("time") or 0) == NOW.timestamp()


async def test_empty_nan_and_scalar(fake: SlowPrometheus, source: PrometheusSource) -> None:
    assert (await value(source, "absent")).values == {"value": None}
    assert (await value(source, "absent")).note == "no data"
    fake.answers["ratio"] = vector("NaN")
    assert (await value(source, "ratio")).note == "no data"
    fake.answers["scalar(1)"] = {"status": "success", "data": {"resultType": "scalar", "result": [1, "1.5"]}}
    assert (await value(source, "scalar(1)")).values == {"value": 1.5}


async def test_several_series_is_an_error(fake: SlowPrometheus, source: PrometheusSource) -> None:
    fake.answers["by_code"] = vector(1, 2, 3)
    assert (await value(source, "by_code")).error == "query returns 3 series; aggregate it (e.g. sum(...))"


async def test_promql_error_envelope(fake: SlowPrometheus, source: PrometheusSource) -> None:
    fake.answers["sum(("] = error("bad_data", "parse error at char 5: unclosed left parenthesis")
    m = await value(source, "sum((")
    assert m.error == "bad_data: parse error at char 5: unclosed left parenthesis"


async def test_error_rate_roles(fake: SlowPrometheus, source: PrometheusSource) -> None:
    fake.answers["e"] = vector(5)
    c = check(type="error_rate", source="prom", errors="e", requests="r")
    m = await source.sample(c, at=NOW, interval=30, ctx=ctx())
    assert m.values == {"errors": 5.0, "requests": None} and m.note == "requests: no data"


async def test_bearer_token_and_tenant_header(fake: SlowPrometheus) -> None:
    src = make(fake.url, bearer_token_env="TOKEN", headers={"X-Scope-OrgID": "${TENANT}"})
    try:
        await value(src, "up")
    finally:
        await src.aclose()
    sent = fake.requests[-1]
    assert sent.header("Authorization") == f"Bearer {KNOWN_SECRET}"
    assert sent.header("X-Scope-OrgID") == "team-a"


async def test_basic_auth_from_file(fake: SlowPrometheus, tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(KNOWN_SECRET + "\n")
    src = make(fake.url, username="reader", password_file=str(secret))
    try:
        await value(src, "up")
    finally:
        await src.aclose()
    expected = httpx.BasicAuth("reader", KNOWN_SECRET)._auth_header
    assert fake.requests[-1].header("Authorization") == expected


async def test_missing_secret_is_an_error(fake: SlowPrometheus) -> None:
    src = make(fake.url, bearer_token_env="NOT_SET_ANYWHERE")
    try:
        m = await value(src, "up")
    finally:
        await src.aclose()
    assert m.error is not None and "NOT_SET_ANYWHERE" in m.error and not fake.requests


async def test_5xx_then_success_is_retried(fake: SlowPrometheus) -> None:
    fake.answers["up"] = vector(1)
    fake.script(Reply(502, b"bad gateway"), Reply(503, error("unavailable", "busy"), {"Retry-After": "0"}))
    metrics = Metrics()
    cfg = PrometheusSourceConfig(type="prometheus", url=fake.url, retries=2)
    src = PrometheusSource("prom", cfg, plumbing=Plumbing(metrics=metrics), backoff=0.01)
    try:
        m = await value(src, "up")
    finally:
        await src.aclose()
    assert m.values == {"value": 1.0} and len(fake.requests) == 3
    get = metrics.registry.get_sample_value
    assert get("watchdog_source_requests_total", {"source": "prom", "outcome": "error"}) == 2
    assert get("watchdog_source_requests_total", {"source": "prom", "outcome": "ok"}) == 1
    assert get("watchdog_source_errors_total", {"source": "prom", "kind": "http_5xx"}) == 2


async def test_retries_give_up_and_redact(fake: SlowPrometheus) -> None:
    fake.script(*[Reply(500, f"token={KNOWN_SECRET} broke".encode()) for _ in range(3)])
    src = make(fake.url, retries=1)
    try:
        m = await value(src, "up")
    finally:
        await src.aclose()
    assert m.error == "HTTP 500 from prom" and len(fake.requests) == 2


async def test_long_retry_after_is_not_waited_for(fake: SlowPrometheus, source: PrometheusSource) -> None:
    fake.script(Reply(429, b"slow down", {"Retry-After": "3600"}))
    assert (await value(source, "up")).error == "HTTP 429 from prom"
    assert len(fake.requests) == 1


async def test_timeout(fake: SlowPrometheus) -> None:
    src = make(fake.url, timeout="200ms", retries=0)
    try:
        m = await value(src, "slow")
    finally:
        await src.aclose()
    assert m.error == "no answer within 0.2s"


async def test_proxy_error_without_envelope(fake: SlowPrometheus, source: PrometheusSource) -> None:
    fake.script(Reply(401, b"<html>unauthorized</html>"))
    assert (await value(source, "up")).error == "HTTP 401 from prom"


async def test_history_aligns_roles_and_drops_nan(fake: SlowPrometheus, source: PrometheusSource) -> None:
    start = NOW - timedelta(minutes=2)
    t0 = start.timestamp()
    fake.answers["e"] = matrix([(t0, 1), (t0 + 30, "NaN"), (t0 + 60, 3), (t0 + 90, 4)])
    fake.answers["r"] = matrix([(t0, 100), (t0 + 30, 100), (t0 + 60, 300)])
    c = check(type="error_rate", source="prom", errors="e", requests="r")
    baseline = await source.history(c, start=start, end=NOW, interval=30, ctx=ctx())
    assert baseline is not None
    assert baseline.values == {"errors": [1.0, 3.0], "requests": [100.0, 300.0]}
    sent = fake.paths("/api/v1/query_range")[0]
    assert float(sent.param("start") or 0) == t0 and float(sent.param("end") or 0) == t0 + 90
    assert sent.param("step") == "30"


async def test_history_errors_raise_source_error(fake: SlowPrometheus, source: PrometheusSource) -> None:
    fake.answers["many"] = matrix([(1, 1)], [(1, 2)])
    with pytest.raises(SourceError, match="query returns 2 series"):
        await source.history(metric("many"), start=NOW - timedelta(hours=1), end=NOW, interval=60, ctx=ctx())


async def test_mock_transport_envelope_without_data() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"status": "success"}))
    cfg = PrometheusSourceConfig(type="prometheus", url="http://prom")
    src = PrometheusSource("prom", cfg, plumbing=Plumbing(transport=transport))
    try:
        assert (await value(src, "up")).error == "prom answered success without data"
    finally:
        await src.aclose()


# ---- the real Prometheus, scraping the demo app -----------------------------------------------------

RATIO = 'sum(rate(demo_requests_total{code="500"}[5s])) / sum(rate(demo_requests_total[5s]))'


@pytest.fixture
def demo() -> Iterator[DemoApp]:
    with DemoApp(port=0, version="1.0.0", rps=300, seed=11) as app:
        yield app


@pytest.fixture
def prometheus(demo: DemoApp, tmp_path: Path) -> Iterator[PrometheusProcess]:
    with running_prometheus(targets=[demo.url], workdir=tmp_path / "prometheus") as prom:
        yield prom


async def poll(source: PrometheusSource, query: str, *, until: Any, limit: float = 30.0) -> float:
    deadline = time.monotonic() + limit
    last: Any = None
    while time.monotonic() < deadline:
        m = await source.sample(metric(query), at=datetime.now(UTC), interval=1, ctx=ctx())
        last = m
        v = m.values.get("value")
        if v is not None and until(v):
            return v
        await asyncio.sleep(0.5)
    raise AssertionError(f"condition not reached; last measurement {last}")


ERRORS = check(
    type="error_rate",
    source="prom",
    errors='sum(increase(demo_requests_total{code="500"}[5s]))',
    requests="sum(increase(demo_requests_total[5s]))",
    max=0.05,
)


async def judged(src: PrometheusSource) -> Outcome:
    m = await src.sample(ERRORS, at=datetime.now(UTC), interval=1, ctx=ctx())
    return judge(ERRORS, m, stats=None).outcome


@pytest.mark.slow
async def test_real_prometheus_sees_a_bad_deploy(demo: DemoApp, prometheus: PrometheusProcess) -> None:
    src = make(prometheus.url)
    try:
        await poll(src, RATIO, until=lambda v: v < 0.05)
        assert await judged(src) == Outcome.PASS
        before = datetime.now(UTC)
        demo.deploy("1.1.0")
        demo.set_error_rate(0.5)
        await poll(src, RATIO, until=lambda v: v > 0.3)
        assert await judged(src) == Outcome.FAIL  # error rate ~50% > max 5%

        # history over the last seconds: one series, per-step values, the broken tail among them.
        after = datetime.now(UTC)
        start = before - timedelta(seconds=5)
        baseline = await src.history(metric(RATIO), start=start, end=after, interval=1, ctx=ctx())
        assert baseline is not None and len(baseline.values["value"]) >= 3
        # Range steps align to the step, not to our instant query: the tail is broken, maybe not at its peak.
        values = baseline.values["value"]
        assert min(values) < 0.05 and max(values) > 0.15

        syntax = await value_now(src, "sum(rate(demo_requests_total[5s])")
        assert syntax.error is not None and syntax.error.startswith("bad_data: ")
        assert (await value_now(src, 'demo_requests_total{code="404"}')).note == "no data"
        several = await value_now(src, "demo_requests_total")
        assert several.error == "query returns 2 series; aggregate it (e.g. sum(...))"
        version = await value_now(src, 'demo_version_info{version="{{ version }}"}', version="1.1.0")
        assert version.values == {"value": 1.0}
    finally:
        await src.aclose()


async def value_now(src: PrometheusSource, query: str, *, version: str = "1.2.0") -> Any:
    return await src.sample(metric(query), at=datetime.now(UTC), interval=1, ctx=ctx(version=version))


HOSTILE_VERSIONS = ['1.0"} or vector(0) #', "a'b\\c`d", "line\nbreak\ttab", ".*", "ünï ☃ {x}", "${HOME}"]


@pytest.mark.slow
async def test_real_prometheus_reads_event_values_as_one_string_literal(
    prometheus: PrometheusProcess,
) -> None:
    async with httpx.AsyncClient(base_url=prometheus.url, timeout=5) as client:
        # absent() answers with the labels of its equality matchers: the value exactly as Prometheus read it.
        for hostile in HOSTILE_VERSIONS:
            query = render(
                'absent(no_such_metric{v="{{ version }}"})',
                {"version": hostile},
                context=Context.PROMQL,
            )
            body = (await client.get("/api/v1/query", params={"query": query})).json()
            assert body["status"] == "success", (hostile, body)
            assert body["data"]["result"][0]["metric"]["v"] == hostile
    src = make(prometheus.url)
    try:
        # The breakout version finds no series; it does not turn the check into "or vector(0)".
        assert (
            await value_now(src, 'demo_version_info{version="{{ version }}"}', version="1.0.0")
        ).values == {"value": 1.0}
        for hostile in HOSTILE_VERSIONS:
            for op in ("=", "=~"):
                m = await value_now(
                    src, f'demo_version_info{{version{op}"{{{{ version }}}}"}}', version=hostile
                )
                assert m.values == {"value": None} and m.note == "no data", (hostile, op, m)
    finally:
        await src.aclose()
