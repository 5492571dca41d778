"""Sentry set-up: the scrub hook alone, and one real round trip to a loopback fake of Sentry's ingest
endpoint (`POST /api/1/envelope/`) whose captured envelope must hold no secret and no webhook body.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator

import pytest
import sentry_sdk
from sentry_sdk.types import Event

from tests.conftest import KNOWN_SECRET
from tests.notify.receiver import receiver
from watchdog.errortracking import before_send, setup_sentry
from watchdog.redact import REDACTOR

WEBHOOK_BODY = '{"service": "checkout", "version": "2.4.1", "marker": "webhook-body-7c1e"}'


@pytest.fixture(autouse=True)
def _secret() -> Iterator[None]:
    REDACTOR.add(KNOWN_SECRET)
    yield


def test_without_dsn_nothing_is_set_up() -> None:
    assert setup_sentry(dsn=None, environment="test", release="watchdog@0") is False
    assert setup_sentry(dsn="", environment="test", release="watchdog@0") is False


def test_hook_scrubs_messages_exceptions_breadcrumbs_and_drops_bodies() -> None:
    event: Event = {
        "message": f"token {KNOWN_SECRET} refused",
        "exception": {"values": [{"type": "TargetError", "value": f"argocd said {KNOWN_SECRET}"}]},
        "breadcrumbs": {"values": [{"message": f"GET https://x?api_key={KNOWN_SECRET}"}]},
        "request": {
            "url": "http://127.0.0.1/v1/webhooks/github",
            "data": WEBHOOK_BODY,
            "cookies": {"session": "abc"},
            "headers": {"X-Hub-Signature-256": "sha256=abcd", "Authorization": "Bearer x", "Accept": "*/*"},
        },
    }
    out = before_send(event, {})
    assert out is not None
    text = repr(out)
    assert KNOWN_SECRET not in text and "webhook-body-7c1e" not in text and "abcd" not in text
    headers = out["request"]["headers"]
    assert isinstance(headers, dict)
    assert headers["Accept"] == "*/*"
    assert "data" not in out["request"] and "cookies" not in out["request"]
    assert out["exception"]["values"][0]["value"] == "argocd said ***"


def _decode(body: bytes, encoding: str | None) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli

        return bytes(brotli.decompress(body))
    return body


def test_round_trip_to_a_loopback_ingest() -> None:
    with receiver(answer=b"{}") as ingest:
        port = ingest.url.rsplit(":", 1)[1]
        assert setup_sentry(
            dsn=f"http://publickey@127.0.0.1:{port}/1", environment="test", release="watchdog@0.1.0"
        )
        try:
            sentry_sdk.add_breadcrumb(message=f"called argocd with {KNOWN_SECRET}")
            with sentry_sdk.new_scope() as scope:
                scope.add_event_processor(
                    lambda event, hint: {
                        **event,
                        "request": {"url": "http://x/v1/events", "data": WEBHOOK_BODY},
                    }
                )
                try:
                    raise RuntimeError(f"rollback failed; output mentions {KNOWN_SECRET}")
                except RuntimeError:
                    sentry_sdk.capture_exception()
            sentry_sdk.flush(timeout=10)
        finally:
            sentry_sdk.get_client().close(timeout=2)
            sentry_sdk.get_global_scope().set_client(None)
    envelopes = [r for r in ingest.requests if r.path.startswith("/api/1/envelope/")]
    assert envelopes, f"no envelope arrived: {[r.path for r in ingest.requests]}"
    raw = b"\n".join(_decode(r.body, r.headers.get("Content-Encoding")) for r in envelopes)
    assert b"RuntimeError" in raw and b"rollback failed; output mentions ***" in raw
    assert b"called argocd with ***" in raw
    assert KNOWN_SECRET.encode() not in raw
    assert b"webhook-body-7c1e" not in raw
