"""The outbox worker: carries out the pending actions verdicts left, each as its own task, marking each done.

It runs on start (finishing what a dead process left) and every tick interval; the tick never waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from watchdog import faults
from watchdog.clock import Clock
from watchdog.engine import consequences as C
from watchdog.engine.announcer import Announcer
from watchdog.engine.background import start_soon
from watchdog.engine.rollback import Rollbacks
from watchdog.notify.base import NotifyError
from watchdog.notify.message import Notification
from watchdog.redact import redact
from watchdog.store import Store
from watchdog.store.actions import ActionRow, ActionSpec, action_id
from watchdog.store.outbox_repo import Effect, MarkArtifact
from watchdog.store.records import DeploymentRow
from watchdog.telemetry import Metrics

log = logging.getLogger(__name__)

NOTIFY_ATTEMPTS = 8  # then the message is given up, loudly: a receiver down for ~10 minutes
MAX_DELAY_S = 120.0
# Act first, write after: what a rollback call is waiting on never competes with the report and the
# messages about it; those start once the deployment's decide / target call here has finished.
_ACTS = frozenset({C.ROLLBACK, C.TARGET_CALL})
_AFTER_ACTS = frozenset({C.ANNOUNCE, C.NOTIFY})


def mark_artifact(dep: DeploymentRow, *, status: str, reason: str) -> MarkArtifact:
    """The effect that marks the deployment's exact artifact stable or bad in its environment."""
    return MarkArtifact(**dep.release(), status=status, reason=reason)


@dataclass(kw_only=True, eq=False)
class Worker:
    store: Store
    rollbacks: Rollbacks
    announcer: Announcer
    clock: Clock
    metrics: Metrics
    owner: str
    lease_s: float
    retry_base_s: float = 1.0
    _running: dict[str, asyncio.Task[None]] = field(default_factory=dict, init=False)
    _acting: dict[str, set[asyncio.Task[None]]] = field(  # deployment id -> its decide / call tasks
        default_factory=dict, init=False
    )
    _kicks: set[asyncio.Task[int]] = field(default_factory=set, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    _again: bool = field(default=False, init=False)
    stopping: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        rollbacks = self.rollbacks
        self._handlers: dict[str, Callable[[ActionRow], Awaitable[None]]] = {
            C.MARK_STABLE: self._mark,
            C.MARK_BAD: self._mark,
            C.ROLLBACK: rollbacks.on_decide,
            C.TARGET_CALL: rollbacks.on_target_call,
            C.FINISH_ROLLBACK: rollbacks.on_finish,
            C.ANNOUNCE: self._announce,
            C.NOTIFY: self._notify,
        }

    @property
    def in_flight(self) -> int:
        return len(self._running)

    async def run_once(self, *, limit: int = 100, wait: bool = False) -> int:
        """Claims the due actions nobody live holds and starts each not already running here."""
        if self.stopping:
            return 0
        if self._lock.locked() and not wait:
            self._again = True  # the running pass takes one more turn instead
            return 0
        started = 0
        async with self._lock:
            again = True
            while again:
                self._again = False
                claimed = await asyncio.to_thread(
                    self.store.claim_actions,
                    owner=self.owner,
                    now=self.clock.now(),
                    lease_s=self.lease_s,
                    limit=limit,
                )
                # The rollback path of every deployment first (the claim lists in creation order).
                claimed.sort(key=lambda a: a.kind not in _ACTS)
                for action in claimed:
                    if action.id in self._running:
                        continue
                    first = list(self._acting.get(action.deployment_id, ()))
                    work = (
                        self._after(first, action)
                        if first and action.kind in _AFTER_ACTS
                        else self._carry_out(action)
                    )
                    task = asyncio.get_running_loop().create_task(work, name=f"action:{action.kind}")
                    self._running[action.id] = task
                    task.add_done_callback(self._forget(action.id))
                    if action.kind in _ACTS:
                        self._acting.setdefault(action.deployment_id, set()).add(task)
                        task.add_done_callback(self._done_acting(action.deployment_id))
                    started += 1
                again = self._again
        return started

    def kick(self) -> None:
        """Another pass soon: an action just done may have left follow-ups that are due now."""
        start_soon(self._kicks, self.run_once)

    def _done_acting(self, deployment_id: str) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            tasks = self._acting.get(deployment_id)
            if tasks is not None:
                tasks.discard(task)
                if not tasks:
                    del self._acting[deployment_id]

        return done

    async def _after(self, first: list[asyncio.Task[None]], action: ActionRow) -> None:
        """Waits for the deployment's rollback step(s) running here (and the call a decide queued)."""
        while first:
            await asyncio.wait(first)
            await asyncio.sleep(0)  # the finished decide's kick claims its target call now
            first = list(self._acting.get(action.deployment_id, ()))
        await self._carry_out(action)

    def _forget(self, action_id: str) -> Callable[[asyncio.Task[None]], None]:
        def done(_task: asyncio.Task[None]) -> None:
            self._running.pop(action_id, None)

        return done

    async def settle(self, *, timeout: float = 30.0) -> None:
        """Runs until no action is due or in flight (tests, and a clean stop)."""
        async with asyncio.timeout(timeout):
            while True:
                await self.run_once(wait=True)
                if not self._running:
                    return
                await asyncio.gather(*list(self._running.values()), return_exceptions=True)

    async def drain(self) -> None:
        """At a stop: no new claims; what runs now may finish (the caller bounds the wait)."""
        self.stopping = True
        while self._running:
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)

    async def cancel(self) -> None:
        self.stopping = True
        tasks = [*self._running.values(), *self._kicks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _carry_out(self, action: ActionRow) -> None:
        handler = self._handlers.get(action.kind)
        try:
            if handler is None:
                raise ValueError(f"unknown pending action kind {action.kind!r}")
            await handler(action)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            delay = min(MAX_DELAY_S, self.retry_base_s * 2 ** min(action.attempts, 10))
            error = redact(f"{type(exc).__name__}: {exc}")
            log.error(
                "pending action %s (%s) failed, retried in %gs: %s",
                action.id,
                action.kind,
                delay,
                error,
                exc_info=True,
            )
            await self._defer(action, error=error, delay_s=delay, now=self.clock.now())
            return
        faults.point(f"after_action:{action.kind}")
        if not self.stopping:
            self.kick()

    async def _mark(self, action: ActionRow) -> None:
        dep = await asyncio.to_thread(self.store.get_deployment, action.deployment_id)
        status = "stable" if action.kind == C.MARK_STABLE else "bad"
        mark = mark_artifact(dep, status=status, reason=str(action.payload.get("reason", "")))
        await self._complete(action, effects=[mark])

    async def _announce(self, action: ActionRow) -> None:
        """The report now; each message as its own durable `notify` action whose id the receiver sees."""
        event = str(action.payload.get("event", ""))
        follow_ups: list[ActionSpec] = []
        for name, notification in await self.announcer.announce(action.deployment_id, event=event):
            key = action_id()
            keyed = replace(notification, extra={**notification.extra, "idempotency_key": key})
            follow_ups.append(
                ActionSpec(
                    id=key,
                    kind=C.NOTIFY,
                    deployment_id=action.deployment_id,
                    payload={"notifier": name, "notification": keyed.to_json()},
                )
            )
        await self._complete(action, follow_ups=follow_ups)

    async def _notify(self, action: ActionRow) -> None:
        name = str(action.payload.get("notifier", ""))
        notifier = self.announcer.dispatcher.notifiers.get(name)
        now = self.clock.now()
        if notifier is None:
            await self._give_up(action, f"notifier {name!r} is no longer configured")
            return
        attempt = await asyncio.to_thread(self.store.begin_attempt, action.id, owner=self.owner)
        if attempt is None:
            return
        try:
            await notifier.send(Notification.from_json(dict(action.payload["notification"])))
        except Exception as exc:
            error = redact(f"{type(exc).__name__}: {exc}")
            retryable = not isinstance(exc, NotifyError) or exc.retryable
            if not retryable or attempt >= NOTIFY_ATTEMPTS:
                self._count(name, "failed")
                await self._give_up(action, error)
                return
            self._count(name, "retried")
            delay = min(MAX_DELAY_S, self.retry_base_s * 2 ** (attempt - 1))
            log.warning(
                "notification to %s failed (attempt %d), again in %gs: %s", name, attempt, delay, error
            )
            await self._defer(action, error=error, delay_s=delay, now=now)
            return
        self._count(name, "delivered")
        faults.point("after_notify_sent")  # sent, not yet marked done: the receiver may see it twice
        await self._complete(action)

    async def _give_up(self, action: ActionRow, error: str) -> None:
        log.error("giving up notification %s of deployment %s: %s", action.id, action.deployment_id, error)
        await self._complete(action, state="gave_up", error=error)

    async def _complete(
        self,
        action: ActionRow,
        *,
        effects: Sequence[Effect] = (),
        follow_ups: Sequence[ActionSpec] = (),
        state: str = "done",
        error: str | None = None,
    ) -> None:
        """Finishes the action as its claim's owner, now, with what it brought about (atomically)."""
        await asyncio.to_thread(
            self.store.complete_action,
            action.id,
            owner=self.owner,
            now=self.clock.now(),
            effects=effects,
            follow_ups=follow_ups,
            state=state,
            error=error,
        )

    async def _defer(self, action: ActionRow, *, error: str, delay_s: float, now: datetime) -> None:
        """Gives the action back for another try after delay_s (counted from now), keeping the error."""
        await asyncio.to_thread(
            self.store.defer_action, action.id, owner=self.owner, now=now, error=error, delay_s=delay_s
        )

    def _count(self, notifier: str, outcome: str) -> None:
        self.metrics.notifications.labels(notifier=notifier, outcome=outcome).inc()
