"""The notifier contract: a name, the events it wants, and one `send` that raises on failure.

The dispatcher owns retries, so a notifier makes exactly one attempt per call.
"""

from __future__ import annotations

from typing import Protocol

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


class Notifier(Protocol):
    name: str
    events: frozenset[str]

    async def send(self, n: Notification) -> None:
        """One delivery attempt; raises NotifyError (or any exception) when it did not arrive."""
        ...
