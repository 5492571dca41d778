"""`POST /v1/events`: the generic deploy event, signed the Standard Webhooks way.

`webhook-id` is the idempotency key; several secrets (space-separated) are accepted during rotation.
"""

from __future__ import annotations

from watchdog.intake.base import Delivery, Intake, parser
from watchdog.intake.body import build_event, parse_object
from watchdog.intake.headers import require_header
from watchdog.intake.refusals import not_configured
from watchdog.intake.signatures import standard_secrets, verify_standard

SOURCE = "generic"
ROUTE, SETTING = "POST /v1/events", "WATCHDOG_WEBHOOK_SECRET"


@parser(route=ROUTE, setting=SETTING)
def parse(d: Delivery) -> Intake:
    secrets = standard_secrets(d.secret)
    if not secrets:  # only spaces: no secret at all
        raise not_configured(ROUTE, SETTING)
    msg_id = require_header(d.headers, "webhook-id", auth=True)
    verify_standard(
        msg_id=msg_id,
        timestamp=require_header(d.headers, "webhook-timestamp", auth=True),
        signature=require_header(d.headers, "webhook-signature", max_len=10_000, auth=True),
        body=d.body,
        secrets=secrets,
        now=d.now,
    )
    event = build_event(parse_object(d.body))
    return Intake(source=SOURCE, delivery_id=msg_id, event=event)
