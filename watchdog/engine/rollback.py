"""Carries out a rollback: guard rails, the written intent, the target call, the restored version's check.

The intent is stored before the target is called and the outcome after, so a restart can finish the job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from datetime import timedelta

from watchdog.clock import Clock
from watchdog.engine.guards import plan_rollback
from watchdog.engine.outputs import Outputs
from watchdog.errors import IntakeError
from watchdog.events import State
from watchdog.policy.rollback_checks import rollback_verification_policy
from watchdog.policy.service import EnvironmentPolicy
from watchdog.redact import redact
from watchdog.store import Store
from watchdog.store.records import DeploymentRow, RollbackRow, VerificationRow
from watchdog.targets.base import RollbackRequest, RollbackResult, Target
from watchdog.telemetry import Metrics

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)


class Rollbacks:
    def __init__(
        self,
        *,
        store: Store,
        targets: MutableMapping[str, Target],
        clock: Clock,
        metrics: Metrics,
        outputs: Outputs,
        owner: str,
        lease_s: float,
    ) -> None:
        self.owner = owner
        self.lease_s = lease_s
        self.store = store
        self.targets = targets
        self.clock = clock
        self.metrics = metrics
        self.outputs = outputs

    async def start(
        self,
        *,
        deployment: DeploymentRow,
        verification: VerificationRow,
        trigger: str,
        reason: str,
        dry_run: bool,
    ) -> RollbackRow:
        """Decides and (unless refused or a dry run) carries out a rollback of `deployment`."""
        policy = EnvironmentPolicy.model_validate(deployment.policy)
        now = self.clock.now()
        s, e = deployment.service, deployment.environment
        candidate = await asyncio.to_thread(
            self.store.rollback_candidate, service=s, environment=e, exclude_artifact=deployment.artifact
        )
        previous = await asyncio.to_thread(self.store.rollbacks_for, deployment.id)
        recent = await asyncio.to_thread(
            self.store.count_rollbacks_since, service=s, environment=e, since=now - HOUR, trigger="auto"
        )
        freeze = await asyncio.to_thread(self.store.active_freeze, service=s, environment=e, now=now)
        latest, _ = await asyncio.to_thread(self.store.list_deployments, service=s, environment=e, limit=1)
        newer = latest[0][0] if latest and latest[0][0].id != deployment.id else None
        plan = plan_rollback(
            deployment=deployment,
            candidate=candidate,
            previous=previous,
            recent_auto=recent,
            max_per_hour=policy.rollback.max_per_hour,
            allow_major=policy.rollback.allow_major,
            freeze=freeze,
            trigger=trigger,
            newer=newer,
        )
        target = self.targets.get(policy.target or "")
        refusal = plan.refusal
        if refusal is None and target is None:
            refusal = f"no deploy target '{policy.target}' is configured: manual rollback required"
        to = plan.to
        if dry_run or refusal is not None:
            state = "dry_run" if dry_run else "refused"
            why = refusal or ""
            if dry_run:
                would = (
                    f"would have rolled back to {to.version} ({to.artifact})" if to else "would not roll back"
                )
                why = f"dry run (on_failure: none): {would}" + (f"; but {refusal}" if refusal else "")
            row = await asyncio.to_thread(
                self.store.create_rollback,
                deployment_id=deployment.id,
                service=s,
                environment=e,
                trigger=trigger,
                state=state,
                reason=why,
                target=policy.target,
                from_version=deployment.version,
                from_artifact=deployment.artifact,
                to_version=to.version if to else None,
                to_artifact=to.artifact if to else None,
                now=now,
            )
            log.warning("%s/%s %s: rollback %s: %s", s, e, deployment.version, state, why)
            self.metrics.rollbacks.labels(policy.target or "none", state).inc()
            await self.outputs.deployment_changed(deployment.id, event="failed")
            return row
        assert to is not None and target is not None
        # Whoever calls the target holds the deployment's lease (renewed while the call runs), so no other
        # replica's crash recovery takes the intent over mid-call.
        held = await asyncio.to_thread(
            self.store.take_lease,
            verification_id=verification.id,
            owner=self.owner,
            now=now,
            lease_s=self.lease_s,
        )
        if not held:
            raise IntakeError(
                409,
                "rollback_busy",
                "another replica holds this deployment right now; try again in a few seconds",
            )
        row = await asyncio.to_thread(
            self.store.create_rollback,
            deployment_id=deployment.id,
            service=s,
            environment=e,
            trigger=trigger,
            state="intent",
            reason=reason,
            target=policy.target,
            from_version=deployment.version,
            from_artifact=deployment.artifact,
            to_version=to.version,
            to_artifact=to.artifact,
            now=now,
        )
        await asyncio.to_thread(
            self.store.set_state,
            verification_id=verification.id,
            to_state=State.ROLLING_BACK.value,
            reason=f"rolling back to {to.version} ({to.artifact}) through {policy.target}: {reason}",
            now=now,
        )
        self.metrics.transitions.labels(State.ROLLING_BACK.value).inc()
        await self.outputs.deployment_changed(deployment.id, event="failed")
        return await self.execute(row, deployment=deployment)

    def _request(self, row: RollbackRow, deployment: DeploymentRow) -> RollbackRequest:
        return RollbackRequest(
            deployment_id=deployment.id,
            service=deployment.service,
            environment=deployment.environment,
            version=row.to_version or "",
            artifact=row.to_artifact or "",
            failed_version=deployment.version,
            failed_artifact=deployment.artifact,
        )

    async def execute(
        self, row: RollbackRow, *, deployment: DeploymentRow, resumed: bool = False
    ) -> RollbackRow:
        """Calls the target for a stored intent; after a restart, asks the target first what it runs."""
        target = self.targets[row.target or ""]
        req = self._request(row, deployment)
        result: RollbackResult | None = None
        if resumed:
            try:
                current = await target.current(req)
            except Exception as exc:
                current = None
                log.warning("%s", redact(f"target {target.name} could not say what runs: {exc}"))
            if current is not None and current.artifact == req.artifact:
                result = RollbackResult(
                    ok=True,
                    detail=f"found {req.artifact} already running after a restart; not deployed again",
                )
        if result is None:
            try:
                result = await target.rollback(req)
            except Exception as exc:  # an adapter bug is a failed rollback, loudly, not a crash
                log.exception("target %s raised", target.name)
                result = RollbackResult(ok=False, detail=redact(f"{type(exc).__name__}: {exc}"))
        now = self.clock.now()
        output = redact(result.output)
        if not result.ok:
            row = await asyncio.to_thread(
                self.store.update_rollback,
                rollback_id=row.id,
                now=now,
                state="failed",
                reason=redact(result.detail),
                output=output,
                attempts=result.attempts,
                finished=True,
            )
            await self._fail(deployment, f"rollback through {target.name} failed: {redact(result.detail)}")
            self.metrics.rollbacks.labels(target.name, "failed").inc()
            return row
        vrow = await self._start_verification(row, deployment=deployment)
        self.metrics.rollbacks.labels(target.name, "deployed").inc()
        return await asyncio.to_thread(
            self.store.update_rollback,
            rollback_id=row.id,
            now=now,
            state="verifying",
            reason=redact(result.detail),
            output=output,
            attempts=result.attempts,
            verification_id=vrow.id,
        )

    async def _start_verification(self, row: RollbackRow, *, deployment: DeploymentRow) -> VerificationRow:
        policy = EnvironmentPolicy.model_validate(deployment.policy)
        vpolicy = rollback_verification_policy(policy)  # every check by default, not only the http ones
        timing = vpolicy.verification
        now = self.clock.now()
        return await asyncio.to_thread(
            self.store.create_verification,
            deployment_id=deployment.id,
            kind="rollback",
            version=row.to_version or "",
            artifact=row.to_artifact or "",
            starts_at=now,
            interval_s=timing.interval,
            samples_total=max(1, int(timing.duration // timing.interval)),
            policy=vpolicy.model_dump(mode="json", by_alias=True),
            now=now,
            reason=f"verifying the restored version {row.to_version}",
        )

    async def verification_decided(self, rv: VerificationRow, *, passed: bool, reason: str) -> None:
        """The restored version's check ended: the deployment is ROLLED_BACK, or ROLLBACK_FAILED, loudly."""
        deployment = await asyncio.to_thread(self.store.get_deployment, rv.deployment_id)
        rows = await asyncio.to_thread(self.store.rollbacks_for, deployment.id)
        row = next((r for r in rows if r.verification_id == rv.id), None)
        now = self.clock.now()
        if row is not None:
            await asyncio.to_thread(
                self.store.update_rollback,
                rollback_id=row.id,
                now=now,
                state="verified" if passed else "verify_failed",
                finished=True,
            )
        if not passed:
            await self._fail(deployment, f"the restored version {rv.version} did not verify: {reason}")
            return
        deploy_v = await asyncio.to_thread(self.store.deploy_verification, deployment.id)
        took = (now - (row.requested_at if row else now)).total_seconds()
        await asyncio.to_thread(
            self.store.set_state,
            verification_id=deploy_v.id,
            to_state=State.ROLLED_BACK.value,
            reason=f"rolled back to {rv.version} in {took:.0f} s; the restored version verified",
            now=now,
        )
        await asyncio.to_thread(
            self.store.mark_stable,
            service=deployment.service,
            environment=deployment.environment,
            version=rv.version,
            artifact=rv.artifact,
            deployment_id=None,
            now=now,
            reason=f"restored after {deployment.version} failed, and verified",
        )
        self.metrics.transitions.labels(State.ROLLED_BACK.value).inc()
        self.metrics.rollbacks.labels(row.target if row and row.target else "none", "rolled_back").inc()
        log.info(
            "%s/%s: rolled back %s -> %s",
            deployment.service,
            deployment.environment,
            deployment.version,
            rv.version,
        )
        await self.outputs.deployment_changed(deployment.id, event="rolled_back")

    async def _fail(self, deployment: DeploymentRow, reason: str) -> None:
        deploy_v = await asyncio.to_thread(self.store.deploy_verification, deployment.id)
        await asyncio.to_thread(
            self.store.set_state,
            verification_id=deploy_v.id,
            to_state=State.ROLLBACK_FAILED.value,
            reason=reason,
            now=self.clock.now(),
        )
        self.metrics.transitions.labels(State.ROLLBACK_FAILED.value).inc()
        log.error(
            "ROLLBACK FAILED for %s/%s %s: %s",
            deployment.service,
            deployment.environment,
            deployment.version,
            reason,
        )
        await self.outputs.deployment_changed(deployment.id, event="rollback_failed")

    async def resume(self) -> int:
        """Finishes every rollback whose intent was written but whose outcome was not, once nobody else can.

        The replica that wrote an intent keeps its deployment's lease renewed while it calls the target;
        an intent is taken over only when that lease has lapsed (the replica died) or is ours.
        """
        open_rows = await asyncio.to_thread(self.store.open_rollbacks)
        done = 0
        for row in open_rows:
            if row.state != "intent" or (row.target or "") not in self.targets:
                continue
            deploy_v = await asyncio.to_thread(self.store.deploy_verification, row.deployment_id)
            taken = await asyncio.to_thread(
                self.store.take_lease,
                verification_id=deploy_v.id,
                owner=self.owner,
                now=self.clock.now(),
                lease_s=self.lease_s,
            )
            if not taken:
                continue  # a live replica is still on it
            deployment = await asyncio.to_thread(self.store.get_deployment, row.deployment_id)
            latest, _ = await asyncio.to_thread(
                self.store.list_deployments, service=row.service, environment=row.environment, limit=1
            )
            if latest and latest[0][0].id != deployment.id:
                why = (
                    f"a newer deploy ({latest[0][0].version}) arrived while this rollback was interrupted: "
                    "not rolling back over it"
                )
                await asyncio.to_thread(
                    self.store.update_rollback,
                    rollback_id=row.id,
                    now=self.clock.now(),
                    state="refused",
                    reason=why,
                    finished=True,
                )
                await self._fail(deployment, why)
                continue
            log.warning(
                "resuming the rollback of %s/%s %s after a restart",
                row.service,
                row.environment,
                row.from_version,
            )
            await self.execute(row, deployment=deployment, resumed=True)
            done += 1
        return done
