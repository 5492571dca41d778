"""Client-side respect for an upstream's rate-limit headers (Datadog, Sentry): spacing and 429 back-off.

Time is an injected `now()` returning epoch seconds, so tests move it instead of sleeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

# Below this many remaining calls in a window we start spacing requests out.
_LOW_FRACTION = 0.1
_LOW_MIN = 5
# When a 429 carries no usable reset, stay away this long.
_DEFAULT_BLOCK = 60.0
# When a 429 names a reset already past (it raced the window's turn, or clocks differ), pause briefly.
_PAST_RESET_PAUSE = 1.0


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header value, matched without regard to case (urllib3 and proxies differ in spelling)."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def header_float(headers: Mapping[str, str] | None, name: str) -> float | None:
    value = header(headers, name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


class RateLimiter:
    """What one upstream told us about its window: calls remaining and when the window resets.

    `reserve()` says how long to wait before the next call (spacing the last calls of a window over
    the time left in it); `blocked_for()` is positive after a 429 or an exhausted window, and then the
    caller answers inconclusive instead of calling.
    """

    def __init__(self, *, upstream: str, now: Callable[[], float] = time.time) -> None:
        self.upstream = upstream
        self._now = now
        self.limit: int | None = None
        self.remaining: int | None = None
        self.reset_at: float | None = None
        self._blocked_until = 0.0
        self._next_slot = 0.0

    def update(self, *, limit: float | None, remaining: float | None, reset_at: float | None) -> None:
        """Record the headers of one response (any status); unknown values leave the old ones."""
        if limit is not None:
            self.limit = int(limit)
        if remaining is not None:
            self.remaining = int(remaining)
        if reset_at is not None:
            self.reset_at = reset_at
        # An exhausted window would only earn a 429: wait for its reset instead.
        if self.remaining is not None and self.remaining <= 0 and self.reset_at is not None:
            self._blocked_until = max(self._blocked_until, self.reset_at)

    def block(self, *, reset_at: float | None) -> None:
        """A 429: no calls until `reset_at` (or a default pause when the upstream did not say)."""
        now = self._now()
        if reset_at is None:
            until = now + _DEFAULT_BLOCK
        else:
            until = reset_at if reset_at > now else now + _PAST_RESET_PAUSE
        self._blocked_until = max(self._blocked_until, until)
        self.remaining = 0

    def blocked_for(self) -> float:
        """Seconds until calls are allowed again; 0 when they are."""
        return max(0.0, self._blocked_until - self._now())

    def reason(self) -> str:
        return f"rate limited by {self.upstream} for {math.ceil(self.blocked_for())} s more"

    def reserve(self, *, max_wait: float = math.inf) -> float | None:
        """Claims the next call slot and returns how long to wait before calling.

        None (nothing claimed) when the slot is further away than `max_wait`: better an inconclusive
        sample now than a verification stuck behind an exhausted window.
        """
        now = self._now()
        spacing = self._spacing(now)
        slot = max(now, self._next_slot)
        if slot - now > max_wait:
            return None
        self._next_slot = slot + spacing
        if self.remaining is not None and spacing > 0:
            # Count the reservation so concurrent callers do not all see the same budget.
            self.remaining = max(self.remaining - 1, 0)
        return slot - now

    def _spacing(self, now: float) -> float:
        if self.remaining is None or self.reset_at is None or self.reset_at <= now:
            return 0.0
        low = max(_LOW_MIN, math.ceil((self.limit or 0) * _LOW_FRACTION))
        if self.remaining > low:
            return 0.0
        return (self.reset_at - now) / max(self.remaining, 1)
