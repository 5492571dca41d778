"""The http source against a real loopback server: status, body, JSON fields, timeouts, refused connections.

A down service must read as a failing probe (up=0 with a reason), never as missing data.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.conftest import KNOWN_SECRET, free_port
from tests.fakes.scripted_http import Recorded, Reply, ScriptedServer
from tests.sources.helpers import NOW, check, ctx
from watchdog.plumbing import Plumbing
from watchdog.sources.http import HttpSource
from watchdog.telemetry import Metrics


class Health(ScriptedServer):
    def handle(self, request: Recorded) -> Reply:
        if request.path == "/slow":
            time.sleep(1.5)
            return Reply(200, {"status": "ok"})
        if request.path == "/down":
            return Reply(503, {"status": "down"})
        if request.path == "/text":
            return Reply(200, b"all systems go")
        if request.path.startswith("/v/"):
            return Reply(200, {"version": request.path[3:], "build": {"commit": "abc", "n": 7}})
        return Reply(200, {"status": "ok", "version": "1.2.0", "app.version": "dotted"})


@pytest.fixture
def server() -> Iterator[Health]:
    with Health() as s:
        yield s


@pytest.fixture
async def source() -> AsyncIterator[HttpSource]:
    src = HttpSource(plumbing=Plumbing(environ={"TOKEN": KNOWN_SECRET}))
    yield src
    await src.aclose()


async def probe(source: HttpSource, url: str, **fields: object) -> tuple[float | None, str | None]:
    m = await source.sample(check(type="http", url=url, **fields), at=NOW, interval=30, ctx=ctx())
    assert m.error is None, m.error
    assert m.values["latency"] is not None
    return m.values["up"], m.note


async def test_healthy_probe_is_up(server: Health, source: HttpSource) -> None:
    up, note = await probe(source, server.url + "/healthz", expect={"status": 200, "json": {"status": "ok"}})
    assert (up, note) == (1.0, None)


async def test_wrong_status_is_down(server: Health, source: HttpSource) -> None:
    assert await probe(source, server.url + "/down") == (0.0, "status 503, expected 200")


async def test_version_placeholder_in_json_expectation(server: Health, source: HttpSource) -> None:
    url = server.url + "/healthz"
    assert await probe(source, url, expect={"json": {"version": "{{ version }}"}}) == (1.0, None)
    up, note = await probe(source, server.url + "/v/1.1.0", expect={"json": {"version": "{{ version }}"}})
    assert (up, note) == (0.0, "json version is '1.1.0', expected '1.2.0'")


async def test_placeholder_in_url(server: Health, source: HttpSource) -> None:
    up, _ = await probe(source, server.url + "/v/{{ version }}", expect={"json": {"version": "1.2.0"}})
    assert up == 1.0


async def test_nested_json_by_dots_or_dicts(server: Health, source: HttpSource) -> None:
    url = server.url + "/v/1"
    assert (await probe(source, url, expect={"json": {"build.commit": "abc"}}))[0] == 1.0
    assert (await probe(source, url, expect={"json": {"build": {"n": 7}}}))[0] == 1.0
    assert await probe(source, url, expect={"json": {"build": {"n": 8}}}) == (
        0.0,
        "json build.n is 7, expected 8",
    )
    assert await probe(source, url, expect={"json": {"build.x": 1}}) == (0.0, "json has no field 'build.x'")
    dotted = await probe(source, server.url + "/", expect={"json": {"app.version": "dotted"}})
    assert dotted[0] == 1.0


async def test_body_regex(server: Health, source: HttpSource) -> None:
    assert (await probe(source, server.url + "/text", expect={"body": "systems? go"}))[0] == 1.0
    up, note = await probe(source, server.url + "/text", expect={"body": "^fine$"})
    assert (up, note) == (0.0, "body does not match /^fine$/")
    up, note = await probe(source, server.url + "/text", expect={"json": {"status": "ok"}})
    assert (up, note) == (0.0, "body is not JSON")


async def test_timeout_is_down(server: Health, source: HttpSource) -> None:
    assert await probe(source, server.url + "/slow", timeout="200ms") == (0.0, "no answer within 0.2s")


async def test_refused_connection_is_down(source: HttpSource) -> None:
    up, note = await probe(source, f"http://127.0.0.1:{free_port()}/healthz")
    assert (up, note) == (0.0, "connection refused")


async def test_headers_expand_env_and_method(server: Health, source: HttpSource) -> None:
    await probe(source, server.url + "/healthz", method="POST", headers={"Authorization": "Bearer ${TOKEN}"})
    seen = server.requests[-1]
    assert seen.method == "POST"
    assert seen.header("Authorization") == f"Bearer {KNOWN_SECRET}"


async def test_missing_env_var_is_an_error_not_a_failure(server: Health, source: HttpSource) -> None:
    c = check(type="http", url=server.url, headers={"X-Key": "${NOPE_NOT_SET}"})
    m = await source.sample(c, at=NOW, interval=30, ctx=ctx())
    assert m.error is not None and "NOPE_NOT_SET" in m.error
    assert "up" not in m.values


async def test_non_http_check_is_an_error(source: HttpSource) -> None:
    m = await source.sample(check(type="metric", source="x", query="up"), at=NOW, interval=30, ctx=ctx())
    assert m.error is not None


async def test_history_is_none(source: HttpSource) -> None:
    c = check(type="http", url="http://127.0.0.1:1/")
    assert await source.history(c, start=NOW, end=NOW, interval=30, ctx=ctx()) is None


async def test_metrics_recorded_per_probe(server: Health) -> None:
    metrics = Metrics()
    src = HttpSource(plumbing=Plumbing(metrics=metrics))
    try:
        await src.sample(check(type="http", url=server.url + "/healthz"), at=NOW, interval=30, ctx=ctx())
        await src.sample(check(type="http", url=server.url + "/down"), at=NOW, interval=30, ctx=ctx())
    finally:
        await src.aclose()
    get = metrics.registry.get_sample_value
    assert get("watchdog_source_requests_total", {"source": "http", "outcome": "ok"}) == 1
    assert get("watchdog_source_requests_total", {"source": "http", "outcome": "error"}) == 1
    assert get("watchdog_source_errors_total", {"source": "http", "kind": "http_5xx"}) == 1


async def test_mock_transport_sees_rendered_url() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"version": "1.2.0"})

    src = HttpSource(plumbing=Plumbing(transport=httpx.MockTransport(handler)))
    try:
        c = check(
            type="http", url="http://svc/{{ environment }}/{{ service }}", expect={"json": {"version": 1.2}}
        )
        m = await src.sample(c, at=NOW, interval=30, ctx=ctx())
    finally:
        await src.aclose()
    assert seen == ["http://svc/production/checkout"]
    assert m.values["up"] == 0.0 and m.note == "json version is '1.2.0', expected 1.2"
