"""`POST /v1/events`: the generic deploy event, signed the Standard Webhooks way.

`webhook-id` is the idempotency key; several secrets (space-separated) are accepted during rotation.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from watchdog.intake.base import Intake
from watchdog.intake.refusals import (
    build_event,
    lower_headers,
    not_configured,
    parse_object,
    require_header,
)
from watchdog.intake.signatures import standard_secrets, verify_standard

SOURCE = "generic"


def parse(
    *,
    headers: Mapping[str, str],
    body: bytes,
    secret: str | None,
    now: datetime,
    query: Mapping[str, str] | None = None,
) -> Intake:
    secrets = standard_secrets(secret or "")
    if not secrets:
        raise not_configured("POST /v1/events", "WATCHDOG_WEBHOOK_SECRET")
    h = lower_headers(headers)
    msg_id = require_header(h, "webhook-id", auth=True)
    verify_standard(
        msg_id=msg_id,
        timestamp=require_header(h, "webhook-timestamp", auth=True),
        signature=require_header(h, "webhook-signature", max_len=10_000, auth=True),
        body=body,
        secrets=secrets,
        now=now,
    )
    event = build_event(parse_object(body))
    return Intake(source=SOURCE, delivery_id=msg_id, event=event)
