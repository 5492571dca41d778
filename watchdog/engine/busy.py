"""Writes the store refused (SQLite's lock held past its busy timeout in a burst, or a store gone bad):
counted and said once a minute at WARNING, never an ERROR per step; the refused work stays due and is retried.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

from watchdog.redact import redact
from watchdog.store.health import StoreUnavailable

log = logging.getLogger(__name__)


class Refusals:
    """The engine's refused claims, steps and renewals since the last report; the first is said at once."""

    def __init__(self, *, every_s: float = 60.0, now: Callable[[], float] = time.monotonic) -> None:
        self._every, self._now = every_s, now
        self._counts: Counter[str] = Counter()
        self._said_at: float | None = None
        self._last = ""

    def refused(self, what: str, exc: StoreUnavailable) -> None:
        self._counts[what] += 1
        self._last = exc.problem
        t = self._now()
        if self._said_at is not None and t - self._said_at < self._every:
            return
        self._said_at = t
        counted = ", ".join(f"{n} {kind}" for kind, n in sorted(self._counts.items()))
        self._counts.clear()
        log.warning(
            "%s",
            redact(
                f"the store refused {counted} since the last report (last: {self._last}); "
                "the work stays due and the next tick retries it"
            ),
        )
