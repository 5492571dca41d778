"""The scrape source's economies: one fetch for samples of one URL at once, and only named families parsed.

Each verification still measures its own counter increases; a malformed line is an error only when named.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.fakes.scripted_http import Recorded, Reply, ScriptedServer
from tests.sources.helpers import NOW, check, ctx
from watchdog.policy.connections import ScrapeSourceConfig
from watchdog.sources.exposition import parse_exposition
from watchdog.sources.scrape import FIRST_SCRAPE, ScrapeSource

EXPOSITION = """\
# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{{code="200"}} {ok}
http_requests_total{{code="503"}} {err}
# TYPE unrelated_thing gauge
unrelated_thing{{this line is not an exposition at all
# TYPE latency_seconds histogram
latency_seconds_bucket{{le="0.1"}} {n}
latency_seconds_bucket{{le="+Inf"}} {n}
latency_seconds_count {n}
latency_seconds_sum 1.5
# TYPE http_requests_in_flight gauge
http_requests_in_flight 4
"""


class Exposition(ScriptedServer):
    def __init__(self) -> None:
        super().__init__()
        self.values = {"ok": 100.0, "err": 3.0, "n": 10.0}

    def handle(self, request: Recorded) -> Reply:
        return Reply(200, EXPOSITION.format(**self.values).encode())


@pytest.fixture
def server() -> Iterator[Exposition]:
    with Exposition() as s:
        yield s


@pytest.fixture
async def source(server: Exposition) -> AsyncIterator[ScrapeSource]:
    url = server.url + "/metrics/{{ version }}"
    src = ScrapeSource("app", ScrapeSourceConfig(type="scrape", url=url))
    yield src
    await src.aclose()


ERRORS = check(type="error_rate", source="app", errors='http_requests{code=~"5.."}', requests="http_requests")


async def test_samples_of_one_url_at_once_share_one_request(server: Exposition, source: ScrapeSource) -> None:
    ids = [f"v{i}" for i in range(20)]
    primed = await asyncio.gather(*(source.prime(ERRORS, ctx(verification_id=v)) for v in ids))
    assert [p.error for p in primed] == [None] * 20
    assert len(server.paths("/metrics")) == 1
    server.values.update(ok=130, err=5)
    sampled = await asyncio.gather(
        *(source.sample(ERRORS, at=NOW, interval=30, ctx=ctx(verification_id=v)) for v in ids)
    )
    assert len(server.paths("/metrics")) == 2
    assert [m.values for m in sampled] == [{"errors": 2.0, "requests": 32.0}] * 20
    # Each verification kept its own previous values: one sampling alone measures from its own last scrape.
    server.values.update(ok=140, err=6)
    alone = await source.sample(ERRORS, at=NOW, interval=30, ctx=ctx(verification_id="v3"))
    assert alone.values == {"errors": 1.0, "requests": 11.0}
    assert len(server.paths("/metrics")) == 3


async def test_different_urls_are_separate_requests(server: Exposition, source: ScrapeSource) -> None:
    versions = ["1.2.0", "1.3.0", "1.2.0", "1.3.0"]
    ctxs = [ctx(version=v, verification_id=f"v{i}") for i, v in enumerate(versions)]
    await asyncio.gather(*(source.prime(ERRORS, c) for c in ctxs))
    assert sorted(r.path for r in server.paths("/metrics")) == ["/metrics/1.2.0", "/metrics/1.3.0"]


async def test_a_failed_shared_fetch_fails_every_sample_that_joined_it(
    server: Exposition, source: ScrapeSource
) -> None:
    server.script(Reply(500, {"detail": "boom"}), Reply(500, {"detail": "boom"}))  # the one retry too
    sampled = await asyncio.gather(
        *(source.sample(ERRORS, at=NOW, interval=30, ctx=ctx(verification_id=f"v{i}")) for i in range(5))
    )
    assert len(server.paths("/metrics")) == 2
    assert all(m.error is not None and m.error.startswith("HTTP 500 from app") for m in sampled), sampled


async def test_a_malformed_line_of_an_unnamed_family_is_not_read(
    server: Exposition, source: ScrapeSource
) -> None:
    gauge = check(type="metric", source="app", query="http_requests_in_flight")
    m = await source.sample(gauge, at=NOW, interval=30, ctx=ctx())
    assert (m.values, m.error, m.note) == ({"value": 4.0}, None, None)


async def test_named_histogram_parts_are_still_counters(server: Exposition, source: ScrapeSource) -> None:
    slow = check(type="metric", source="app", query='latency_seconds_bucket{le="+Inf"}')
    first = await source.sample(slow, at=NOW, interval=30, ctx=ctx())
    assert first.note == FIRST_SCRAPE  # a counter (its family's TYPE line was kept), so it needs a past
    server.values.update(n=25)
    second = await source.sample(slow, at=NOW, interval=30, ctx=ctx())
    assert second.values == {"value": 15.0}


def test_parsing_only_named_families_parses_them_as_a_full_parse_does() -> None:
    text = EXPOSITION.format(ok=1, err=2, n=3).replace("unrelated_thing{this line", "# unrelated_thing")
    full = {(s.name, tuple(sorted(s.labels.items()))): s for s in parse_exposition(text)}
    named = parse_exposition(text, {"http_requests_total", "latency_seconds_count", "latency_seconds_sum"})
    assert {s.name for s in named} == {"http_requests_total", "latency_seconds_count", "latency_seconds_sum"}
    assert all(full[(s.name, tuple(sorted(s.labels.items())))] == s for s in named)
    assert len(named) == 4


def test_a_malformed_named_line_says_so() -> None:
    text = EXPOSITION.format(ok="not-a-number", err=2, n=3)
    with pytest.raises(ValueError):
        parse_exposition(text, {"http_requests_total"})
    assert [s.value for s in parse_exposition(text, {"http_requests_in_flight"})] == [4.0]
