"""The notifier contract: a name, the events it wants, and one `send` that raises on failure.

The dispatcher owns retries, so a notifier makes exactly one attempt per call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import httpx

from watchdog import resilience
from watchdog.errors import WatchdogError
from watchdog.notify.message import Notification


class NotifyError(WatchdogError):
    """A delivery failed; `retryable` is False when trying again cannot help (401, 404, bad payload)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        self.retryable = retryable
        super().__init__(message)


def retryable_status(status: int) -> bool:
    """Timeouts, throttling and server errors pass; other client errors will not on a retry."""
    return resilience.retryable_status(status)


def _success(status: int) -> bool:
    return status < 300


async def answered(
    what: str,
    call: Awaitable[httpx.Response],
    *,
    request: str = "",
    accept: Callable[[int], bool] = _success,
    retryable: Callable[[int], bool] = retryable_status,
    quote_error: bool = False,
) -> httpx.Response:
    """The answer to one HTTP call of a notifier (`what`: "slack ops"), or the NotifyError it amounts to.

    A transport failure names only its kind unless `quote_error`: its text can hold the URL, which may be
    the secret. A refused answer quotes `request` ("POST /path"), its status and the start of its body.
    """
    try:
        resp = await call
    except httpx.HTTPError as exc:
        raise NotifyError(f"{what}: {type(exc).__name__}" + (f": {exc}" if quote_error else "")) from None
    if not accept(resp.status_code):
        where = f"{request}: " if request else ""
        raise NotifyError(
            f"{what}: {where}HTTP {resp.status_code} {resp.text[:200]}", retryable=retryable(resp.status_code)
        )
    return resp


class Notifier(Protocol):
    name: str
    events: frozenset[str]

    async def send(self, n: Notification) -> None:
        """One delivery attempt; raises NotifyError (or any exception) when it did not arrive."""
        ...
