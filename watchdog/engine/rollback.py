"""Carries out a rollback as pending actions: decide (guard rails), call the target, finish on the verdict.

Each step completes its action together with its store effects in one transaction; the target call is the
one step outside the store, so it counts its attempt first and, when retried, asks what runs before calling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from watchdog import faults
from watchdog.clock import Clock
from watchdog.engine import consequences as C
from watchdog.engine.guards import newer_refusal
from watchdog.engine.rollback_decision import decide, restore_verification
from watchdog.engine.whatruns import what_runs
from watchdog.events import SAMPLING, State
from watchdog.policy.interned import shared_policy
from watchdog.policy.service import EnvironmentPolicy
from watchdog.redact import redact
from watchdog.sources.base import Source
from watchdog.store import Store
from watchdog.store.actions import ActionRow
from watchdog.store.base import new_id
from watchdog.store.outbox_repo import (
    Effect,
    MarkArtifact,
    NewVerification,
    SetState,
    UpdateRollback,
)
from watchdog.store.records import DeploymentRow, RollbackRow
from watchdog.targets.base import RollbackRequest, RollbackResult, Target
from watchdog.telemetry import Metrics

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
_SAMPLING = tuple(s.value for s in SAMPLING)


def call_timeout(target: Target, *, margin_s: float = 30.0) -> float:
    """The target's own timeout with room for its retries; a call past it is treated as lost."""
    return target.timeout * 2 + margin_s


@dataclass(kw_only=True, eq=False)
class Rollbacks:
    store: Store
    targets: MutableMapping[str, Target]
    sources: Mapping[str, Source]
    clock: Clock
    metrics: Metrics
    owner: str
    timeout_margin_s: float = field(default=30.0, init=False)

    # ---- decide ----

    async def on_decide(self, action: ActionRow) -> None:
        """The `rollback` action a verdict left: decide and record the intent or the refusal, once."""
        now = self.clock.now()
        facts = await asyncio.to_thread(
            self.store.rollback_facts, action.deployment_id, since=now - HOUR, now=now
        )
        p = action.payload
        decided = decide(
            facts,
            targets=self.targets,
            deploy_v=action.verification_id or "",
            trigger=str(p.get("trigger", "auto")),
            reason=str(p.get("reason", "")),
            dry_run=bool(p.get("dry_run")),
            now=now,
        )
        done = await asyncio.to_thread(
            self.store.complete_action,
            action.id,
            owner=self.owner,
            now=now,
            effects=decided.effects,
            follow_ups=decided.follow_ups,
        )
        if done:
            row = decided.row
            log.warning(
                "%s/%s %s: rollback %s: %s",
                row["service"],
                row["environment"],
                row["from_version"],
                row["state"],
                row["reason"],
            )
            self.metrics.rollbacks.labels(row["target"] or "none", row["state"]).inc()
            if row["state"] == "intent":
                self.metrics.transitions.labels(State.ROLLING_BACK.value).inc()

    # ---- the target call ----

    async def on_target_call(self, action: ActionRow) -> None:
        """Calls the target for a stored intent, at most once per attempt; a retry asks what runs first."""
        now = self.clock.now()
        row = await asyncio.to_thread(self.store.get_rollback, str(action.payload["rollback_id"]))
        if row.state != "intent":
            await self._complete(action)  # a previous attempt recorded its outcome already
            return
        facts = await asyncio.to_thread(
            self.store.rollback_facts, row.deployment_id, since=now - HOUR, now=now
        )
        deployment = facts.deployment
        deploy_v = await asyncio.to_thread(self.store.deploy_verification, deployment.id)
        target = self.targets.get(row.target or "")
        if target is None:
            why = f"no deploy target '{row.target}' is configured: manual rollback required"
            await self._failed(action, row, deploy_v.id, why)
            return
        attempt = await asyncio.to_thread(self.store.begin_attempt, action.id, owner=self.owner)
        if attempt is None:
            return  # another instance holds it now
        req = _request(row, deployment)
        policy = shared_policy(deployment.policy)
        result: RollbackResult | None = None
        # The deploy system echoing our own rollback is not a newer deploy to protect.
        newer = facts.newer if facts.newer and facts.newer.artifact != row.to_artifact else None
        if attempt > 1:
            # A call may have happened before a crash: call again only when the bad version still runs.
            runs = await what_runs(
                target=target, req=req, policy=policy, sources=self.sources, clock=self.clock
            )
            log.warning(
                "resuming the rollback of %s/%s %s: %s",
                row.service,
                row.environment,
                row.from_version,
                runs.detail,
            )
            if runs.running == "restored":
                result = RollbackResult(ok=True, detail=f"{runs.detail} after a restart; not deployed again")
        refusal = newer_refusal(deployment, newer) if result is None else None
        if refusal is not None:
            await self._failed(action, row, deploy_v.id, refusal, state="refused")
            return
        if result is None:
            result = await self._call(target, req, policy)
        await self._called(action, row, deployment, deploy_v.id, result, policy)

    async def _call(self, target: Target, req: RollbackRequest, policy: EnvironmentPolicy) -> RollbackResult:
        faults.point("before_target_call")
        limit = call_timeout(target, margin_s=self.timeout_margin_s)
        try:
            async with asyncio.timeout(limit):
                result = await target.rollback(req)
        except TimeoutError:
            runs = await what_runs(
                target=target, req=req, policy=policy, sources=self.sources, clock=self.clock
            )
            if runs.running == "restored":
                return RollbackResult(ok=True, detail=f"the call timed out, but {runs.detail}")
            result = RollbackResult(
                ok=False,
                detail=f"no answer within {limit:g} s; {runs.detail}",
            )
        except Exception as exc:  # an adapter bug is a failed rollback, loudly, not a crash
            log.exception("target %s raised", target.name)
            result = RollbackResult(ok=False, detail=redact(f"{type(exc).__name__}: {exc}"))
        faults.point("after_target_call")
        return result

    async def _called(
        self,
        action: ActionRow,
        row: RollbackRow,
        deployment: DeploymentRow,
        deploy_v: str,
        result: RollbackResult,
        policy: EnvironmentPolicy,
    ) -> None:
        target = row.target or "none"
        if not result.ok:
            detail = redact(result.detail)
            await self._failed(
                action,
                row,
                deploy_v,
                f"rollback through {target} failed: {detail}",
                output=redact(result.output),
                attempts=result.attempts,
            )
            return
        vid = new_id()
        now = self.clock.now()
        effects: list[Effect] = [
            UpdateRollback(
                row.id,
                {
                    "state": "verifying",
                    "reason": redact(result.detail),
                    "output": redact(result.output),
                    "attempts": result.attempts,
                    "verification_id": vid,
                },
            ),
            NewVerification(restore_verification(row, deployment, policy, vid=vid, now=now)),
        ]
        if await asyncio.to_thread(
            self.store.complete_action, action.id, owner=self.owner, now=now, effects=effects
        ):
            self.metrics.rollbacks.labels(target, "deployed").inc()

    async def _failed(
        self,
        action: ActionRow,
        row: RollbackRow,
        deploy_v: str,
        reason: str,
        *,
        state: str = "failed",
        output: str | None = None,
        attempts: int | None = None,
    ) -> None:
        values: dict[str, Any] = {"state": state, "reason": reason}
        if output is not None:
            values["output"] = output
        if attempts is not None:
            values["attempts"] = attempts
        effects: list[Effect] = [
            UpdateRollback(row.id, values, finished=True),
            SetState(deploy_v, State.ROLLBACK_FAILED.value, reason, expect=(State.ROLLING_BACK.value,)),
        ]
        done = await asyncio.to_thread(
            self.store.complete_action,
            action.id,
            owner=self.owner,
            now=self.clock.now(),
            effects=effects,
            follow_ups=[C.announce(row.deployment_id, "rollback_failed")],
        )
        if done:
            log.error(
                "ROLLBACK FAILED for %s/%s %s: %s", row.service, row.environment, row.from_version, reason
            )
            self.metrics.transitions.labels(State.ROLLBACK_FAILED.value).inc()
            self.metrics.rollbacks.labels(row.target or "none", "failed").inc()

    # ---- the restored version's verdict ----

    async def on_finish(self, action: ActionRow) -> None:
        """The restored version's check ended: ROLLED_BACK (its artifact stable again) or ROLLBACK_FAILED."""
        passed = bool(action.payload.get("passed"))
        reason = str(action.payload.get("reason", ""))
        now = self.clock.now()
        deployment = await asyncio.to_thread(self.store.get_deployment, action.deployment_id)
        rows = await asyncio.to_thread(self.store.rollbacks_for, deployment.id)
        row = next((r for r in rows if r.verification_id == action.verification_id), None)
        deploy_v = await asyncio.to_thread(self.store.deploy_verification, deployment.id)
        effects: list[Effect] = []
        if row is not None:
            effects.append(
                UpdateRollback(row.id, {"state": "verified" if passed else "verify_failed"}, finished=True)
            )
        restored = row.to_version if row else "?"
        if passed and row is not None:
            took = (now - row.requested_at).total_seconds()
            why = f"rolled back to {restored} in {took:.0f} s; the restored version verified"
            effects.append(
                SetState(deploy_v.id, State.ROLLED_BACK.value, why, expect=(State.ROLLING_BACK.value,))
            )
            effects.append(
                MarkArtifact(
                    service=deployment.service,
                    environment=deployment.environment,
                    version=row.to_version or "",
                    artifact=row.to_artifact or "",
                    deployment_id=None,
                    status="stable",
                    reason=f"restored after {deployment.version} failed, and verified",
                )
            )
            event = "rolled_back"
        else:
            why = f"the restored version {restored} did not verify: {reason}"
            effects.append(
                SetState(deploy_v.id, State.ROLLBACK_FAILED.value, why, expect=(State.ROLLING_BACK.value,))
            )
            event = "rollback_failed"
        done = await asyncio.to_thread(
            self.store.complete_action,
            action.id,
            owner=self.owner,
            now=now,
            effects=effects,
            follow_ups=[C.announce(deployment.id, event)],
        )
        if done:
            self.metrics.transitions.labels(event).inc()
            self.metrics.rollbacks.labels(row.target if row and row.target else "none", event).inc()
            log.info(
                "%s/%s %s: %s (%s)",
                deployment.service,
                deployment.environment,
                deployment.version,
                event,
                why,
            )

    async def _complete(self, action: ActionRow) -> None:
        await asyncio.to_thread(self.store.complete_action, action.id, owner=self.owner, now=self.clock.now())


def _request(row: RollbackRow, deployment: DeploymentRow) -> RollbackRequest:
    return RollbackRequest(
        deployment_id=deployment.id,
        service=deployment.service,
        environment=deployment.environment,
        version=row.to_version or "",
        artifact=row.to_artifact or "",
        failed_version=deployment.version,
        failed_artifact=deployment.artifact,
    )
