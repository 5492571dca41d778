"""A notification survives the outbox: to_json and from_json keep every field a notifier reads."""

from __future__ import annotations

from dataclasses import fields

from watchdog.notify.message import Notification


def test_round_trip_keeps_every_field() -> None:
    n = Notification(
        event="failed",
        service="checkout",
        environment="production",
        version="2.4.1",
        deployment_id="d-1",
        state="failed",
        verdict="failed",
        summary="errors 5.1% > 2%",
        checks=("errors: 5.1% > 2%",),
        report_url="http://wd/v1/incidents/i-1",
        report_path="/r/x.md",
        previous_stable="2.4.0",
        artifact="reg/checkout@sha256:1",
        extra={"idempotency_key": "k-1"},
        rollback_state="refused",
        rollback_trigger="auto",
        paged_before=("d-0",),
    )
    back = Notification.from_json(n.to_json())
    assert back == n
    # A new field that to_json forgets would page nobody (PagerDuty reads rollback_state): every one is kept.
    assert {f.name for f in fields(Notification)} <= {*n.to_json(), "headline"}
