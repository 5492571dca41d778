"""Sends the daemon's own errors to Sentry, scrubbed: every string passes the redactor, and request
bodies (signed webhook payloads, tokens) never leave the process.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, cast

import sentry_sdk
from sentry_sdk.integrations import Integration
from sentry_sdk.types import Event, Hint

from watchdog.redact import MASK, REDACTOR, redact

# Header names whose values are credentials or signatures, whatever the sender.
_SECRET_HEADER = re.compile(
    r"(?i)authorization|cookie|token|secret|signature|api-?key|app-?key|x-hub-|session"
)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def before_send(event: Event, hint: Hint) -> Event | None:
    """Drops request bodies and cookies, masks credential headers, then redacts every string left."""
    request = event.get("request")
    if isinstance(request, dict):
        # Our request bodies are webhooks from deploy systems: payloads we must not copy elsewhere.
        request.pop("data", None)
        request.pop("cookies", None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {k: (MASK if _SECRET_HEADER.search(k) else v) for k, v in headers.items()}
    return cast(Event, _scrub(event))


def setup_sentry(
    *, dsn: str | None, environment: str, release: str, traces_sample_rate: float | None = None
) -> bool:
    """Initialises sentry-sdk when a DSN is given; returns whether it did. Call it inside the running loop."""
    if not dsn:
        return False
    REDACTOR.add(dsn)
    integrations: list[Integration] = []
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # no loop (CLI commands): asyncio tasks are not patched, everything else still reports
    else:
        from sentry_sdk.integrations.asyncio import AsyncioIntegration

        integrations.append(AsyncioIntegration())
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        before_send=before_send,
        before_send_transaction=before_send,
        traces_sample_rate=traces_sample_rate,
        max_request_body_size="never",
        integrations=integrations,
        shutdown_timeout=2,
    )
    return True
