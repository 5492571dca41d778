"""Carries out operator requests (manual rollback, promotion) on the replica holding the deployment's lease.

Any replica records a request; every replica looks at the open ones each tick and acts only where it can take
the lease, so no replica changes a deployment it cannot act on, and one request makes at most one rollback.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from watchdog.clock import Clock
from watchdog.engine.background import every, start_soon
from watchdog.errors import NotFound, Refused, StoreError
from watchdog.redact import redact
from watchdog.store import Store
from watchdog.store.records import OperatorRequestRow, RollbackRow, VerificationRow

log = logging.getLogger(__name__)

_NOTHING_DONE = ("refused", "dry_run")  # rollback rows that did not change what runs


class Actions(Protocol):
    """What the engine offers operators; the request worker calls these and nothing else."""

    async def request_rollback(self, deployment_id: str, *, by: str, reason: str) -> RollbackRow: ...

    async def promote(self, deployment_id: str, *, by: str) -> VerificationRow: ...


@dataclass(kw_only=True, eq=False)
class Requests:
    store: Store
    clock: Clock
    owner: str
    lease_s: float
    actions: Actions
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    _again: bool = field(default=False, init=False)
    _stopping: bool = field(default=False, init=False)
    _tasks: set[asyncio.Task[int]] = field(default_factory=set, init=False)

    def schedule(self, sched: AsyncIOScheduler, *, seconds: float) -> None:
        """One job beside the tick: cheap (one indexed query) when nothing is open."""
        every(sched, self.run, id="requests", seconds=seconds)

    def wake(self) -> None:
        """Looks at the open requests now (after this replica recorded one), not at the next interval."""
        if not self._stopping:
            start_soon(self._tasks, self.run)

    async def stop(self, *, timeout: float = 10.0) -> None:
        """No new work; what is being carried out gets `timeout` seconds to finish.

        A request cut short stays `running` and is taken up again, by this instance restarted or by the
        next holder of the lease, which first looks for the rollback it may already have begun.
        """
        self._stopping = True
        try:
            async with asyncio.timeout(timeout):
                async with self._lock:
                    pass
                if self._tasks:
                    await asyncio.gather(*self._tasks, return_exceptions=True)
        except TimeoutError:
            log.warning("stopping with an operator request still in flight; it is taken up again later")

    async def run(self) -> int:
        if self._lock.locked():
            self._again = True  # the running pass takes one more turn instead
            return 0
        handled = 0
        async with self._lock:
            while not self._stopping:
                self._again = False
                try:
                    open_rows = await asyncio.to_thread(self.store.open_requests)
                except Exception as exc:  # a store outage: /readyz says so; try again next interval
                    log.warning("%s", redact(f"operator requests not read: {exc}"))
                    return handled
                for row in open_rows:
                    if self._stopping:
                        break
                    handled += await self._handle(row)
                if not self._again:
                    break
        return handled

    async def _handle(self, row: OperatorRequestRow) -> int:
        try:
            v = await asyncio.to_thread(self.store.deploy_verification, row.deployment_id)
            held = await asyncio.to_thread(
                self.store.take_lease,
                verification_id=v.id,
                owner=self.owner,
                now=self.clock.now(),
                lease_s=self.lease_s,
            )
            if not held:
                return 0  # another replica holds the deployment: it carries the request out
            started = await asyncio.to_thread(
                self.store.start_request, request_id=row.id, handled_by=self.owner, now=self.clock.now()
            )
            if not started:
                return 0
            log.info("carrying out the %s request %s of deployment %s", row.kind, row.id, row.deployment_id)
            await self._carry_out(row)
        except StoreError as exc:
            # The store failed (it says so in /readyz): the request stays open and is taken up again, by
            # us next pass or by whoever holds the lease once ours lapses.
            log.error("%s", redact(f"request {row.id} not carried out yet: {type(exc).__name__}: {exc}"))
            return 0
        except Exception as exc:  # a bug, not a passing outage: say so on the request, do not retry forever
            words = redact(f"{type(exc).__name__}: {exc}")
            log.exception("request %s failed", row.id)
            try:
                why = f"the daemon could not carry it out: {words}"
                await self._finish(row, "failed", why, error="error")
            except Exception:
                log.exception("request %s: its failure was not recorded either", row.id)
            return 0
        return 1

    async def _carry_out(self, row: OperatorRequestRow) -> None:
        by = row.requested_by or "an operator"
        try:
            if row.kind == "rollback":
                done = await self._already_rolled_back(row)
                if done is not None:
                    await self._finish(row, "done", f"rolled back by rollback {done.id}", rollback=done)
                    return
                rb = await self.actions.request_rollback(row.deployment_id, by=by, reason=row.reason)
                await self._finish(row, "done", _rollback_words(rb), rollback=rb)
            elif row.kind == "promote":
                v = await self.actions.promote(row.deployment_id, by=by)
                await self._finish(row, "done", f"promoted: {v.artifact} is stable in this environment")
            else:
                await self._finish(row, "failed", f"unknown request kind {row.kind!r}", error="unknown_kind")
        except Refused as exc:
            await self._finish(row, "refused", exc.reason, error=exc.code)
        except NotFound as exc:
            await self._finish(row, "failed", str(exc), error="not_found")

    async def _already_rolled_back(self, row: OperatorRequestRow) -> RollbackRow | None:
        """A rollback begun since the request was made: a retried request (crash) or a second, concurrent one.

        Either way the operator's wish is met by that rollback; calling the target again would double it.
        """
        rollbacks = await asyncio.to_thread(self.store.rollbacks_for, row.deployment_id)
        for rb in rollbacks:
            if rb.state not in _NOTHING_DONE and rb.requested_at >= row.created_at:
                return rb
        return None

    async def _finish(
        self,
        row: OperatorRequestRow,
        state: str,
        detail: str,
        *,
        error: str | None = None,
        rollback: RollbackRow | None = None,
    ) -> None:
        await asyncio.to_thread(
            self.store.finish_request,
            request_id=row.id,
            state=state,
            detail=redact(detail),
            error=error,
            rollback_id=rollback.id if rollback else None,
            now=self.clock.now(),
        )
        log.info("request %s (%s of %s): %s: %s", row.id, row.kind, row.deployment_id, state, detail)


def _rollback_words(rb: RollbackRow) -> str:
    to = f"{rb.to_version} ({rb.to_artifact})" if rb.to_version else "the previous stable artifact"
    return f"rollback {rb.id} to {to}: {rb.state}"
