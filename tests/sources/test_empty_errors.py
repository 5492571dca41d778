"""Empty errors means zero, for every source kind: no error series while requests flow is 0 errors.

Each source is driven through its loopback wire format; the measurement says the zero was read that way.
"""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import KNOWN_SECRET
from tests.fakes.prometheus_server import FakePrometheus, matrix, vector
from tests.fakes.scripted_http import Recorded, Reply, ScriptedServer
from tests.fakes.sentry import FakeSentry
from tests.sources.helpers import NOW, check, ctx
from tests.sources.test_sentry import CTX, ERROR_RATE, FakeTime, at, make
from watchdog.analysis.judge import judge
from watchdog.analysis.models import Outcome
from watchdog.policy.connections import PrometheusSourceConfig, ScrapeSourceConfig
from watchdog.sources.counts import ZERO_NOTE, zero_missing_errors
from watchdog.sources.prometheus import PrometheusSource
from watchdog.sources.scrape import ScrapeSource

PROM_ERRORS = check(
    type="error_rate", source="prom", errors="e5xx", requests="all", max=0.02, min_requests=10
)


def test_only_a_missing_errors_count_beside_requests_is_zero() -> None:
    assert zero_missing_errors({"errors": None, "requests": 120.0}) == (
        {"errors": 0.0, "requests": 120.0},
        [ZERO_NOTE],
    )
    # No requests either: nothing to say about an error rate.
    assert zero_missing_errors({"errors": None, "requests": None}) == ({"errors": None, "requests": None}, [])
    assert zero_missing_errors({"value": None}) == ({"value": None}, [])
    assert zero_missing_errors({"control_errors": None, "control_requests": 5.0})[0]["control_errors"] == 0.0


async def test_prometheus_empty_errors_vector_is_zero_and_passes() -> None:
    with FakePrometheus() as fake:
        fake.answers["all"] = vector(480)  # "e5xx" is unknown to the fake: an empty vector
        src = PrometheusSource("prom", PrometheusSourceConfig(type="prometheus", url=fake.url))
        try:
            m = await src.sample(PROM_ERRORS, at=NOW, interval=30, ctx=ctx())
            assert m.values == {"errors": 0.0, "requests": 480.0} and m.note == ZERO_NOTE
            assert judge(PROM_ERRORS, m, stats=None).outcome == Outcome.PASS
            fake.answers.pop("all")
            both_empty = await src.sample(PROM_ERRORS, at=NOW, interval=30, ctx=ctx())
            assert both_empty.values == {"errors": None, "requests": None}
            assert both_empty.note == "errors: no data; requests: no data"
        finally:
            await src.aclose()


async def test_prometheus_history_fills_zero_errors_where_requests_have_points() -> None:
    start = NOW - timedelta(minutes=2)
    t0 = start.timestamp()
    with FakePrometheus() as fake:
        fake.answers["all"] = matrix([(t0, 100), (t0 + 30, 200), (t0 + 60, 300)])
        src = PrometheusSource("prom", PrometheusSourceConfig(type="prometheus", url=fake.url))
        try:
            baseline = await src.history(PROM_ERRORS, start=start, end=NOW, interval=30, ctx=ctx())
        finally:
            await src.aclose()
    assert baseline is not None
    assert baseline.values == {"errors": [0.0, 0.0, 0.0], "requests": [100.0, 200.0, 300.0]}


class Exposition(ScriptedServer):
    """An app whose errors counter does not exist until its first error (as labelled series behave)."""

    def __init__(self) -> None:
        super().__init__()
        self.ok = 100.0
        self.errors: float | None = None

    def handle(self, request: Recorded) -> Reply:
        text = f'# TYPE app_requests_total counter\napp_requests_total{{code="200"}} {self.ok}\n'
        if self.errors is not None:
            text += f"# TYPE app_errors_total counter\napp_errors_total {self.errors}\n"
        return Reply(200, text.encode())


async def test_scrape_missing_errors_counter_is_zero_then_counts_from_zero() -> None:
    c = check(type="error_rate", source="app", errors="app_errors_total", requests="app_requests_total")
    with Exposition() as app:
        src = ScrapeSource("app", ScrapeSourceConfig(type="scrape", url=app.url + "/metrics"))
        try:
            await src.prime(c, ctx())
            app.ok = 160.0
            m = await src.sample(c, at=NOW, interval=30, ctx=ctx())
            assert m.values == {"errors": 0.0, "requests": 60.0} and m.note == ZERO_NOTE
            # The counter appears with its first errors: all of them are new since the last sample.
            app.ok, app.errors = 200.0, 4.0
            m = await src.sample(c, at=NOW, interval=30, ctx=ctx())
            assert m.values == {"errors": 4.0, "requests": 40.0} and m.note is None
        finally:
            await src.aclose()


async def test_scrape_selector_matching_no_5xx_series_is_zero() -> None:
    c = check(
        type="error_rate",
        source="app",
        errors='app_requests_total{code=~"5.."}',
        requests="app_requests_total",
    )
    with Exposition() as app:
        src = ScrapeSource("app", ScrapeSourceConfig(type="scrape", url=app.url + "/metrics"))
        try:
            await src.prime(c, ctx())
            app.ok = 130.0
            m = await src.sample(c, at=NOW, interval=30, ctx=ctx())
            assert m.values == {"errors": 0.0, "requests": 30.0}
        finally:
            await src.aclose()


async def test_sentry_transactions_without_error_events_is_zero() -> None:
    clock = FakeTime()
    with FakeSentry(token=KNOWN_SECRET) as fake:
        fake.add_events(
            type="transaction",
            release="2.4.1",
            times=[CTX.deployed_at.timestamp() + 31 + k for k in range(20)],
        )
        src = make(fake.url, clock)
        try:
            m = await src.sample(ERROR_RATE, at=at(60), interval=30, ctx=CTX)
        finally:
            await src.aclose()
    assert m.error is None
    # Sentry's events-stats answers 0 for an empty bucket, so the zero is read directly.
    assert m.values == {"errors": 0.0, "requests": 20.0}
    assert judge(ERROR_RATE, m, stats=None).outcome == Outcome.PASS
