"""A generic JSON webhook, optionally signed the Standard Webhooks way (webhook-id, -timestamp, -signature).

The message id is derived from deploy and event, so a receiver can drop our retries as duplicates.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterable, Mapping

import httpx
from pydantic import SecretStr

from watchdog.errors import ConfigError
from watchdog.notify.base import answered
from watchdog.notify.message import Notification


def message_id(n: Notification) -> str:
    key = n.extra.get("idempotency_key")
    if key:
        return f"msg_{key}"  # the outbox's id for this one message: the same on every retry and restart
    digest = hashlib.sha256(f"{n.deployment_id}:{n.event}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def secret_bytes(secret: str) -> bytes:
    """A `whsec_<base64>` secret as the key bytes; a bad secret is a config error, found at start-up."""
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        raise ConfigError("webhook notifier secret must be whsec_ followed by base64") from None


def sign(*, key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def webhook_payload(n: Notification, *, timestamp: int) -> bytes:
    # The Standard Webhooks envelope: type, timestamp, data.
    envelope = {
        "type": f"deploy.{n.event}",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp)),
        "data": n.to_json(),
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()


class WebhookNotifier:
    def __init__(
        self,
        *,
        name: str,
        url: str,
        events: Iterable[str],
        headers: Mapping[str, str] | None = None,
        secret: SecretStr | None = None,
        timeout: float = 10.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.events = frozenset(events)
        self._url, self._headers, self._timeout, self._now = url, dict(headers or {}), timeout, now
        self._key = secret_bytes(secret.get_secret_value()) if secret is not None else None

    async def send(self, n: Notification) -> None:
        timestamp = int(self._now())
        body = webhook_payload(n, timestamp=timestamp)
        headers = {"content-type": "application/json", "idempotency-key": message_id(n), **self._headers}
        if self._key is not None:
            msg_id = message_id(n)
            headers |= {
                "webhook-id": msg_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(key=self._key, msg_id=msg_id, timestamp=timestamp, body=body),
            }
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            post = client.post(self._url, content=body, headers=headers)
            await answered(f"webhook {self.name}", post, quote_error=True)
