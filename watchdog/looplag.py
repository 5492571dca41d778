"""The daemon's own lateness: how far behind its event loop runs, and how long each sample waited inside it.

A sample that failed while the daemon was this late is the daemon's problem, never the service's.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

# How late a wake-up may be before the loop counts as overloaded (readyz degraded, samples excused).
LAG_BOUND_S = 0.5


@dataclass
class Waited:
    """What one sample's work spent waiting in the daemon (not on the wire), filled in by the HTTP layer."""

    queued_s: float = 0.0  # behind a source's concurrency limit
    lag_s: float = 0.0  # how far the event loop ran behind while a request was in flight (the most of any)
    wire_s: float = 0.0  # how long a request was on the wire (the longest)
    network_failure: bool = False  # a request came back as a timeout or a failed connection

    def join(self, other: Waited) -> None:
        """Counts `other`'s waiting (a request this sample shared) as this sample's own."""
        self.queued_s += other.queued_s
        self.lag_s = max(self.lag_s, other.lag_s)
        self.wire_s = max(self.wire_s, other.wire_s)
        self.network_failure = self.network_failure or other.network_failure


_current: contextvars.ContextVar[Waited | None] = contextvars.ContextVar("watchdog_waited", default=None)


def begin() -> Waited:
    """Starts accounting for the sample running in this task (its child tasks share the same record)."""
    waited = Waited()
    _current.set(waited)
    return waited


def current() -> Waited | None:
    return _current.get()


class LoopLag:
    """Sleeps `period` seconds over and over; the overshoot of each wake-up is the loop's lag."""

    def __init__(
        self, *, period: float = 0.1, keep: int = 600, on_lag: Callable[[float], None] | None = None
    ) -> None:
        self.period = period
        self.on_lag = on_lag  # e.g. the /metrics gauge and histogram
        self._seen: deque[tuple[float, float]] = deque(maxlen=keep)  # (monotonic end, lag)
        self._sleeping_since: float | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        global _monitor
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")
        _monitor = self

    async def stop(self) -> None:
        global _monitor
        if _monitor is self:
            _monitor = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            started = self._sleeping_since = time.monotonic()
            await asyncio.sleep(self.period)
            now = time.monotonic()
            lag = max(0.0, now - started - self.period)
            self._seen.append((now, lag))
            if self.on_lag is not None:
                self.on_lag(lag)

    def _pending(self) -> float:
        # A wake-up that is overdue right now counts too: a loop stalled this very moment is lagging.
        if self._sleeping_since is None:
            return 0.0
        return max(0.0, time.monotonic() - self._sleeping_since - self.period)

    def current(self) -> float:
        last = self._seen[-1][1] if self._seen else 0.0
        return max(last, self._pending())

    def max_since(self, since: float) -> float:
        """The worst lag of the wake-ups that ended at or after monotonic time `since`."""
        worst = self._pending()
        for end, lag in reversed(self._seen):
            if end < since:
                break
            worst = max(worst, lag)
        return worst

    def behind_since(self, since: float) -> float:
        """Seconds the loop ran behind since monotonic time `since`: the sum of its wake-ups' lateness.

        Under saturation every step of a request waits about one lag; the sum is what a request lost.
        """
        total = self._pending()
        for end, lag in reversed(self._seen):
            if end < since:
                break
            total += min(lag, end - since)
        return total

    def recent_max(self, seconds: float = 60.0) -> float:
        return self.max_since(time.monotonic() - seconds)


_monitor: LoopLag | None = None


def monitor() -> LoopLag | None:
    """The running daemon's monitor (None outside a daemon: nothing is excused then)."""
    return _monitor
