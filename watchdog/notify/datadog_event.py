"""Datadog events (v1 `POST /api/v1/events`) through the official datadog-api-client, in a worker thread.

v1, not v2: v2 change events have no `deployment` resource type (reference/external-apis.md, 2.3).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from datadog_api_client import ApiClient, Configuration
from datadog_api_client.exceptions import ApiException
from datadog_api_client.v1.api.events_api import EventsApi
from datadog_api_client.v1.model.event_alert_type import EventAlertType
from datadog_api_client.v1.model.event_create_request import EventCreateRequest
from pydantic import SecretStr

from watchdog.notify.base import NotifyError, retryable_status
from watchdog.notify.message import Notification

ALERT_TYPE: dict[str, str] = {
    "failed": "error",
    "rollback_failed": "error",
    "inconclusive": "warning",
    "passed": "success",
    "rolled_back": "success",
    "started": "info",
}


def event_request(n: Notification, *, extra_tags: Iterable[str] = ()) -> EventCreateRequest:
    text = "\n".join([n.summary, *(f"- {line}" for line in n.checks)])
    if n.report_url:
        text += f"\nReport: {n.report_url}"
    tags = [
        f"service:{n.service}",
        f"env:{n.environment}",
        f"version:{n.version}",
        f"watchdog_event:{n.event}",
        *extra_tags,
    ]
    return EventCreateRequest(
        title=n.headline[:500],
        text=text[:4000],
        tags=tags,
        alert_type=EventAlertType(ALERT_TYPE.get(n.event, "info")),  # type: ignore[no-untyped-call]
        # One aggregation key per deploy: its started/failed/rolled_back events group in the stream.
        aggregation_key=n.deployment_id[:100],
        source_type_name="deploy-watchdog",
    )


class DatadogEventNotifier:
    def __init__(
        self,
        *,
        name: str,
        api_key: SecretStr,
        events: Iterable[str],
        site: str = "datadoghq.com",
        host: str | None = None,
        tags: Iterable[str] = (),
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.events = frozenset(events)
        self._api_key = api_key
        self._site, self._host, self._tags, self._timeout = site, host, tuple(tags), timeout

    def _configuration(self) -> Configuration:
        # The client's own retries stay off: the dispatcher retries, with its backoff and its metrics.
        if self._host:  # a proxy, or the loopback fake in tests
            cfg = Configuration(host=self._host, request_timeout=self._timeout)  # type: ignore[no-untyped-call]
        else:
            cfg = Configuration(request_timeout=self._timeout)  # type: ignore[no-untyped-call]
            cfg.server_variables["site"] = self._site
        cfg.api_key["apiKeyAuth"] = self._api_key.get_secret_value()
        return cfg

    def _send_sync(self, n: Notification) -> None:
        with ApiClient(self._configuration()) as client:
            try:
                api = EventsApi(client)  # type: ignore[no-untyped-call]
                api.create_event(body=event_request(n, extra_tags=self._tags))
            except ApiException as exc:
                status = int(exc.status or 0)
                raise NotifyError(
                    f"datadog event {self.name}: HTTP {status} {str(exc.body)[:200]}",
                    retryable=status == 0 or retryable_status(status),
                ) from None
            except Exception as exc:  # urllib3 connection errors and timeouts
                raise NotifyError(f"datadog event {self.name}: {type(exc).__name__}: {exc}") from None

    async def send(self, n: Notification) -> None:
        # The official client is synchronous (urllib3); a thread keeps the event loop free.
        await asyncio.to_thread(self._send_sync, n)
