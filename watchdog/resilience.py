"""HTTP resilience that sources, targets and notifiers share: what may heal, how long to wait, one retry loop.

Imports nothing of ours, so the three families use it without importing each other (import-linter checks).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Generic, Literal, TypeVar

# Why not tenacity or stamina: the loop below is ~30 lines; expressing the same with tenacity needs a custom
# wait (Retry-After), a custom stop (a deadline on the event loop's clock) and per-attempt callbacks anyway,
# and stamina adds process-wide switches that tests would have to flip: a dependency for no fewer lines.
T = TypeVar("T")


class ErrorKind(StrEnum):
    """Why an upstream call failed; also the `kind` label of the error metrics."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"  # refused, unreachable, DNS: nothing was sent
    TRANSPORT = "transport"  # the connection broke mid-exchange
    HTTP_4XX = "http_4xx"
    HTTP_5XX = "http_5xx"
    RATE_LIMITED = "rate_limited"
    PARSE = "parse"  # an answer we cannot read
    QUERY = "query"  # the query itself is wrong (several series, a range vector)
    CONFIG = "config"  # a missing secret or variable
    ERROR = "error"


# Kinds worth another attempt: the upstream or the path to it hiccupped. A 4xx or a bad body will not heal.
RETRYABLE_KINDS = frozenset({ErrorKind.TIMEOUT, ErrorKind.CONNECTION, ErrorKind.HTTP_5XX})
# 501 Not Implemented and 505 HTTP Version Not Supported are server answers that no retry changes.
_PERMANENT_5XX = frozenset({501, 505})


def retryable_status(status: int) -> bool:
    """Timeouts (408), too early (425), throttling (429) and server errors heal; other 4xx never do."""
    return status in (408, 425, 429) or (status >= 500 and status not in _PERMANENT_5XX)


def status_kind(status: int) -> ErrorKind:
    if status == 429:
        return ErrorKind.RATE_LIMITED
    return ErrorKind.HTTP_5XX if status >= 500 else ErrorKind.HTTP_4XX


def retry_after(headers: Mapping[str, str], *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date); None when absent or unreadable.

    An HTTP date is measured against the answer's own Date header when it has one (the server's clock, so
    a skewed local clock does not matter), else against `now()` (epoch seconds, injectable for tests).
    """
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    reference: float | None = None
    if date := headers.get("date"):
        try:
            reference = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            reference = None
    return max(0.0, when - (now() if reference is None else reference))


@dataclass(frozen=True)
class Backoff:
    """`attempts` tries in all; before try n+1 wait base x factor^(n-1), at most max_delay, times jitter.

    `jitter` spreads each delay over [1 - jitter/2, 1 + jitter/2) of itself, so many callers retrying at
    once do not stampede. A server hint (Retry-After) longer than max_delay is either waited for up to
    max_delay (`long_hint="wait_max"`: a rollback keeps trying) or ends the retries (`"give_up"`: a sample
    is not worth a long wait; the next one comes anyway).
    """

    attempts: int = 4
    base: float = 1.0
    factor: float = 2.0
    max_delay: float = 30.0
    jitter: float = 0.0
    long_hint: Literal["wait_max", "give_up"] = "wait_max"

    def delay(self, attempt: int, *, rand: Callable[[], float] = random.random) -> float:
        plain = min(self.max_delay, self.base * self.factor ** max(0, attempt - 1))
        return float(plain * (1.0 - self.jitter / 2 + self.jitter * rand()) if self.jitter else plain)


@dataclass(frozen=True)
class Retry:
    """Yes, try again; `after` is the server's hint in seconds, if it gave one."""

    after: float | None = None


@dataclass
class Attempted(Generic[T]):
    value: T
    attempts: int


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff,
    retry_on: Callable[[Exception], Retry | None],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    deadline: float | None = None,
    clock: Callable[[], float] | None = None,
    on_retry: Callable[[int, Exception, float], None] | None = None,
) -> Attempted[T]:
    """Runs `call` until it returns, raises what `retry_on` refuses, or the attempts or the deadline run out.

    `deadline` is an instant of `clock` (default the running loop's time): no wait is started that would end
    past it. The last error is re-raised when giving up, so callers see what really went wrong.
    """
    attempt = 1
    while True:
        try:
            return Attempted(await call(), attempt)
        except Exception as exc:
            decision = retry_on(exc)
            if decision is None or attempt >= backoff.attempts:
                raise
            delay = backoff.delay(attempt)
            if decision.after is not None:
                if decision.after > backoff.max_delay and backoff.long_hint == "give_up":
                    raise
                # The server's own hint wins, bounded so a hostile header cannot park the caller.
                delay = min(max(delay, decision.after), backoff.max_delay)
            if deadline is not None:
                now = clock() if clock is not None else asyncio.get_running_loop().time()
                if now + delay > deadline:
                    raise
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            await sleep(delay)
            attempt += 1
