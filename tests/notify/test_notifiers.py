"""Each notifier against a real loopback receiver: Slack blocks, a Datadog v1 event sent by the official
client, and a generic webhook whose Standard Webhooks signature the `standardwebhooks` library accepts.
"""

from __future__ import annotations

import json
from typing import get_args

import pytest
from standardwebhooks.webhooks import Webhook

from tests.notify.receiver import receiver
from watchdog.errors import ConfigError
from watchdog.notify.dispatcher import Dispatcher
from watchdog.notify.message import Notification
from watchdog.notify.registry import NOTIFIERS, build_notifiers
from watchdog.notify.webhook import secret_bytes, sign
from watchdog.policy.connections import DaemonConfig, NotifierConfig, NotifyEvent

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def _noop(_: float) -> None:
    return None


def notification(event: NotifyEvent = "rolled_back") -> Notification:
    return Notification(
        event=event,
        service="checkout",
        environment="production",
        version="2.4.1",
        deployment_id="dep-0001",
        state=event,
        verdict="failed",
        summary="error rate rose from 0.4% to 6.1% (limit 2.0%) 90 s after checkout 2.4.1 reached "
        "production; rolled back to 2.4.0 in 38 s.",
        checks=("errors: 2/2 failing; peak 6.1% at +90 s (max 2.0%); error rate 6.1% > limit 2.0%",),
        report_url="https://watchdog.example/v1/incidents/inc-1",
        previous_stable="2.4.0",
    )


def config(notifiers: dict[str, object]) -> DaemonConfig:
    return DaemonConfig.model_validate({"notifiers": notifiers})


async def _send(daemon: DaemonConfig, environ: dict[str, str], n: Notification, name: str) -> None:
    dispatcher = Dispatcher(build_notifiers(daemon, environ=environ), sleep=_noop)
    dispatcher.notify(names=[name], notification=n)
    assert await dispatcher.drain(timeout=30) == 0


async def test_slack_incoming_webhook_blocks() -> None:
    with receiver() as rx:
        env = {"SLACK_URL": f"{rx.url}/services/T000/B000/XXXX"}
        await _send(
            config({"slack-sre": {"type": "slack", "webhook_url_env": "SLACK_URL"}}),
            env,
            notification(),
            "slack-sre",
        )
    [req] = rx.requests
    assert req.path == "/services/T000/B000/XXXX"
    body = req.json()
    assert body["text"].startswith("checkout 2.4.1 was rolled back in production: error rate rose")
    header, section, context, actions = body["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "checkout 2.4.1 was rolled back in production", "emoji": True},
    }
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert "from 0.4% to 6.1% (limit 2.0%)" in section["text"]["text"]
    assert "• errors: 2/2 failing" in section["text"]["text"]
    assert "previous stable 2.4.0" in context["elements"][0]["text"]
    assert actions["elements"][0]["url"] == "https://watchdog.example/v1/incidents/inc-1"


async def test_datadog_event_through_the_official_client() -> None:
    answer = json.dumps({"status": "ok", "event": {"id": 1, "title": "x"}}).encode()
    with receiver(answer=answer, default=202) as rx:
        daemon = config(
            {
                "dd": {
                    "type": "datadog_event",
                    "host": rx.url,
                    "api_key_env": "DD_KEY",
                    "tags": ["team:payments"],
                }
            }
        )
        await _send(daemon, {"DD_KEY": "dd-test-api-key"}, notification("failed"), "dd")
    [req] = rx.requests
    assert req.path == "/api/v1/events"
    assert req.headers["DD-API-KEY"] == "dd-test-api-key"
    event = req.json()
    assert event["title"] == "checkout 2.4.1 failed verification in production"
    assert event["alert_type"] == "error"
    assert event["aggregation_key"] == "dep-0001"
    assert set(event["tags"]) >= {"service:checkout", "env:production", "version:2.4.1", "team:payments"}
    assert "Report: https://watchdog.example/v1/incidents/inc-1" in event["text"]


@pytest.mark.parametrize(
    ("event", "alert_type"),
    [("inconclusive", "warning"), ("rolled_back", "success"), ("passed", "success"), ("started", "info")],
)
async def test_datadog_alert_type_by_outcome(event: NotifyEvent, alert_type: str) -> None:
    with receiver(answer=b'{"status": "ok"}', default=202) as rx:
        daemon = config(
            {"dd": {"type": "datadog_event", "host": rx.url, "api_key_env": "K", "events": [event]}}
        )
        await _send(daemon, {"K": "key-1234"}, notification(event), "dd")
    assert rx.requests[0].json()["alert_type"] == alert_type


async def test_generic_webhook_signature_verifies() -> None:
    with receiver() as rx:
        daemon = config(
            {
                "hook": {
                    "type": "webhook",
                    "url": f"{rx.url}/hook",
                    "secret_env": "HOOK_SECRET",
                    "headers": {"X-Team": "${TEAM}"},
                }
            }
        )
        await _send(daemon, {"HOOK_SECRET": SECRET, "TEAM": "payments"}, notification(), "hook")
    [req] = rx.requests
    headers = {k.lower(): v for k, v in req.headers.items()}
    payload = Webhook(SECRET).verify(req.body, headers)
    assert payload["type"] == "deploy.rolled_back"
    assert payload["data"]["deployment_id"] == "dep-0001"
    assert headers["x-team"] == "payments"
    assert headers["webhook-id"].startswith("msg_")


def test_signature_matches_the_spec_vector() -> None:
    got = sign(
        key=secret_bytes(SECRET),
        msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=1614265330,
        body=b'{"test": 2432232314}',
    )
    assert got == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_registry_is_loud() -> None:
    union = get_args(NotifierConfig)[0]
    assert {get_args(cls.model_fields["type"].annotation)[0] for cls in get_args(union)} == set(NOTIFIERS)
    with pytest.raises(ConfigError, match="environment variable SLACK_URL is not set"):
        build_notifiers(config({"s": {"type": "slack", "webhook_url_env": "SLACK_URL"}}), environ={})
    with pytest.raises(ConfigError, match="needs webhook_url_env or webhook_url_file"):
        build_notifiers(config({"s": {"type": "slack"}}), environ={})
    bogus = DaemonConfig.model_construct(notifiers={"p": type("Cfg", (), {"type": "carrier_pigeon"})()})
    with pytest.raises(
        ConfigError,
        match="unknown notifier type 'carrier_pigeon'; known: slack, datadog_event, webhook, pagerduty",
    ):
        build_notifiers(bogus, environ={})
