"""Delivers notifications in the background: filtered by each notifier's events, retried with backoff,
failures logged (redacted) and counted. A caller is never delayed or blocked: a rollback goes first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from watchdog.notify.base import Notifier, NotifyError
from watchdog.notify.message import Notification
from watchdog.redact import redact
from watchdog.resilience import Backoff, Retry, with_retries
from watchdog.telemetry import Metrics

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]


class Dispatcher:
    def __init__(
        self,
        notifiers: Mapping[str, Notifier],
        *,
        metrics: Metrics | None = None,
        attempts: int = 4,
        base_delay: float = 2.0,
        max_delay: float = 60.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.notifiers = dict(notifiers)
        self._metrics = metrics
        self._attempts, self._base, self._max, self._sleep = max(1, attempts), base_delay, max_delay, sleep
        self._tasks: set[asyncio.Task[None]] = set()

    def notify(self, *, names: Sequence[str], notification: Notification) -> None:
        """Schedules delivery to each named notifier that wants this event; returns at once.

        Must be called from code running on the event loop (the engine is); the tasks are never awaited
        by the caller, only by `drain`.
        """
        loop = asyncio.get_running_loop()
        for name in dict.fromkeys(names):
            notifier = self.notifiers.get(name)
            if notifier is None:
                # `watchdog check` refuses such a policy; a reload race could still get here.
                log.error("notifier %r is not configured; known: %s", name, ", ".join(sorted(self.notifiers)))
                self._count(name, "unknown")
                continue
            if notification.event not in notifier.events:
                continue
            task = loop.create_task(self._deliver(notifier, notification), name=f"notify:{name}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, notifier: Notifier, n: Notification) -> None:
        backoff = Backoff(attempts=self._attempts, base=self._base, factor=2.0, max_delay=self._max)
        tries = 0

        async def once() -> None:
            nonlocal tries
            tries += 1
            await notifier.send(n)

        def retry_on(exc: Exception) -> Retry | None:
            retryable = not isinstance(exc, NotifyError) or exc.retryable
            self._failed(notifier, n, exc, attempt=tries, last=not retryable)
            return Retry() if retryable else None

        try:
            await with_retries(
                once,
                backoff=backoff,
                retry_on=retry_on,
                sleep=self._sleep,
                on_retry=lambda attempt, exc, delay: self._count(notifier.name, "retried"),
            )
        except asyncio.CancelledError:
            self._count(notifier.name, "cancelled")
            raise
        except Exception:
            self._count(notifier.name, "failed")
            return
        self._count(notifier.name, "delivered")

    def _failed(
        self, notifier: Notifier, n: Notification, exc: Exception, *, attempt: int, last: bool
    ) -> None:
        last = last or attempt == self._attempts
        log.warning(
            "notification %s of deployment %s to %s failed (attempt %d of %d)%s: %s",
            n.event,
            n.deployment_id,
            notifier.name,
            attempt,
            self._attempts,
            "; giving up" if last else "",
            redact(str(exc)),
        )

    def _count(self, notifier: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.notifications.labels(notifier=notifier, outcome=outcome).inc()

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float) -> int:
        """Waits up to `timeout` s for deliveries in flight, then cancels the rest; returns how many."""
        tasks = set(self._tasks)
        if not tasks:
            return 0
        _, left = await asyncio.wait(tasks, timeout=timeout)
        for task in left:
            task.cancel()
        if left:
            await asyncio.gather(*left, return_exceptions=True)
            log.warning("%d notifications were still being delivered at shutdown and were dropped", len(left))
        return len(left)
