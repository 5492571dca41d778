"""POST /v1/events through the ASGI app: accepted, refused (store unchanged), replayed, rotated secrets.

Signed by our signer and by the `standardwebhooks` library.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.api.harness import T0, WEBHOOK_SECRET, RecordingEngine, dumps, event, generic_headers, snapshot
from watchdog.engine.runtime import Runtime


async def post(
    client: httpx.AsyncClient, body: bytes, *, msg_id: str = "msg_1", headers: dict[str, str] | None = None
) -> httpx.Response:
    sent = generic_headers(body, msg_id=msg_id, at=T0)
    sent.update(headers or {})
    return await client.post("/v1/events", content=body, headers=sent)


async def test_accepted_event_is_stored_pending_and_wakes_the_engine(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    resp = await post(client, dumps(event(labels={"team": "payments"})))
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["state"] == "pending"
    d = runtime.store.get_deployment(body["deployment_id"])
    assert (d.service, d.environment, d.version, d.source) == ("checkout", "staging", "2.4.1", "generic")
    assert d.labels == {"team": "payments"}
    assert isinstance(runtime.engine, RecordingEngine)
    assert runtime.engine.wakes == 1
    assert runtime.store.find_delivery(source="generic", delivery_id="msg_1") is not None


async def test_artifact_defaults_to_the_version(client: httpx.AsyncClient, runtime: Runtime) -> None:
    resp = await post(client, dumps({"service": "checkout", "environment": "staging", "version": "3.0.0"}))
    assert resp.status_code == 202
    assert runtime.store.get_deployment(resp.json()["deployment_id"]).artifact == "3.0.0"


async def test_replayed_delivery_gets_the_first_answer_and_changes_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    body = dumps(event())
    first = await post(client, body, msg_id="msg_replay")
    before = snapshot(runtime.store)
    again = await post(client, body, msg_id="msg_replay")
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert snapshot(runtime.store) == before
    assert isinstance(runtime.engine, RecordingEngine)
    assert runtime.engine.wakes == 1


async def test_signed_by_the_standardwebhooks_library(client: httpx.AsyncClient, runtime: Runtime) -> None:
    payload = dumps(event(version="2.5.0")).decode()
    signature = Webhook(WEBHOOK_SECRET).sign("msg_lib", T0, payload)
    headers = {
        "content-type": "application/json",
        "webhook-id": "msg_lib",
        "webhook-timestamp": str(int(T0.timestamp())),
        "webhook-signature": signature,
    }
    resp = await client.post("/v1/events", content=payload, headers=headers)
    assert resp.status_code == 202, resp.text


async def test_any_of_several_secrets_and_signatures_is_accepted(tmp_path: object) -> None:
    from pathlib import Path

    from tests.api.harness import make_runtime
    from watchdog.api.app import create_app

    old = "whsec_" + base64.b64encode(b"old-secret-old-secret-old-secret").decode()
    rt = make_runtime(Path(str(tmp_path)), webhook_secret=f"{WEBHOOK_SECRET} {old}")
    transport = httpx.ASGITransport(app=create_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        body = dumps(event())
        headers = generic_headers(body, msg_id="msg_rot", at=T0, secret=old)
        # A sender in the middle of its own rotation lists two signatures; one matching is enough.
        headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
        resp = await c.post("/v1/events", content=body, headers=headers)
    assert resp.status_code == 202, resp.text
    rt.store.close()


def _bad_signature(body: bytes) -> dict[str, str]:
    h = generic_headers(body, msg_id="m", at=T0)
    h["webhook-signature"] = "v1," + base64.b64encode(b"x" * 32).decode()
    return h


def _other_secret(body: bytes) -> dict[str, str]:
    other = "whsec_" + base64.b64encode(b"another-secret-another-secret!!").decode()
    return generic_headers(body, msg_id="m", at=T0, secret=other)


def _tampered(body: bytes) -> dict[str, str]:
    # Signed for one body, sent with another.
    return generic_headers(body.replace(b"2.4.1", b"9.9.9"), msg_id="m", at=T0)


def _unsigned(body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": "m",
        "webhook-timestamp": str(int(T0.timestamp())),
    }


def _stale(body: bytes) -> dict[str, str]:
    return generic_headers(body, msg_id="m", at=T0 - timedelta(minutes=6))


def _future(body: bytes) -> dict[str, str]:
    return generic_headers(body, msg_id="m", at=T0 + timedelta(minutes=6))


def _text_plain(body: bytes) -> dict[str, str]:
    return {**generic_headers(body, msg_id="m", at=T0), "content-type": "text/plain"}


REFUSALS = [
    ("bad signature", event(), _bad_signature, 401, "bad_signature"),
    ("other secret", event(), _other_secret, 401, "bad_signature"),
    ("tampered body", event(), _tampered, 401, "bad_signature"),
    ("unsigned", event(), _unsigned, 401, "bad_signature"),
    ("stale", event(), _stale, 401, "stale_timestamp"),
    ("future", event(), _future, 401, "stale_timestamp"),
    ("text/plain", event(), _text_plain, 415, "unsupported_media_type"),
    ("missing version", {"service": "checkout", "environment": "staging"}, None, 422, "invalid_event"),
    ("unknown service", event(service="billing"), None, 422, "unknown_service"),
    ("unknown environment", event(environment="qa"), None, 422, "unknown_environment"),
    ("unknown field", event(colour="red"), None, 422, "invalid_event"),
]


@pytest.mark.parametrize(
    ("name", "data", "make_headers", "status", "code"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
async def test_refusals_write_nothing(
    client: httpx.AsyncClient,
    runtime: Runtime,
    name: str,
    data: dict[str, object],
    make_headers: object,
    status: int,
    code: str,
) -> None:
    before = snapshot(runtime.store)
    body = dumps(data)
    headers = make_headers(body) if callable(make_headers) else generic_headers(body, msg_id="m", at=T0)
    resp = await client.post("/v1/events", content=body, headers=headers)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"] == code
    assert resp.json()["detail"]
    assert snapshot(runtime.store) == before


async def test_malformed_json_is_400_after_authentication(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    before = snapshot(runtime.store)
    body = b'{"service": "checkout", '
    resp = await client.post("/v1/events", content=body, headers=generic_headers(body, msg_id="m", at=T0))
    assert (resp.status_code, resp.json()["error"]) == (400, "malformed_json")
    unsigned = await client.post("/v1/events", content=body, headers=_unsigned(body))
    assert unsigned.json()["error"] == "bad_signature"  # no parsing for strangers
    assert snapshot(runtime.store) == before


async def test_field_paths_in_the_detail(client: httpx.AsyncClient) -> None:
    body = dumps({"service": "checkout", "environment": "staging", "labels": {"team": 3}})
    resp = await client.post("/v1/events", content=body, headers=generic_headers(body, msg_id="m", at=T0))
    detail = resp.json()["detail"]
    assert "version: field required" in detail
    assert "labels.team: expected a string" in detail


async def test_oversized_by_content_length_and_by_bytes(client: httpx.AsyncClient, runtime: Runtime) -> None:
    before = snapshot(runtime.store)
    limit = runtime.settings.intake.max_body_bytes
    big = dumps(event(changelog_url="x" * (limit + 10)))
    resp = await client.post("/v1/events", content=big, headers=generic_headers(big, msg_id="m", at=T0))
    assert (resp.status_code, resp.json()["error"]) == (413, "payload_too_large")

    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: the limit must hold on the bytes that actually arrive.
        for i in range(0, len(big), 64 * 1024):
            yield big[i : i + 64 * 1024]

    streamed = await client.post(
        "/v1/events", content=chunks(), headers=generic_headers(big, msg_id="m", at=T0)
    )
    assert "content-length" not in streamed.request.headers
    assert (streamed.status_code, streamed.json()["error"]) == (413, "payload_too_large")
    assert snapshot(runtime.store) == before


async def test_route_disabled_without_a_secret(tmp_path: object) -> None:
    from pathlib import Path

    from tests.api.harness import make_runtime
    from watchdog.api.app import create_app

    rt = make_runtime(Path(str(tmp_path)), webhook_secret=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(rt)), base_url="http://t") as c:
        body = dumps(event())
        resp = await c.post("/v1/events", content=body, headers=generic_headers(body, msg_id="m", at=T0))
    assert (resp.status_code, resp.json()["error"]) == (403, "not_configured")
    assert "WATCHDOG_WEBHOOK_SECRET" in resp.json()["detail"]
    rt.store.close()


async def test_events_are_counted_by_source_and_outcome(client: httpx.AsyncClient, runtime: Runtime) -> None:
    body = dumps(event())
    await post(client, body, msg_id="a")
    await post(client, body, msg_id="a")
    await client.post("/v1/events", content=body, headers=_bad_signature(body))
    value = runtime.metrics.registry.get_sample_value
    assert value("watchdog_events_total", {"source": "generic", "outcome": "accepted"}) == 1
    assert value("watchdog_events_total", {"source": "generic", "outcome": "duplicate"}) == 1
    assert value("watchdog_events_total", {"source": "generic", "outcome": "bad_signature"}) == 1


async def test_the_dumped_policy_cache_stays_bounded(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its key comes from event fields: a sender naming ever new environments must not grow it forever.
    from watchdog.api import routes_events

    monkeypatch.setattr(routes_events, "_DUMPED_MAX", 1)
    for i, environment in enumerate(["staging", "production", "staging"]):
        resp = await post(client, dumps(event(environment=environment)), msg_id=f"msg_bound_{i}")
        assert resp.status_code == 202, resp.text
        assert len(routes_events._DUMPED) == 1
        stored = runtime.store.get_deployment(resp.json()["deployment_id"])
        assert stored.environment == environment
