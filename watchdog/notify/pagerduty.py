"""PagerDuty Events API v2: a page for a failed rollback, a refused automatic rollback, and (by choice) an
inconclusive verdict; resolved when a later verification of the same service and environment passes.

One dedup key per deployment, so retries and repeated notifications of one deploy make one incident.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from watchdog.notify.base import answered
from watchdog.notify.message import Notification

Action = Literal["trigger", "resolve"]


def dedup_key(deployment_id: str) -> str:
    return f"deploy-watchdog/{deployment_id}"


def decide(n: Notification, *, page_on_inconclusive: bool) -> Action | None:
    """What a notification means to the on-call: page, resolve, or nothing."""
    if n.event == "rollback_failed":
        return "trigger"
    if n.event == "failed" and n.rollback_state == "refused" and n.rollback_trigger == "auto":
        return "trigger"  # the daemon wanted to roll back and a guard rail said no: a person must decide
    if n.event == "inconclusive" and page_on_inconclusive:
        return "trigger"
    if n.event in ("passed", "rolled_back"):
        return "resolve"
    return None


def trigger_body(n: Notification, *, routing_key: str, severity: str) -> dict[str, Any]:
    why = {
        "rollback_failed": "the rollback failed: roll back by hand",
        "failed": "the automatic rollback was refused",
        "inconclusive": "the verification was inconclusive",
    }.get(n.event, n.event)
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(n.deployment_id),
        "payload": {
            "summary": f"{n.headline}: {why}. {n.summary}"[:1024],
            "source": f"deploy-watchdog/{n.service}/{n.environment}",
            "severity": severity,
            "component": n.service,
            "group": n.environment,
            "class": n.event,
            "custom_details": {
                "deployment_id": n.deployment_id,
                "version": n.version,
                "artifact": n.artifact,
                "state": n.state,
                "verdict": n.verdict,
                "rollback": n.rollback_state,
                "previous_stable": n.previous_stable,
                "checks": list(n.checks),
            },
        },
        "client": "Deploy Watchdog",
    }
    if n.report_url:
        body["links"] = [{"href": n.report_url, "text": "Post-mortem"}]
        body["client_url"] = n.report_url
    return body


class PagerDutyNotifier:
    def __init__(
        self,
        *,
        name: str,
        routing_key: SecretStr,
        events: Iterable[str],
        url: str = "https://events.pagerduty.com/v2/enqueue",
        severity: str = "critical",
        page_on_inconclusive: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.events = frozenset(events)
        self._key, self._url, self._severity = routing_key, url, severity
        self._inconclusive = page_on_inconclusive
        self._timeout = timeout
        # (service, environment) -> dedup keys this process triggered and has not resolved yet; a restart
        # loses it, and the notification's paged_before (from the store) covers what it lost.
        self.open: dict[tuple[str, str], set[str]] = {}

    async def send(self, n: Notification) -> None:
        action = decide(n, page_on_inconclusive=self._inconclusive)
        pair = (n.service, n.environment)
        key = self._key.get_secret_value()
        if action == "trigger":
            await self._post(trigger_body(n, routing_key=key, severity=self._severity))
            self.open.setdefault(pair, set()).add(dedup_key(n.deployment_id))
        elif action == "resolve":
            # What this process opened, and what the store says earlier deploys may have opened (a restart
            # forgets the former; resolving a key that never paged is a no-op in PagerDuty).
            keys = set(self.open.get(pair, set())) | {dedup_key(d) for d in n.paged_before}
            if n.event == "rolled_back":
                # A refused rollback that an operator then carried out: its own page is over too.
                keys.add(dedup_key(n.deployment_id))
            for k in sorted(keys):
                await self._post({"routing_key": key, "event_action": "resolve", "dedup_key": k})
                self.open.get(pair, set()).discard(k)

    async def _post(self, body: dict[str, Any]) -> None:
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            # Events API v2 answers 202 Accepted; anything else did not enqueue the event.
            post = client.post(self._url, json=body)
            await answered(f"pagerduty {self.name}", post, accept=lambda status: status == 202)
