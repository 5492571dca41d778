"""Grafana annotations: a mark on the dashboards at the deploy, at the verdict, and at the rollback.

POST /api/annotations with a service account token; tags say service, environment and what happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx
from pydantic import SecretStr

from watchdog.clock import Clock, SystemClock
from watchdog.notify.base import answered
from watchdog.notify.message import Notification

KIND = {
    "started": "deploy",
    "passed": "verdict",
    "failed": "verdict",
    "inconclusive": "verdict",
    "rolled_back": "rollback",
    "rollback_failed": "rollback",
}


def annotation_body(
    n: Notification, *, time_ms: int, dashboard_uid: str | None, tags: Iterable[str]
) -> dict[str, Any]:
    text = f"{n.headline}: {n.summary}"
    if n.report_url:
        text += f' <a href="{n.report_url}">post-mortem</a>'
    body: dict[str, Any] = {
        "time": time_ms,
        "tags": [
            "deploy-watchdog",
            KIND.get(n.event, n.event),
            f"service:{n.service}",
            f"environment:{n.environment}",
            f"version:{n.version}",
            f"event:{n.event}",
            *tags,
        ],
        "text": text,
    }
    if dashboard_uid:
        body["dashboardUID"] = dashboard_uid
    return body


class GrafanaAnnotationNotifier:
    def __init__(
        self,
        *,
        name: str,
        url: str,
        token: SecretStr | None,
        events: Iterable[str],
        dashboard_uid: str | None = None,
        tags: Iterable[str] = (),
        clock: Clock | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.events = frozenset(events)
        self._url, self._token = url.rstrip("/"), token
        self._uid, self._tags = dashboard_uid, tuple(tags)
        self._clock = clock or SystemClock()
        self._timeout = timeout

    async def send(self, n: Notification) -> None:
        time_ms = int(self._clock.now().timestamp() * 1000)
        body = annotation_body(n, time_ms=time_ms, dashboard_uid=self._uid, tags=self._tags)
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"} if self._token else {}
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            post = client.post(f"{self._url}/api/annotations", json=body, headers=headers)
            await answered(f"grafana {self.name}", post)
