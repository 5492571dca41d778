"""The Datadog source through the official client against a loopback fake speaking v1 `/api/v1/query`.

Rate-limit waits run on an injected clock; the only real waits are a short client timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import KNOWN_SECRET
from tests.fakes.datadog import FakeDatadog, rate_limit_headers, recorded_ok, too_many
from tests.fakes.scripted_http import Reply
from watchdog.errors import ConfigError
from watchdog.plumbing import Plumbing
from watchdog.policy.checks import ErrorRateCheck, HttpCheck, LatencyCheck, MetricCheck
from watchdog.policy.connections import DatadogSourceConfig
from watchdog.sources.base import SampleContext
from watchdog.sources.datadog import DatadogSource, parse_query_response
from watchdog.telemetry import Metrics

APP_KEY = "app-key-0123456789"
ENV = {"DD_API_KEY": KNOWN_SECRET, "DD_APP_KEY": APP_KEY}
DEPLOY = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
T0 = DEPLOY.timestamp()
P99 = "p99:trace.http.request.duration{service:checkout,version:{{ version }}}"
P99_RENDERED = "p99:trace.http.request.duration{service:checkout,version:2.4.1}"
ERRORS = "sum:trace.http.request.errors{service:checkout}.as_count()"
HITS = "sum:trace.http.request.hits{service:checkout}.as_count()"
CTX = SampleContext(
    deployment_id="d1",
    verification_id="v1",
    service="checkout",
    environment="production",
    version="2.4.1",
    artifact="registry.example/checkout@sha256:abc",
    deployed_at=DEPLOY,
)
LATENCY = LatencyCheck(name="p99", type="latency", source="dd", query=P99, max=0.8)
ERROR_RATE = ErrorRateCheck(name="errors", type="error_rate", source="dd", errors=ERRORS, requests=HITS)


class FakeTime:
    """Epoch seconds the rate limiter reads; `sleep` moves it and records the wait instead of waiting."""

    def __init__(self) -> None:
        self.t = 5_000_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


@pytest.fixture
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(api_key=KNOWN_SECRET, app_key=APP_KEY) as server:
        yield server


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


def make(
    fake_url: str, clock: FakeTime, *, metrics: Metrics | None = None, **overrides: Any
) -> DatadogSource:
    config = DatadogSourceConfig(
        type="datadog", host=fake_url, api_key_env="DD_API_KEY", app_key_env="DD_APP_KEY", **overrides
    )
    plumbing = Plumbing(metrics=metrics, environ=ENV)
    return DatadogSource("dd", config, plumbing=plumbing, now=clock, sleep=clock.sleep, backoff=0.01)


@pytest.fixture
async def source(fake: FakeDatadog, clock: FakeTime) -> AsyncIterator[DatadogSource]:
    src = make(fake.url, clock)
    yield src
    await src.aclose()


def at(seconds: float) -> datetime:
    return DEPLOY + timedelta(seconds=seconds)


# ---- happy paths -------------------------------------------------------------------------------


async def test_latency_is_the_last_point_of_the_interval(fake: FakeDatadog, source: DatadogSource) -> None:
    fake.add(P99_RENDERED, [(T0 + 20, 0.30), (T0 + 40, 0.45), (T0 + 50, None), (T0 + 60, 9.9)])
    m = await source.sample(LATENCY, at=at(60), interval=30, ctx=CTX)
    assert m.error is None and m.values == {"value": 0.45}  # the point at `at` opens the next interval
    [request] = fake.requests
    assert request.path == "/api/v1/query"
    assert request.param("query") == P99_RENDERED
    start, end = int(request.param("from") or 0), int(request.param("to") or 0)
    assert start <= T0 + 30 and end >= T0 + 60 and end - start < 120  # seconds, not milliseconds
    assert request.header("DD-API-KEY") == KNOWN_SECRET
    assert request.header("DD-APPLICATION-KEY") == APP_KEY


async def test_error_rate_sums_counts_per_role(fake: FakeDatadog, source: DatadogSource) -> None:
    fake.add(ERRORS, [(T0 + 35, 2), (T0 + 45, 3), (T0 + 55, None)])
    fake.add(HITS, [(T0 + 25, 1000), (T0 + 35, 400), (T0 + 45, 500), (T0 + 55, 100)])
    m = await source.sample(ERROR_RATE, at=at(60), interval=30, ctx=CTX)
    assert m.error is None
    assert m.values == {"errors": 5.0, "requests": 1000.0}
    assert sorted(r.param("query") or "" for r in fake.requests) == sorted([ERRORS, HITS])


async def test_no_error_points_beside_requests_is_zero_errors(
    fake: FakeDatadog, source: DatadogSource
) -> None:
    fake.add(HITS, [(T0 + 35, 400)])
    m = await source.sample(ERROR_RATE, at=at(60), interval=30, ctx=CTX)
    assert m.values == {"errors": 0.0, "requests": 400.0}
    assert m.error is None and m.note == "no error series while requests were counted: 0 errors"


async def test_grouped_series_sum_counts_and_take_worst_gauge(
    fake: FakeDatadog, source: DatadogSource
) -> None:
    fake.add(P99_RENDERED, [(T0 + 40, 0.2)], scope="host:a")
    fake.add(P99_RENDERED, [(T0 + 40, 0.7)], scope="host:b")
    m = await source.sample(LATENCY, at=at(60), interval=30, ctx=CTX)
    assert m.values == {"value": 0.7}


async def test_empty_series_is_no_data(fake: FakeDatadog, source: DatadogSource) -> None:
    m = await source.sample(LATENCY, at=at(60), interval=30, ctx=CTX)
    assert m.values == {"value": None}
    assert m.error is None and m.note == "no data"
    m = await source.sample(ERROR_RATE, at=at(60), interval=30, ctx=CTX)
    assert m.values == {"errors": None, "requests": None} and m.note == "no data"


async def test_recorded_real_response_through_the_client(fake: FakeDatadog, source: DatadogSource) -> None:
    fake.bodies["system.cpu.idle{*}"] = recorded_ok()
    check = MetricCheck(name="idle", type="metric", source="dd", query="system.cpu.idle{*}")
    when = datetime.fromtimestamp(1623849600 + 1, UTC)  # just after the last recorded point
    m = await source.sample(check, at=when, interval=300, ctx=CTX)
    assert m.values == {"value": pytest.approx(94.32324359893799)}


def test_parser_reads_the_recorded_real_response() -> None:
    [series] = parse_query_response(recorded_ok())
    assert len(series.points) == 12
    assert series.points[0][0] == 1623846300.0  # ms -> s
    assert series.points[0][1] == pytest.approx(94.31900300343831)
    assert series.scope == "*"


def test_parser_refuses_malformed_points() -> None:
    body = recorded_ok()
    body["series"][0]["pointlist"][3] = [1623847200000.0, "NaN?"]
    with pytest.raises(Exception, match="malformed"):
        parse_query_response(body)


async def test_history_buckets_per_interval(fake: FakeDatadog, source: DatadogSource) -> None:
    start = DEPLOY - timedelta(minutes=5)
    fake.add(P99_RENDERED, [(start.timestamp() + 10 * k, 0.1 + 0.01 * (k // 3)) for k in range(30)])
    fake.add(ERRORS, [(start.timestamp() + 30 * k + 5, 1.0) for k in range(0, 10, 2)])
    fake.add(HITS, [(start.timestamp() + 30 * k + 5, 100.0) for k in range(10)])
    baseline = await source.history(LATENCY, start=start, end=DEPLOY, interval=30, ctx=CTX)
    assert baseline is not None
    assert baseline.values["value"] == pytest.approx([0.1 + 0.01 * k for k in range(10)])
    rates = await source.history(ERROR_RATE, start=start, end=DEPLOY, interval=30, ctx=CTX)
    assert rates is not None
    assert rates.values["requests"] == [100.0] * 10
    assert rates.values["errors"] == [1.0, 0.0] * 5


async def test_history_without_data_is_none(fake: FakeDatadog, source: DatadogSource) -> None:
    assert await source.history(LATENCY, start=at(-600), end=DEPLOY, interval=30, ctx=CTX) is None


async def test_http_checks_are_not_for_datadog(source: DatadogSource) -> None:
    check = HttpCheck(name="h", type="http", url="http://127.0.0.1:1/healthz")
    m = await source.sample(check, at=at(60), interval=30, ctx=CTX)
    assert m.error and "http" in m.error


# ---- the cache ---------------------------------------------------------------------------------


async def test_identical_queries_in_a_bucket_are_sent_once(fake: FakeDatadog, clock: FakeTime) -> None:
    metrics = Metrics()
    src = make(fake.url, clock, metrics=metrics, cache_bucket=30)
    fake.add(P99_RENDERED, [(T0 + k, 0.1) for k in range(0, 200, 10)])
    try:
        # 40 verifications whose sample times fall in the same 30 s bucket.
        bucket_start = (T0 // 30 + 3) * 30
        times = [datetime.fromtimestamp(bucket_start + (k % 29), UTC) for k in range(40)]
        results = await asyncio.gather(*(src.sample(LATENCY, at=t, interval=30, ctx=CTX) for t in times))
        assert all(m.values == {"value": 0.1} for m in results)
        assert len(fake.requests) == 1
        await src.sample(LATENCY, at=datetime.fromtimestamp(bucket_start + 30, UTC), interval=30, ctx=CTX)
        assert len(fake.requests) == 2
    finally:
        await src.aclose()
    hits = metrics.registry.get_sample_value("watchdog_source_cache_total", {"source": "dd", "result": "hit"})
    misses = metrics.registry.get_sample_value(
        "watchdog_source_cache_total", {"source": "dd", "result": "miss"}
    )
    assert (hits, misses) == (39, 2)
    ok = metrics.registry.get_sample_value(
        "watchdog_source_requests_total", {"source": "dd", "outcome": "ok"}
    )
    assert ok == 2


# ---- rate limits -------------------------------------------------------------------------------


async def test_429_is_inconclusive_and_stops_calls_until_reset(
    fake: FakeDatadog, source: DatadogSource, clock: FakeTime
) -> None:
    fake.add(P99_RENDERED, [(T0 + 40, 0.3), (T0 + 100, 0.3), (T0 + 160, 0.3)])
    fake.script(too_many(reset=23))
    m = await source.sample(LATENCY, at=at(60), interval=30, ctx=CTX)
    assert m.error == "rate limited by Datadog for 23 s more"
    assert m.values == {"value": None}
    assert len(fake.requests) == 1  # a 429 is not retried
    clock.t += 10
    m = await source.sample(LATENCY, at=at(120), interval=30, ctx=CTX)
    assert m.error == "rate limited by Datadog for 13 s more"
    assert len(fake.requests) == 1  # no call while blocked
    clock.t += 14
    m = await source.sample(LATENCY, at=at(180), interval=30, ctx=CTX)
    assert m.error is None and m.values == {"value": 0.3}
    assert len(fake.requests) == 2


async def test_low_remaining_spaces_requests(
    fake: FakeDatadog, source: DatadogSource, clock: FakeTime
) -> None:
    fake.headers = rate_limit_headers(limit=100, remaining=3, reset=30)
    fake.add(P99_RENDERED, [(T0 + 40, 0.3)])
    await source.sample(LATENCY, at=at(60), interval=30, ctx=CTX)
    assert clock.sleeps == []
    await source.sample(LATENCY, at=at(90), interval=30, ctx=CTX)
    await source.sample(LATENCY, at=at(120), interval=30, ctx=CTX)
    assert clock.sleeps and all(s > 0 for s in clock.sleeps)  # spaced, on the injected clock


async def test_exhausted_remaining_blocks_without_a_429(
    fake: FakeDatadog, source: DatadogSource, clock: FakeTime
) -> None:
    fake.headers = rate_limit_headers(limit=100, remaining=0, reset=45)
    fake.add(P99_RENDERED, [(T0 + 40, 0.3)])
    assert (await source.sample(LATENCY, at=at(60), interval=30, ctx=CTX)).error is None
    m = await source.sample(LATENCY, at=at(90), interval=30, ctx=CTX)
    assert m.error == "rate limited by Datadog for 45 s more"
    assert len(fake.requests) == 1


# ---- failures ----------------------------------------------------------------------------------


async def test_5xx_is_retried_then_succeeds(fake: FakeDatadog, source: DatadogSource) -> None:
    fake.add(P99_RENDERED, [(T0 + 40, 0.3)])
    fake.script(Reply(503, {"errors": ["unavailable"]}), Reply(502, b"<html>bad gateway</html>"))
    m = await source.sample(LATENCY, at=at(60), interval=30, ctx=CTX)
    assert m.values == {"value": 0.3} and m.error is None
    assert len(fake.requests) == 3


async def test_5xx_every_time_is_inconclusive(fake: FakeDatadog, clock: FakeTime) -> None:
    metrics = Metrics()
    src = make(fake.url, clock, metrics=metrics)
    fake.script(*[Reply(500, {"errors": ["Internal Server Error"]})] * 3)
    try:
        m = await src.sample(LATENCY, at=at(60), interval=30, ctx=CTX)
    finally:
        await src.aclose()
    assert m.error == "Datadog answered 500 (after 3 attempts)"
    assert len(fake.requests) == 3
    kind = {"source": "dd", "kind": "http_5xx"}
    assert metrics.registry.get_sample_value("watchdog_source_errors_total", kind) == 1


async def test_malformed_body_is_inconclusive_without_retry(fake: FakeDatadog, source: DatadogSource) -> None:
    fake.script(Reply(200, b"{not json"))
    m = await source.sample(LATENCY, at=at(60), interval=30, ctx=CTX)
    assert m.error is not None and m.error.startswith("malformed response from Datadog")
    fake.script(Reply(200, {"status": "ok", "series": [{"pointlist": [[1.0, "x"]]}]}))
    m = await source.sample(LATENCY, at=at(90), interval=30, ctx=CTX)
    assert m.error is not None and "malformed" in m.error
    assert len(fake.requests) == 2


async def test_query_error_status_in_body(fake: FakeDatadog, source: DatadogSource) -> None:
    fake.script(Reply(200, {"status": "error", "error": "Error parsing query: unexpected '}'", "series": []}))
    m = await source.sample(LATENCY, at=at(60), interval=30, ctx=CTX)
    assert m.error == "Datadog query error: Error parsing query: unexpected '}'"


async def test_timeout_is_inconclusive(fake: FakeDatadog, clock: FakeTime) -> None:
    src = make(fake.url, clock, timeout=0.2, retries=0)
    fake.script(Reply(200, {"status": "ok", "series": []}, delay=0.6))
    try:
        m = await src.sample(LATENCY, at=at(60), interval=30, ctx=CTX)
    finally:
        await src.aclose()
    assert m.error == "Datadog did not answer within 0.2 s"


async def test_refused_connection_is_inconclusive(clock: FakeTime) -> None:
    with FakeDatadog() as gone:
        url = gone.url
    src = make(url, clock, retries=1)
    try:
        m = await src.sample(LATENCY, at=at(60), interval=30, ctx=CTX)
    finally:
        await src.aclose()
    assert m.error is not None and m.error.startswith("cannot reach Datadog")
    assert m.error.endswith("(after 2 attempts)")


# ---- secrets -----------------------------------------------------------------------------------


async def test_keys_never_reach_errors_or_logs(
    fake: FakeDatadog, source: DatadogSource, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.script(Reply(403, {"errors": [f"Forbidden: key {KNOWN_SECRET} is not valid"]}))
    m = await source.sample(LATENCY, at=at(60), interval=30, ctx=CTX)
    assert m.error is not None and m.error.startswith("Datadog answered 403: Forbidden")
    assert KNOWN_SECRET not in m.error
    assert KNOWN_SECRET not in caplog.text
    assert len(fake.requests) == 1  # a 4xx is not retried


async def test_wrong_key_is_a_4xx_not_a_crash(fake: FakeDatadog, clock: FakeTime) -> None:
    config = DatadogSourceConfig(type="datadog", host=fake.url, api_key_env="K", app_key_env="A")
    src = DatadogSource(
        "dd",
        config,
        plumbing=Plumbing(environ={"K": "wrong-key-1", "A": APP_KEY}),
        now=clock,
        sleep=clock.sleep,
    )
    try:
        m = await src.sample(LATENCY, at=at(60), interval=30, ctx=CTX)
    finally:
        await src.aclose()
    assert m.error == "Datadog answered 403: Forbidden"


def test_missing_key_variable_fails_at_construction() -> None:
    config = DatadogSourceConfig(type="datadog", api_key_env="NOPE")
    with pytest.raises(ConfigError, match="NOPE"):
        DatadogSource("dd", config, plumbing=Plumbing(environ={}))


async def test_site_selects_the_api_host() -> None:
    config = DatadogSourceConfig(type="datadog", site="datadoghq.eu")
    src = DatadogSource("dd", config, plumbing=Plumbing(environ={}))
    try:
        assert src._client.configuration.host == "https://api.datadoghq.eu"
        assert src._client.configuration.api_key == {}
    finally:
        await src.aclose()


async def test_registry_builds_datadog_and_sentry_sources() -> None:
    from watchdog.policy.connections import DaemonConfig
    from watchdog.sources.registry import build_sources
    from watchdog.sources.sentry import SentrySource

    daemon = DaemonConfig.model_validate(
        {
            "sources": {
                "datadog": {"type": "datadog", "site": "datadoghq.com", "api_key_env": "DD_API_KEY"},
                "sentry": {"type": "sentry", "organization": "acme", "token_env": "SENTRY_TOKEN"},
            }
        }
    )
    sources = build_sources(daemon, environ={"DD_API_KEY": KNOWN_SECRET, "SENTRY_TOKEN": KNOWN_SECRET})
    try:
        assert isinstance(sources["datadog"], DatadogSource)
        assert isinstance(sources["sentry"], SentrySource)
    finally:
        for s in sources.values():
            await s.aclose()
