"""The verification engine: claims due verifications on every tick, steps them, and acts on their verdicts.

APScheduler 3 drives the periodic work (tick, lease renewal, policy reload); all state lives in the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, timedelta
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from watchdog.clock import Clock
from watchdog.engine import consequences as C
from watchdog.engine import silences
from watchdog.engine.announcer import Announcer
from watchdog.engine.background import every, start_soon
from watchdog.engine.busy import Refusals
from watchdog.engine.outbox import Worker, mark_artifact
from watchdog.engine.plugins import close_later, refresh
from watchdog.engine.requests import Requests
from watchdog.engine.rollback import HOUR, Rollbacks
from watchdog.engine.rollback_decision import decide
from watchdog.engine.verifier import Verifier
from watchdog.errors import Refused
from watchdog.events import SAMPLING, State
from watchdog.looplag import LoopLag
from watchdog.policy.reload import PolicyHolder
from watchdog.redact import redact
from watchdog.settings import EngineSettings
from watchdog.sources.base import Source
from watchdog.store import Store
from watchdog.store.actions import ActionSpec
from watchdog.store.health import StoreUnavailable
from watchdog.store.outbox_repo import Conflict, Effect, SetState
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
        settings: EngineSettings,
        announcer: Announcer,
    ) -> None:
        self.store = store
        self.policies = policies
        # Own mutable copies: a reload of the daemon file updates them in place for every holder.
        self.sources: dict[str, Source] = dict(sources)
        targets = dict(targets)
        self.clock = clock
        self.metrics = metrics
        self.settings = settings
        self.announcer = announcer
        self.owner = settings.instance_id
        self.rollbacks = Rollbacks(
            store=store, targets=targets, sources=self.sources, clock=clock, metrics=metrics, owner=self.owner
        )
        self.verifier = Verifier(
            store=store,
            sources=self.sources,
            clock=clock,
            metrics=metrics,
            owner=self.owner,
            jitter=settings.sample_jitter,
        )
        self.worker = Worker(
            store=store,
            rollbacks=self.rollbacks,
            announcer=announcer,
            clock=clock,
            metrics=metrics,
            owner=self.owner,
            lease_s=settings.lease_seconds,
        )
        # Manual rollbacks and promotions asked of any replica, carried out here when we hold the lease.
        self.requests = Requests(
            store=store, clock=clock, owner=self.owner, lease_s=settings.lease_seconds, actions=self
        )
        self._tick_lock = asyncio.Lock()
        # The daemon's own lateness (/metrics, /readyz, the dashboard; samples it made late are excused).
        self.looplag = LoopLag(on_lag=self._observe_lag)
        self._again = False
        # (index, count) when this is one of `serve --workers` engines: new work is split by id between them.
        self.partition: tuple[int, int] | None = None
        # Owners whose leases this engine may take over at once: `serve --workers`'s workers not running.
        self.adopt: frozenset[str] = frozenset()
        self._turn = asyncio.Event()  # set when a running tick should claim again (slots freed, or asked)
        self._scheduler: AsyncIOScheduler | None = None
        self.refusals = Refusals()  # writes the store refused, said once a minute
        self._tasks: set[asyncio.Task[object]] = set()
        self._stopping = False

    # ---- lifecycle of the daemon ----

    async def start(self) -> None:
        """Resumes unfinished work from the store, then schedules the periodic jobs."""
        # Recovery: whatever a dead process (or this one, before a restart) left pending starts now.
        self.looplag.start()
        await self.worker.run_once()
        sched = AsyncIOScheduler(timezone=UTC)
        tick_s = self.settings.tick_seconds
        # A tick longer than the interval is normal under load: the lock inside tick() folds the
        # overlap into one more turn, so the scheduler need not skip (and warn about) the run.
        every(sched, self.tick, id="tick", seconds=tick_s, max_instances=3)
        every(sched, self._renew, id="leases", seconds=max(1.0, self.settings.lease_seconds / 3))
        every(sched, self._reload, id="policies", seconds=5)
        every(sched, self.purge, id="retention", hours=1)
        # The outbox: pending actions are carried out as their own tasks; a dead replica's lapse and return.
        every(sched, self.worker.run_once, id="actions", seconds=tick_s)
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
                await self.worker.drain()
        except TimeoutError:
            log.warning("stopping with work still in flight; it stays pending in the store and is resumed")
        await self.worker.cancel()
        try:
            await asyncio.to_thread(self.store.release_actions, owner=self.owner)
        except Exception:  # a store that is gone: the claims lapse after lease_seconds instead
            log.warning("could not release this instance's pending actions", exc_info=True)
        await self.announcer.drain(timeout=timeout)
        await self.looplag.stop()

    def _observe_lag(self, lag: float) -> None:
        self.metrics.loop_lag.set(lag)
        self.metrics.loop_lag_hist.observe(lag)

    def wake(self) -> None:
        """Runs a tick soon (after an accepted event) instead of waiting for the next interval."""
        if not self._stopping:
            start_soon(self._tasks, self.tick)

    async def tick(self) -> int:
        """Claims every due verification and steps them concurrently, claiming again as steps finish."""
        if self._tick_lock.locked():
            self._again = True  # the running tick takes one more turn instead, without waiting for stragglers
            self._turn.set()
            return 0
        if self.store.health.problem is not None:
            # The store is not usable (its health probe says why, once, and /readyz is 503): a tick would only
            # fail its claim and log it again every interval. Resume when the probe finds it healthy.
            return 0
        async with self._tick_lock:
            running: dict[str, asyncio.Task[None]] = {}
            try:
                return await self._claim_and_step(running)
            except StoreUnavailable as exc:
                # The claim waited out the store's lock: the rows stay due, for the next tick.
                self.refusals.refused("claims", exc)
                return 0
            except asyncio.CancelledError:
                if not self._stopping:
                    raise
                return 0  # the scheduler's shutdown cancels the job; its steps still finish below
            finally:
                # Stopping: the steps under way finish (their writes are short) before the lock is let go.
                if running:
                    await asyncio.gather(*running.values(), return_exceptions=True)

    async def _claim_and_step(self, running: dict[str, asyncio.Task[None]]) -> int:
        # No barrier between batches: a slow step holds its own slot only; after a full claim, the next one
        # comes as soon as a quarter of the slots are free again.
        limit = self.settings.max_concurrent_verifications
        started: dict[str, int] = {}  # id -> the next_k this tick stepped; a step that failed stays due
        done = 0
        while not self._stopping:
            self._again = False
            self._turn.clear()
            claimed = await asyncio.to_thread(
                self.store.claim_due,
                owner=self.owner,
                now=self.clock.now(),
                lease_s=self.settings.lease_seconds,
                limit=max(1, limit - len(running)),
                partition=self.partition,
                adopt=self.adopt,
                exclude=list(running),  # due still, but being stepped: not read (and decoded) again
            )
            fresh = [v for v in claimed if v.id not in running and started.get(v.id) != v.next_k]
            due = {v.id for v in claimed} | set(running)  # the others (written, or over) leave `started`
            started = {key: k for key, k in started.items() if key in due}
            full = len(claimed) + len(running) >= limit
            threshold = limit - max(1, limit // 4) if full else 0
            self.verifier.prefetch(fresh)  # the starts among them read together
            for v in fresh:
                started[v.id] = v.next_k
                running[v.id] = asyncio.get_running_loop().create_task(self._step(v))
                running[v.id].add_done_callback(partial(self._finished, running, v.id, threshold))
            done += len(fresh)
            if not running and not self._again:
                break
            if running:  # woken when slots free up (all of them if the claim was not full), or asked again
                await self._turn.wait()
            if not running and not self._again and not full:
                break
        return done

    def _finished(self, running: dict[str, asyncio.Task[None]], vid: str, threshold: int, _: object) -> None:
        running.pop(vid, None)
        if len(running) <= threshold:
            self._turn.set()

    async def _step(self, v: VerificationRow) -> None:
        try:
            decision = await self.verifier.step(v)
            if decision is not None:
                self.kick()  # its pending actions were written with it: start on them now
        except StoreUnavailable as exc:  # nothing was written: the verification stays due, as it was
            self.refusals.refused("steps", exc)
        except Exception as exc:
            log.error(
                "%s", redact(f"verification {v.id} step failed: {type(exc).__name__}: {exc}"), exc_info=True
            )

    async def _renew(self) -> None:
        now, lease_s = self.clock.now(), self.settings.lease_seconds
        try:
            await asyncio.to_thread(self.store.renew_leases, owner=self.owner, now=now, lease_s=lease_s)
            await asyncio.to_thread(self.store.renew_actions, owner=self.owner, now=now, lease_s=lease_s)
        except StoreUnavailable as exc:  # renewed at the next run, well inside lease_seconds
            self.refusals.refused("lease renewals", exc)

    def kick(self) -> None:
        """Starts on pending actions soon, off the tick (the tick never waits on a target or a notifier)."""
        if not self._stopping:
            start_soon(self._tasks, self.worker.run_once)

    async def settle(self, *, timeout: float = 30.0) -> None:
        """Waits until every pending action that is due has been carried out (tests use it)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.worker.settle(timeout=timeout)

    async def purge(self) -> None:
        """Retention: old samples and webhook ids go; deployments, verdicts and history stay."""
        now = self.clock.now()
        purged = await asyncio.to_thread(
            self.store.purge,
            samples_before=now - timedelta(days=self.settings.retention_days),
            deliveries_before=now - timedelta(days=self.settings.delivery_retention_days),
        )
        if purged.samples or purged.deliveries or purged.ci_runs:
            log.info(
                "retention: %d samples, %d webhook ids and %d CI statuses deleted",
                purged.samples,
                purged.deliveries,
                purged.ci_runs,
            )

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
            notifiers=self.announcer.dispatcher.notifiers,
            metrics=self.metrics,
        )
        log.info("config/watchdog.yaml changed: sources, targets and notifiers follow it")
        if retired:
            start_soon(self._tasks, lambda: close_later(retired))

    # ---- operators (admin API) ----

    async def request_rollback(self, deployment_id: str, *, by: str, reason: str) -> RollbackRow:
        """An operator's rollback: the same guard rails; intent, state and target call in one transaction."""
        v = await asyncio.to_thread(self.store.deploy_verification, deployment_id)
        if v.state in (State.ROLLING_BACK, State.ROLLED_BACK):
            raise Refused("rollback", f"deployment is already {v.state}")
        why = f"{by} asked for a rollback: {reason}" if reason else f"{by} asked for a rollback"
        now = self.clock.now()
        facts = await asyncio.to_thread(self.store.rollback_facts, deployment_id, since=now - HOUR, now=now)
        decided = decide(
            facts,
            targets=self.rollbacks.targets,
            deploy_v=v.id,
            trigger="manual",
            reason=why,
            dry_run=False,
            now=now,
        )
        if decided.refusal is not None:
            # Recorded, with nothing else changed: a deployment no one can roll back is not marked FAILED.
            await asyncio.to_thread(self.store.apply, effects=decided.effects[:1], follow_ups=[], now=now)
            raise Refused("rollback", decided.refusal)
        effects: list[Effect] = []
        if v.state in SAMPLING:
            effects.append(SetState(v.id, State.FAILED.value, why, expect=tuple(s.value for s in SAMPLING)))
        marks = [ActionSpec(kind=C.MARK_BAD, deployment_id=deployment_id, payload={"reason": why})]
        try:
            await asyncio.to_thread(
                self.store.apply,
                effects=[*effects, *decided.effects],
                follow_ups=[*marks, *decided.follow_ups],
                now=now,
            )
        except Conflict as exc:
            raise Refused("rollback", str(exc)) from None
        self.verifier.forget(v.id)
        self.kick()
        return await asyncio.to_thread(self.store.get_rollback, str(decided.row["id"]))

    async def promote(self, deployment_id: str, *, by: str) -> VerificationRow:
        deployment = await asyncio.to_thread(self.store.get_deployment, deployment_id)
        v = await asyncio.to_thread(self.store.deploy_verification, deployment_id)
        allowed = tuple(s.value for s in (*SAMPLING, State.PASSED, State.INCONCLUSIVE, State.FAILED))
        # The state and the stable mark in one transaction: a crash between them cannot split them.
        promoted = SetState(v.id, State.PROMOTED.value, f"{by} promoted it", expect=allowed, required=True)
        mark = mark_artifact(deployment, status="stable", reason=f"promoted by {by}")
        try:
            await asyncio.to_thread(
                self.store.apply, effects=[promoted, mark], follow_ups=[], now=self.clock.now()
            )
        except Conflict:
            raise Refused(
                "promote",
                f"deployment is {v.state}; only a verification that is "
                "running or ended without a rollback can be promoted",
            ) from None
        self.verifier.forget(v.id)
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
            raise Refused("cancel", f"deployment is {v.state}; only a running one can be cancelled")
        self.verifier.forget(v.id)
        return await asyncio.to_thread(self.store.get_verification, v.id)
