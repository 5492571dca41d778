"""The targets' side of watchdog/resilience.py: transient target errors, and the status rules behind them.

Transient means worth asking again: a connection error, a 5xx or a 429. A 4xx is never retried.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

from watchdog.errors import TargetError, TransientTargetError
from watchdog.resilience import Attempted, Backoff, Retry, retry_after, retryable_status
from watchdog.resilience import with_retries as resilient

__all__ = ["Backoff", "Retried", "RetryAfter", "raise_for_status", "transport_error", "with_retries"]

T = TypeVar("T")


class RetryAfter(TransientTargetError):
    """A transient error whose server said how long to wait (429/503 with Retry-After)."""

    def __init__(self, message: str, *, after: float) -> None:
        self.after = after
        super().__init__(message)


Retried = Attempted  # value + attempts, the name the targets use


def is_transient_status(status: int) -> bool:
    return retryable_status(status)


def retry_after_seconds(resp: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date); None when absent or unreadable."""
    return retry_after(resp.headers)


def raise_for_status(resp: httpx.Response, *, what: str, message: str = "") -> None:
    """Raises TransientTargetError for 429/5xx and TargetError for any other non-2xx answer."""
    if resp.is_success:
        return
    text = f"{what}: HTTP {resp.status_code}" + (f": {message}" if message else "")
    if is_transient_status(resp.status_code):
        after = retry_after_seconds(resp)
        if after is not None:
            raise RetryAfter(text, after=after)
        raise TransientTargetError(text)
    raise TargetError(text)


def transport_error(exc: httpx.TransportError, *, what: str) -> TransientTargetError:
    """A connection-level failure as a transient error, named by its kind."""
    kind = type(exc).__name__
    detail = str(exc) or kind
    return TransientTargetError(f"{what}: {kind}: {detail}")


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff,
    deadline: float | None = None,
    on_retry: Callable[[int, TransientTargetError, float], None] | None = None,
) -> Retried[T]:
    """Runs `call` until it succeeds, raises a permanent error, or the attempts or deadline run out.

    `deadline` is a loop.time() instant: no sleep is started that would end past it, so a rollback's overall
    timeout bounds its retries too. The last transient error is re-raised when attempts are exhausted.
    """

    def transient(exc: Exception) -> Retry | None:
        if not isinstance(exc, TransientTargetError):
            return None
        return Retry(after=exc.after if isinstance(exc, RetryAfter) else None)

    def noted(attempt: int, exc: Exception, delay: float) -> None:
        if on_retry is not None and isinstance(exc, TransientTargetError):
            on_retry(attempt, exc, delay)

    return await resilient(call, backoff=backoff, retry_on=transient, deadline=deadline, on_retry=noted)
