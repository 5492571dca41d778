"""The Sentry source against a loopback fake of events-stats and sessions, in Sentry's wire shapes.

Rate-limit waits run on an injected clock; the only real wait is a short client timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import KNOWN_SECRET
from tests.fakes.scripted_http import Reply
from tests.fakes.sentry import FakeSentry, rate_limit_headers, too_many
from watchdog.errors import ConfigError, SourceError
from watchdog.plumbing import Plumbing
from watchdog.policy.checks import ErrorRateCheck, LatencyCheck, MetricCheck
from watchdog.policy.connections import SentrySourceConfig
from watchdog.sources.base import SampleContext
from watchdog.sources.sentry import SentrySource
from watchdog.sources.sentry_query import parse_query, release_filter
from watchdog.telemetry import Metrics

DEPLOY = datetime(2026, 11, 1, 12, 10, 0, tzinfo=UTC)
T0 = DEPLOY.timestamp()
CTX = SampleContext(
    deployment_id="d1",
    verification_id="v1",
    service="checkout",
    environment="production",
    version="2.4.1",
    artifact="a",
    deployed_at=DEPLOY,
)
ERROR_RATE = ErrorRateCheck(
    name="errors", type="error_rate", source="sentry", errors="events", requests="transactions"
)
CRASH_FREE = MetricCheck(
    name="crash-free",
    type="metric",
    source="sentry",
    query="crash_free_rate(session)",
    min=0.99,
    min_sessions=100,
)


class FakeTime:
    def __init__(self) -> None:
        self.t = T0 + 60
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


@pytest.fixture
def fake() -> Iterator[FakeSentry]:
    with FakeSentry(token=KNOWN_SECRET) as server:
        yield server


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


def make(url: str, clock: FakeTime, *, metrics: Metrics | None = None, **overrides: Any) -> SentrySource:
    fields: dict[str, Any] = {"organization": "acme", "project": "checkout", "token_env": "SENTRY_TOKEN"}
    fields.update(overrides)
    config = SentrySourceConfig(type="sentry", url=url, **fields)
    plumbing = Plumbing(metrics=metrics, environ={"SENTRY_TOKEN": KNOWN_SECRET})
    return SentrySource("sentry", config, plumbing=plumbing, now=clock, sleep=clock.sleep, backoff=0.01)


@pytest.fixture
async def source(fake: FakeSentry, clock: FakeTime) -> AsyncIterator[SentrySource]:
    src = make(fake.url, clock)
    yield src
    await src.aclose()


def at(seconds: float) -> datetime:
    return DEPLOY + timedelta(seconds=seconds)


# ---- the query mini-syntax ---------------------------------------------------------------------


def test_query_syntax() -> None:
    assert parse_query("events").kind == "events"
    q = parse_query("transactions transaction:/checkout !transaction.status:ok")
    assert (q.kind, q.filter) == ("transactions", "transaction:/checkout !transaction.status:ok")
    q = parse_query("crash_free_rate(user) os.name:Android")
    assert (q.kind, q.unit, q.filter) == ("crash_free_rate", "user", "os.name:Android")
    with pytest.raises(SourceError, match="unknown Sentry query 'count_errors'"):
        parse_query("count_errors")


def test_release_scope_is_added_unless_named() -> None:
    assert release_filter(parse_query("events level:fatal"), "2.4.1") == 'release:"2.4.1" level:fatal'
    assert release_filter(parse_query('events release:"web@2.4.1"'), "2.4.1") == 'release:"web@2.4.1"'


# ---- error counts ------------------------------------------------------------------------------


async def test_error_rate_from_events_and_transactions(fake: FakeSentry, source: SentrySource) -> None:
    fake.add_events(type="error", release="2.4.1", times=[T0 + 35, T0 + 40, T0 + 59, T0 + 61])
    fake.add_events(type="error", release="2.4.0", times=[T0 + 40])  # the old release: not counted
    fake.add_events(type="error", release="2.4.1", times=[T0 + 45], environment="staging")
    fake.add_events(type="transaction", release="2.4.1", times=[T0 + 30 + k * 0.1 for k in range(250)])
    m = await source.sample(ERROR_RATE, at=at(60), interval=30, ctx=CTX)
    assert m.error is None
    assert m.values == {"errors": 3.0, "requests": 250.0}
    requests = fake.paths("/api/0/organizations/acme/events-stats/")
    assert len(requests) == 2
    by_query = {r.param("query"): r for r in requests}
    errors = by_query['event.type:error release:"2.4.1"']
    assert 'event.type:transaction release:"2.4.1"' in by_query
    assert errors.param("yAxis") == "count()"
    assert errors.param("start") == "2026-11-01T12:10:30Z" and errors.param("end") == "2026-11-01T12:11:00Z"
    assert errors.param("interval") == "30s"
    assert errors.param("projectSlug") == "checkout" and errors.param("environment") == "production"
    assert errors.header("Authorization") == f"Bearer {KNOWN_SECRET}"


async def test_numeric_project_and_configured_environment(fake: FakeSentry, clock: FakeTime) -> None:
    src = make(fake.url, clock, project="4505", environment="prod-eu")
    try:
        await src.sample(ERROR_RATE, at=at(60), interval=30, ctx=CTX)
    finally:
        await src.aclose()
    request = fake.requests[0]
    assert request.param("project") == "4505" and request.param("projectSlug") is None
    assert request.param("environment") == "prod-eu"


async def test_empty_stats_is_no_data(fake: FakeSentry, source: SentrySource) -> None:
    fake.script(
        Reply(200, {"data": [], "start": 0, "end": 0}), Reply(200, {"data": [], "start": 0, "end": 0})
    )
    m = await source.sample(ERROR_RATE, at=at(60), interval=30, ctx=CTX)
    assert m.values == {"errors": None, "requests": None} and m.note == "no data"


async def test_history_counts_the_project_before_the_deploy(fake: FakeSentry, source: SentrySource) -> None:
    start = DEPLOY - timedelta(minutes=3)
    fake.add_events(type="error", release="2.4.0", times=[start.timestamp() + 5, start.timestamp() + 65])
    fake.add_events(
        type="transaction", release="2.4.0", times=[start.timestamp() + k for k in range(0, 180, 2)]
    )
    baseline = await source.history(ERROR_RATE, start=start, end=DEPLOY, interval=60, ctx=CTX)
    assert baseline is not None
    assert baseline.values == {"errors": [1.0, 1.0, 0.0], "requests": [30.0, 30.0, 30.0]}
    assert all("release:" not in (r.param("query") or "") for r in fake.requests)


async def test_history_of_a_crash_free_rate_is_none(source: SentrySource) -> None:
    assert await source.history(CRASH_FREE, start=at(-1800), end=DEPLOY, interval=60, ctx=CTX) is None


# ---- crash-free sessions -----------------------------------------------------------------------


async def test_crash_free_rate_of_the_release(fake: FakeSentry, source: SentrySource) -> None:
    fake.sessions["2.4.1"] = (800, 4)
    m = await source.sample(CRASH_FREE, at=at(600), interval=30, ctx=CTX)
    assert m.error is None and m.values == {"value": pytest.approx(0.995)}
    [request] = fake.requests
    assert request.path == "/api/0/organizations/acme/sessions/"
    assert request.query["field"] == ["crash_free_rate(session)", "sum(session)"]
    assert request.param("query") == 'release:"2.4.1"'
    assert request.param("interval") == "1h"
    assert request.param("start") == "2026-11-01T12:00:00Z"  # hour-aligned, covering the deploy


async def test_too_few_sessions_is_no_data_with_reason(fake: FakeSentry, source: SentrySource) -> None:
    fake.sessions["2.4.1"] = (42, 0)
    m = await source.sample(CRASH_FREE, at=at(600), interval=30, ctx=CTX)
    assert m.values == {"value": None} and m.error is None
    assert m.note == "42 sessions < min_sessions 100"


async def test_release_without_sessions_is_no_data(fake: FakeSentry, source: SentrySource) -> None:
    check = MetricCheck(name="cf", type="metric", source="sentry", query="crash_free_rate(session)")
    m = await source.sample(check, at=at(600), interval=30, ctx=CTX)
    assert m.values == {"value": None} and m.note == "no data"


async def test_unknown_query_is_inconclusive(source: SentrySource) -> None:
    check = LatencyCheck(name="p99", type="latency", source="sentry", query="p99(transaction.duration)")
    m = await source.sample(check, at=at(60), interval=30, ctx=CTX)
    assert m.error is not None and "unknown Sentry query" in m.error


# ---- rate limits -------------------------------------------------------------------------------


async def test_429_is_inconclusive_and_stops_calls_until_reset(
    fake: FakeSentry, source: SentrySource, clock: FakeTime
) -> None:
    fake.sessions["2.4.1"] = (800, 0)
    fake.script(too_many(reset_epoch=int(clock.t) + 23))
    m = await source.sample(CRASH_FREE, at=at(600), interval=30, ctx=CTX)
    assert m.error == "rate limited by Sentry for 23 s more"
    clock.t += 20
    m = await source.sample(CRASH_FREE, at=at(630), interval=30, ctx=CTX)
    assert m.error == "rate limited by Sentry for 3 s more"
    assert len(fake.requests) == 1
    clock.t += 4
    m = await source.sample(CRASH_FREE, at=at(660), interval=30, ctx=CTX)
    assert m.values == {"value": 1.0}
    assert len(fake.requests) == 2


async def test_remaining_headers_space_requests(
    fake: FakeSentry, source: SentrySource, clock: FakeTime
) -> None:
    fake.headers = rate_limit_headers(limit=40, remaining=2, reset_epoch=int(clock.t) + 10)
    fake.sessions["2.4.1"] = (800, 0)
    for k in range(3):
        await source.sample(CRASH_FREE, at=at(600 + 30 * k), interval=30, ctx=CTX)
    assert clock.sleeps and all(s > 0 for s in clock.sleeps)


# ---- failures and secrets ----------------------------------------------------------------------


async def test_5xx_retried_then_inconclusive(fake: FakeSentry, clock: FakeTime) -> None:
    metrics = Metrics()
    src = make(fake.url, clock, metrics=metrics)
    fake.script(*[Reply(503, b"upstream connect error")] * 3)
    try:
        m = await src.sample(CRASH_FREE, at=at(600), interval=30, ctx=CTX)
    finally:
        await src.aclose()
    assert m.error == "Sentry answered 503 (after 3 attempts)"
    assert len(fake.requests) == 3
    errors = metrics.registry.get_sample_value(
        "watchdog_source_errors_total", {"source": "sentry", "kind": "http_5xx"}
    )
    assert errors == 1


async def test_5xx_then_success(fake: FakeSentry, source: SentrySource) -> None:
    fake.sessions["2.4.1"] = (800, 8)
    fake.script(Reply(500, {"detail": "Internal Error"}))
    m = await source.sample(CRASH_FREE, at=at(600), interval=30, ctx=CTX)
    assert m.values == {"value": pytest.approx(0.99)}


async def test_malformed_bodies(fake: FakeSentry, source: SentrySource) -> None:
    fake.script(Reply(200, b"<html>login</html>"))
    m = await source.sample(CRASH_FREE, at=at(600), interval=30, ctx=CTX)
    assert m.error == "malformed response from Sentry: not JSON"
    fake.script(Reply(200, {"data": [[1, 2]]}), Reply(200, {"data": []}))
    m = await source.sample(ERROR_RATE, at=at(60), interval=30, ctx=CTX)
    assert m.error == "malformed response from Sentry: bad bucket"  # one role broke: its reason alone
    assert len(fake.requests) == 3  # not retried


async def test_timeout_is_inconclusive(fake: FakeSentry, clock: FakeTime) -> None:
    src = make(fake.url, clock, timeout=0.2, retries=0)
    fake.script(Reply(200, {"groups": []}, delay=0.6))
    try:
        m = await src.sample(CRASH_FREE, at=at(600), interval=30, ctx=CTX)
    finally:
        await src.aclose()
    assert m.error == "Sentry did not answer within 0.2 s"


async def test_refused_connection_is_inconclusive(clock: FakeTime) -> None:
    with FakeSentry() as gone:
        url = gone.url
    src = make(url, clock, retries=1)
    try:
        m = await src.sample(CRASH_FREE, at=at(600), interval=30, ctx=CTX)
    finally:
        await src.aclose()
    assert m.error is not None and m.error.startswith("cannot reach Sentry")


async def test_token_never_reaches_errors_or_logs(
    fake: FakeSentry, clock: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = SentrySourceConfig(
        type="sentry", url=fake.url, organization="acme", token_file=None, token_env="T"
    )
    src = SentrySource(
        "sentry", config, plumbing=Plumbing(environ={"T": KNOWN_SECRET}), now=clock, sleep=clock.sleep
    )
    fake.script(Reply(401, {"detail": f"Invalid token {KNOWN_SECRET}"}))
    try:
        m = await src.sample(CRASH_FREE, at=at(600), interval=30, ctx=CTX)
    finally:
        await src.aclose()
    assert m.error is not None and m.error.startswith("Sentry answered 401: Invalid token")
    assert KNOWN_SECRET not in m.error and KNOWN_SECRET not in caplog.text


async def test_wrong_token_is_a_401(fake: FakeSentry, clock: FakeTime) -> None:
    config = SentrySourceConfig(type="sentry", url=fake.url, organization="acme", token_env="T")
    src = SentrySource(
        "sentry", config, plumbing=Plumbing(environ={"T": "not-the-token"}), now=clock, sleep=clock.sleep
    )
    try:
        m = await src.sample(CRASH_FREE, at=at(600), interval=30, ctx=CTX)
    finally:
        await src.aclose()
    assert m.error == "Sentry answered 401: Invalid token"


def test_token_file_and_missing_variable(tmp_path: Any) -> None:
    secret = tmp_path / "token"
    secret.write_text(KNOWN_SECRET + "\n")
    config = SentrySourceConfig(type="sentry", organization="acme", token_file=str(secret))
    src = SentrySource("sentry", config, plumbing=Plumbing(environ={}))
    assert src._client.headers["Authorization"] == f"Bearer {KNOWN_SECRET}"
    with pytest.raises(ConfigError, match="SENTRY_TOKEN"):
        SentrySource(
            "s",
            SentrySourceConfig(type="sentry", organization="acme", token_env="SENTRY_TOKEN"),
            plumbing=Plumbing(environ={}),
        )
