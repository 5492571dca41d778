"""The scrape source over real loopback expositions: selectors, counter increases, resets, gauges, priming.

No Prometheus server is involved: the source parses the service's own /metrics.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.conftest import KNOWN_SECRET, free_port
from tests.fakes.scripted_http import Recorded, Reply, ScriptedServer
from tests.sources.helpers import NOW, check, ctx
from watchdog.demo import DemoApp
from watchdog.policy.connections import ScrapeSourceConfig
from watchdog.sources.base import AnyCheck
from watchdog.sources.scrape import FIRST_SCRAPE, ScrapeSource
from watchdog.sources.selector import SelectorError, parse_selector

EXPOSITION = """\
# TYPE http_requests_total counter
http_requests_total{{code="200",path="/a"}} {ok_a}
http_requests_total{{code="200",path="/b"}} {ok_b}
http_requests_total{{code="503",path="/a"}} {err}
# TYPE queue_depth gauge
queue_depth{{queue="q1"}} 5
queue_depth{{queue="q2"}} 7
# TYPE latency_seconds histogram
latency_seconds_bucket{{le="0.1"}} {n}
latency_seconds_bucket{{le="+Inf"}} {n}
latency_seconds_count {n}
latency_seconds_sum {s}
"""


class Exposition(ScriptedServer):
    def __init__(self) -> None:
        super().__init__()
        self.values = {"ok_a": 100.0, "ok_b": 50.0, "err": 3.0, "n": 10.0, "s": 1.0}

    def handle(self, request: Recorded) -> Reply:
        return Reply(200, EXPOSITION.format(**self.values).encode())


@pytest.fixture
def server() -> Iterator[Exposition]:
    with Exposition() as s:
        yield s


@pytest.fixture
async def source(server: Exposition) -> AsyncIterator[ScrapeSource]:
    src = ScrapeSource("app", ScrapeSourceConfig(type="scrape", url=server.url + "/metrics"))
    yield src
    await src.aclose()


def metric(query: str) -> AnyCheck:
    return check(type="metric", source="app", query=query)


async def test_first_scrape_is_inconclusive_then_increase(server: Exposition, source: ScrapeSource) -> None:
    c = metric('http_requests_total{code="200"}')
    first = await source.sample(c, at=NOW, interval=30, ctx=ctx())
    assert first.values == {"value": None} and first.note == FIRST_SCRAPE
    server.values.update(ok_a=130, ok_b=60)
    second = await source.sample(c, at=NOW, interval=30, ctx=ctx())
    assert second.values == {"value": 40.0} and second.error is None and second.note is None


async def test_prime_gives_the_first_sample_a_value(server: Exposition, source: ScrapeSource) -> None:
    c = check(type="error_rate", source="app", errors='http_requests{code=~"5.."}', requests="http_requests")
    primed = await source.prime(c, ctx())
    assert primed.error is None
    server.values.update(ok_a=110, err=5)
    m = await source.sample(c, at=NOW, interval=30, ctx=ctx())
    assert m.values == {"errors": 2.0, "requests": 12.0}


async def test_counter_reset_counts_from_zero(server: Exposition, source: ScrapeSource) -> None:
    c = metric('http_requests_total{path="/a"}')
    await source.prime(c, ctx())
    server.values.update(ok_a=4, err=1)  # the process restarted
    assert (await source.sample(c, at=NOW, interval=30, ctx=ctx())).values == {"value": 5.0}


async def test_state_is_per_verification_and_forgotten(server: Exposition, source: ScrapeSource) -> None:
    c = metric("http_requests_total")
    await source.prime(c, ctx(verification_id="a"))
    m = await source.sample(c, at=NOW, interval=30, ctx=ctx(verification_id="b"))
    assert m.note == FIRST_SCRAPE
    source.forget("a")
    assert (await source.sample(c, at=NOW, interval=30, ctx=ctx(verification_id="a"))).note == FIRST_SCRAPE


async def test_gauges_and_histogram_parts(server: Exposition, source: ScrapeSource) -> None:
    gauge = await source.sample(metric('queue_depth{queue!="q3"}'), at=NOW, interval=30, ctx=ctx())
    assert gauge.values == {"value": 12.0}  # gauges need no previous scrape
    q1 = await source.sample(metric('queue_depth{queue=~"q1|x"}'), at=NOW, interval=30, ctx=ctx())
    assert q1.values == {"value": 5.0}
    c = metric("latency_seconds_sum")
    await source.prime(c, ctx())
    server.values.update(s=3.5)
    assert (await source.sample(c, at=NOW, interval=30, ctx=ctx())).values == {"value": 2.5}


async def test_no_matching_metric_is_no_data(source: ScrapeSource) -> None:
    m = await source.sample(metric("nope_total"), at=NOW, interval=30, ctx=ctx())
    assert m.values == {"value": None} and m.note == "no metric named nope_total in the exposition"


async def test_counter_without_matching_series_is_zero_increase(source: ScrapeSource) -> None:
    c = metric('http_requests_total{code="500"}')
    await source.prime(c, ctx())
    assert (await source.sample(c, at=NOW, interval=30, ctx=ctx())).values == {"value": 0.0}


async def test_bad_selector_is_an_error(source: ScrapeSource) -> None:
    m = await source.sample(metric('http_requests_total{code="200"'), at=NOW, interval=30, ctx=ctx())
    assert m.error is not None and "expected ',' or '}'" in m.error


async def test_unreachable_exposition_is_an_error() -> None:
    src = ScrapeSource(
        "app", ScrapeSourceConfig(type="scrape", url=f"http://127.0.0.1:{free_port()}/metrics")
    )
    try:
        m = await src.sample(metric("x"), at=NOW, interval=30, ctx=ctx())
    finally:
        await src.aclose()
    assert m.error == "connection refused"


async def test_unparseable_exposition_is_an_error(server: Exposition, source: ScrapeSource) -> None:
    # Only the lines of the metrics a check names are parsed: a malformed one of those is an error.
    server.script(Reply(200, b'x{code="200" this is { not an exposition'))
    m = await source.sample(metric("x"), at=NOW, interval=30, ctx=ctx())
    assert m.error is not None and m.error.startswith("cannot parse the exposition from app")


async def test_against_the_demo_app() -> None:
    with DemoApp(port=0, rps=500, seed=1) as app:
        app.set_error_rate(0.5)
        src = ScrapeSource("demo", ScrapeSourceConfig(type="scrape", url=app.url + "/metrics"))
        c = check(
            type="error_rate",
            source="demo",
            errors='demo_requests_total{code="500"}',
            requests="demo_requests",
        )
        try:
            await src.prime(c, ctx())
            m = await src.sample(c, at=NOW, interval=30, ctx=ctx())
            while not m.values["requests"]:
                m = await src.sample(c, at=NOW, interval=30, ctx=ctx())
        finally:
            await src.aclose()
        errors, requests = m.values["errors"], m.values["requests"]
        assert errors is not None and requests is not None and 0 <= errors <= requests


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "expected a metric name"),
        ("9abc", "expected a metric name at char 1"),
        ("x{code}", "expected one of = != =~ !~ at char 7"),
        ('x{code="a}', "unterminated string"),
        ('x{code=~"("}', "bad regular expression"),
        ('x{code="a"} y', "unexpected 'y'"),
        ("x{code=200}", "expected a quoted label value"),
    ],
)
def test_selector_errors(text: str, problem: str) -> None:
    with pytest.raises(SelectorError, match=problem.replace("(", r"\(")):
        parse_selector(text)


def test_selector_matching() -> None:
    s = parse_selector("""x{a="1", b!="2", c=~"fo+", d!~'ba.', e=""}""")
    assert s.name == "x" and len(s.matchers) == 5
    assert s.matches({"a": "1", "b": "3", "c": "foo", "d": "xyz"})
    assert not s.matches({"a": "1", "b": "3", "c": "foox", "d": "xyz"})  # regexes are anchored
    assert not s.matches({"a": "1", "b": "3", "c": "foo", "d": "bar"})
    assert parse_selector(r'x{p="a\"b\\c"}').matchers[0].value == 'a"b\\c'


async def test_errors_are_redacted(server: Exposition, source: ScrapeSource) -> None:
    # The scrape source retries a 5xx once, so the failure is scripted twice.
    server.script(*[Reply(500, f"upstream said token={KNOWN_SECRET}".encode()) for _ in range(2)])
    m = await source.sample(metric("x"), at=NOW, interval=30, ctx=ctx())
    assert m.error is not None and m.error.startswith("HTTP 500 from app")
    assert KNOWN_SECRET not in m.error
