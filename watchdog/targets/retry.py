"""Retries with exponential backoff for transient target errors only, and the HTTP status rules behind them.

Transient means worth asking again: a connection error, a 5xx or a 429. A 4xx is never retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Generic, TypeVar

import httpx

from watchdog.errors import TargetError, TransientTargetError

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """`attempts` tries in all; the delay before try n+1 is base x factor^(n-1), at most max_delay."""

    attempts: int = 4
    base: float = 1.0
    factor: float = 2.0
    max_delay: float = 30.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_delay, self.base * self.factor ** max(0, attempt - 1)))


class RetryAfter(TransientTargetError):
    """A transient error whose server said how long to wait (429/503 with Retry-After)."""

    def __init__(self, message: str, *, after: float) -> None:
        self.after = after
        super().__init__(message)


@dataclass
class Retried(Generic[T]):
    value: T
    attempts: int


def is_transient_status(status: int) -> bool:
    return status == 429 or status >= 500


def retry_after_seconds(resp: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date); None when absent or unreadable."""
    value = resp.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    date = resp.headers.get("date")
    now = parsedate_to_datetime(date) if date else None
    return max(0.0, (when - now).total_seconds()) if now else None


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
    loop = asyncio.get_running_loop()
    attempt = 1
    while True:
        try:
            return Retried(await call(), attempt)
        except TransientTargetError as exc:
            if attempt >= backoff.attempts:
                raise
            delay = backoff.delay(attempt)
            if isinstance(exc, RetryAfter):
                # The server's own hint wins, bounded so a hostile header cannot park a rollback.
                delay = min(max(delay, exc.after), backoff.max_delay)
            if deadline is not None and loop.time() + delay > deadline:
                raise
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            await asyncio.sleep(delay)
            attempt += 1
