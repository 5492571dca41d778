"""A loopback PagerDuty Events API v2 (`POST /v2/enqueue`) that keeps incidents by dedup key.

Shape source: PagerDuty's public Events API v2 reference ("Send an Alert Event"). A request is JSON with
`routing_key` (the integration key, 32 characters), `event_action` (trigger | acknowledge | resolve) and
`dedup_key`; a trigger also needs `payload` with `summary` (at most 1,024 characters), `source` and
`severity` (critical | error | warning | info), and may carry `component`, `group`, `class`,
`custom_details`, `links` [{href, text}], `client` and `client_url`. The answer is 202
`{"status": "success", "message": "Event processed", "dedup_key": ...}`; an invalid event gets 400
`{"status": "invalid event", "message": "Event object is invalid", "errors": [...]}`. Triggers with a
dedup key that is already open add to that incident instead of opening another; a resolve closes it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.loopback_json import JsonServer

SEVERITIES = {"critical", "error", "warning", "info"}


@dataclass
class Incident:
    dedup_key: str
    status: str  # triggered | resolved
    summary: str
    events: list[dict[str, Any]] = field(default_factory=list)


class FakePagerDuty(JsonServer):
    def __init__(self, *, routing_key: str) -> None:
        super().__init__()
        self.routing_key = routing_key
        self.incidents: dict[str, Incident] = {}

    @property
    def enqueue_url(self) -> str:
        return f"{self.url}/v2/enqueue"

    def _invalid(self, *errors: str) -> tuple[int, Any]:
        return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)}

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        if method != "POST" or path != "/v2/enqueue":
            return 404, {"status": "not found"}
        if not isinstance(body, dict):
            return self._invalid("body must be a JSON object")
        errors = []
        key = body.get("routing_key")
        if not isinstance(key, str) or len(key) != 32:
            errors.append("'routing_key' must be a 32 character string")
        action = body.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
        dedup = body.get("dedup_key")
        if action in ("acknowledge", "resolve") and not dedup:
            errors.append("'dedup_key' is required for acknowledge and resolve")
        if action == "trigger":
            payload = body.get("payload")
            if not isinstance(payload, dict):
                errors.append("'payload' is missing or not an object")
            else:
                for name in ("summary", "source", "severity"):
                    if not payload.get(name):
                        errors.append(f"'payload.{name}' is missing or blank")
                if payload.get("severity") not in SEVERITIES:
                    errors.append(
                        "'payload.severity' is invalid (must be one of: critical, error, warning, info)"
                    )
                if len(str(payload.get("summary", ""))) > 1024:
                    errors.append("'payload.summary' is longer than 1024 characters")
        if errors:
            return self._invalid(*errors)
        if key != self.routing_key:
            # PagerDuty accepts and drops events for an unknown key; a test wants to see them anyway.
            return 202, {"status": "success", "message": "Event processed", "dedup_key": dedup or ""}
        dedup = dedup or uuid.uuid4().hex
        incident = self.incidents.get(dedup)
        if action == "trigger":
            if incident is None or incident.status == "resolved":
                incident = self.incidents[dedup] = Incident(dedup, "triggered", body["payload"]["summary"])
            incident.events.append(body)
        elif incident is not None:
            incident.status = "resolved" if action == "resolve" else "acknowledged"
            incident.events.append(body)
        return 202, {"status": "success", "message": "Event processed", "dedup_key": dedup}
