"""The verification engine: claims due verifications on every tick, steps them, and acts on their verdicts.

APScheduler 3 drives the periodic work (tick, lease renewal, policy reload); all state lives in the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from watchdog.analysis.actions import action_for
from watchdog.analysis.models import Decision, Verdict
from watchdog.clock import Clock
from watchdog.engine import silences
from watchdog.engine.connections import close_later, refresh
from watchdog.engine.outputs import Outputs
from watchdog.engine.requests import Requests
from watchdog.engine.rollback import Rollbacks
from watchdog.engine.verifier import Verifier
from watchdog.errors import IntakeError
from watchdog.events import SAMPLING, State
from watchdog.policy.connections import NotifyEvent
from watchdog.policy.reload import PolicyHolder
from watchdog.policy.service import EnvironmentPolicy
from watchdog.redact import redact
from watchdog.settings import Settings
from watchdog.sources.base import Source
from watchdog.store import Store
from watchdog.store.records import RollbackRow, VerificationRow
from watchdog.targets.base import Target
from watchdog.telemetry import Metrics

log = logging.getLogger(__name__)


class Engine:
    def __init__(
        self,
        *,
        store: Store,
        policies: PolicyHolder,
        sources: Mapping[str, Source],
        targets: Mapping[str, Target],
        clock: Clock,
        metrics: Metrics,
        settings: Settings,
        outputs: Outputs,
    ) -> None:
        self.store = store
        self.policies = policies
        # Own mutable copies: a reload of the daemon file updates them in place for every holder.
        self.sources: dict[str, Source] = dict(sources)
        targets = dict(targets)
        self.clock = clock
        self.metrics = metrics
        self.settings = settings
        self.outputs = outputs
        self.owner = settings.instance_id
        self.rollbacks = Rollbacks(
            store=store,
            targets=targets,
            clock=clock,
            metrics=metrics,
            outputs=outputs,
            owner=self.owner,
            lease_s=settings.lease_seconds,
        )
        self.verifier = Verifier(
            store=store,
            sources=self.sources,
            clock=clock,
            metrics=metrics,
            owner=self.owner,
            on_decided=self._decided,
            on_started=self._started,
        )
        # Manual rollbacks and promotions asked of any replica, carried out here when we hold the lease.
        self.requests = Requests(
            store=store, clock=clock, owner=self.owner, lease_s=settings.lease_seconds, actions=self
        )
        self._tick_lock = asyncio.Lock()
        self._again = False
        self._scheduler: AsyncIOScheduler | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self._stopping = False

    # ---- lifecycle of the daemon ----

    async def start(self) -> None:
        """Resumes unfinished work from the store, then schedules the periodic jobs."""
        await self._resume_rollbacks()
        sched = AsyncIOScheduler(timezone=UTC)
        sched.add_job(
            self.tick,
            "interval",
            seconds=self.settings.tick_seconds,
            id="tick",
            # A tick longer than the interval is normal under load: the lock inside tick() folds the
            # overlap into one more turn, so the scheduler need not skip (and warn about) the run.
            max_instances=3,
            coalesce=True,
            misfire_grace_time=None,
        )
        sched.add_job(
            self._renew,
            "interval",
            seconds=max(1.0, self.settings.lease_seconds / 3),
            id="leases",
            max_instances=1,
            coalesce=True,
        )
        sched.add_job(self._reload, "interval", seconds=5, id="policies", max_instances=1, coalesce=True)
        sched.add_job(self.purge, "interval", hours=1, id="retention", max_instances=1, coalesce=True)
        # Rollbacks a dead replica left half done are picked up once its lease lapses, not only at start.
        sched.add_job(
            self._resume_rollbacks,
            "interval",
            seconds=max(5.0, self.settings.lease_seconds),
            id="rollbacks",
            max_instances=1,
            coalesce=True,
        )
        self.requests.schedule(sched, seconds=self.settings.tick_seconds)
        silences.schedule(self, sched)  # Alertmanager silences held while verifying (engine/silences.py)
        sched.start()
        self._scheduler = sched
        self.wake()

    async def stop(self, *, timeout: float = 10.0) -> None:
        """Drains: no new ticks, the running one finishes, notifications get a last chance."""
        self._stopping = True
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        try:
            async with asyncio.timeout(timeout):
                async with self._tick_lock:
                    pass
                if self._tasks:
                    await asyncio.gather(*self._tasks, return_exceptions=True)
        except TimeoutError:
            log.warning(
                "stopping with work still in flight; leases will expire and another replica resumes it"
            )
        await self.outputs.drain(timeout=timeout)

    def wake(self) -> None:
        """Runs a tick soon (after an accepted event) instead of waiting for the next interval."""
        if self._stopping:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self.tick())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def tick(self) -> int:
        """Claims every due verification (in batches) and steps them concurrently."""
        if self._tick_lock.locked():
            self._again = True  # the running tick takes one more turn instead
            return 0
        done = 0
        async with self._tick_lock:
            limit = self.settings.max_concurrent_verifications
            seen: set[tuple[str, int]] = set()
            while not self._stopping:
                self._again = False
                claimed = await asyncio.to_thread(
                    self.store.claim_due,
                    owner=self.owner,
                    now=self.clock.now(),
                    lease_s=self.settings.lease_seconds,
                    limit=limit,
                )
                # A step that failed leaves its row due; it waits for the next tick rather than spinning here.
                fresh = [v for v in claimed if (v.id, v.next_k) not in seen]
                seen.update((v.id, v.next_k) for v in claimed)
                if fresh:
                    await asyncio.gather(*(self._step(v) for v in fresh))
                done += len(fresh)
                if not fresh or (len(claimed) < limit and not self._again):
                    break
        return done

    async def _step(self, v: VerificationRow) -> None:
        try:
            await self.verifier.step(v)
        except Exception as exc:
            log.error(
                "%s", redact(f"verification {v.id} step failed: {type(exc).__name__}: {exc}"), exc_info=True
            )

    async def _renew(self) -> None:
        await asyncio.to_thread(
            self.store.renew_leases,
            owner=self.owner,
            now=self.clock.now(),
            lease_s=self.settings.lease_seconds,
        )

    async def purge(self) -> None:
        """Retention: old samples and webhook ids go; deployments, verdicts and history stay."""
        now = self.clock.now()
        purged = await asyncio.to_thread(
            self.store.purge,
            samples_before=now - timedelta(days=self.settings.retention_days),
            deliveries_before=now - timedelta(days=self.settings.delivery_retention_days),
        )
        if purged.samples or purged.deliveries:
            log.info("retention: %d samples and %d webhook ids deleted", purged.samples, purged.deliveries)

    async def _resume_rollbacks(self) -> int:
        return await self.rollbacks.resume()

    async def _reload(self) -> None:
        # In a thread: a parse (a large or hostile file) must not stall the API or the ticks. The swap
        # at its end is one assignment, so a shutdown that stops waiting for it leaves no half state.
        before = self.policies.current
        await self.policies.reload_if_changed_async()
        after = self.policies.current
        if after is before or after.daemon == before.daemon:
            return
        retired = refresh(
            old=before.daemon,
            new=after.daemon,
            sources=self.sources,
            targets=self.rollbacks.targets,
            notifiers=self.outputs.dispatcher.notifiers,
            metrics=self.metrics,
        )
        log.info("config/watchdog.yaml changed: sources, targets and notifiers follow it")
        if retired:
            task = asyncio.get_running_loop().create_task(close_later(retired))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # ---- verdicts ----

    async def _started(self, v: VerificationRow) -> None:
        # Only a policy that notifies someone needs anything done at the start: skip the reads otherwise.
        if v.kind == "deploy" and v.policy.get("notify"):
            await self.outputs.deployment_changed(v.deployment_id, event="started")

    async def _decided(self, v: VerificationRow, decision: Decision) -> None:
        reason = "; ".join(decision.reasons) or decision.verdict.value
        if v.kind == "rollback":
            await self.rollbacks.verification_decided(
                v, passed=decision.verdict == Verdict.PASSED, reason=reason
            )
            return
        deployment = await asyncio.to_thread(self.store.get_deployment, v.deployment_id)
        policy = EnvironmentPolicy.model_validate(deployment.policy)
        action = v.action or action_for(
            verdict=decision.verdict, on_failure=policy.on_failure, on_inconclusive=policy.on_inconclusive
        )
        now = self.clock.now()
        s, e = deployment.service, deployment.environment
        log.info(
            "%s/%s %s: %s after %gs (%s); action %s",
            s,
            e,
            deployment.version,
            decision.verdict.value,
            decision.decided_after_s,
            reason,
            action,
        )
        if decision.verdict == Verdict.PASSED:
            await asyncio.to_thread(
                self.store.mark_stable,
                service=s,
                environment=e,
                version=deployment.version,
                artifact=deployment.artifact,
                deployment_id=deployment.id,
                now=now,
                reason="verification passed",
            )
            await self.outputs.deployment_changed(deployment.id, event="passed")
            return
        if decision.verdict == Verdict.FAILED:
            await asyncio.to_thread(
                self.store.mark_bad,
                service=s,
                environment=e,
                version=deployment.version,
                artifact=deployment.artifact,
                deployment_id=deployment.id,
                now=now,
                reason=reason,
            )
        event: NotifyEvent = "failed" if decision.verdict == Verdict.FAILED else "inconclusive"
        if action == "rollback" or (action == "none" and decision.verdict == Verdict.FAILED):
            await self.rollbacks.start(
                deployment=deployment, verification=v, trigger="auto", reason=reason, dry_run=action == "none"
            )
        else:
            await self.outputs.deployment_changed(deployment.id, event=event)

    # ---- operators (admin API) ----

    async def request_rollback(self, deployment_id: str, *, by: str, reason: str) -> RollbackRow:
        deployment = await asyncio.to_thread(self.store.get_deployment, deployment_id)
        v = await asyncio.to_thread(self.store.deploy_verification, deployment_id)
        if v.state in (State.ROLLING_BACK, State.ROLLED_BACK):
            raise IntakeError(409, "rollback_refused", f"deployment is already {v.state}")
        why = f"{by} asked for a rollback: {reason}" if reason else f"{by} asked for a rollback"
        if v.state in SAMPLING:
            await asyncio.to_thread(
                self.store.set_state,
                verification_id=v.id,
                to_state=State.FAILED.value,
                reason=why,
                now=self.clock.now(),
                verdict="failed",
            )
            self.verifier.forget(v.id)
        row = await self.rollbacks.start(
            deployment=deployment, verification=v, trigger="manual", reason=why, dry_run=False
        )
        if row.state == "refused":
            raise IntakeError(409, "rollback_refused", row.reason)
        return row

    async def promote(self, deployment_id: str, *, by: str) -> VerificationRow:
        deployment = await asyncio.to_thread(self.store.get_deployment, deployment_id)
        v = await asyncio.to_thread(self.store.deploy_verification, deployment_id)
        allowed = {*SAMPLING, State.PASSED, State.INCONCLUSIVE, State.FAILED}
        ok = await asyncio.to_thread(
            self.store.set_state,
            verification_id=v.id,
            to_state=State.PROMOTED.value,
            reason=f"{by} promoted it",
            now=self.clock.now(),
            expect_states=[s.value for s in allowed],
        )
        if not ok:
            raise IntakeError(
                409,
                "promote_refused",
                f"deployment is {v.state}; only a verification that is "
                "running or ended without a rollback can be promoted",
            )
        self.verifier.forget(v.id)
        await asyncio.to_thread(
            self.store.mark_stable,
            service=deployment.service,
            environment=deployment.environment,
            version=deployment.version,
            artifact=deployment.artifact,
            deployment_id=deployment.id,
            now=self.clock.now(),
            reason=f"promoted by {by}",
        )
        return await asyncio.to_thread(self.store.get_verification, v.id)

    async def cancel(self, deployment_id: str, *, by: str) -> VerificationRow:
        v = await asyncio.to_thread(self.store.deploy_verification, deployment_id)
        ok = await asyncio.to_thread(
            self.store.set_state,
            verification_id=v.id,
            to_state=State.CANCELLED.value,
            reason=f"{by} cancelled it",
            now=self.clock.now(),
            expect_states=[s.value for s in SAMPLING],
        )
        if not ok:
            raise IntakeError(
                409, "cancel_refused", f"deployment is {v.state}; only a running one can be cancelled"
            )
        self.verifier.forget(v.id)
        return await asyncio.to_thread(self.store.get_verification, v.id)
