"""A rollback decision and the restored version's check, as the store writes that record them.

Pure: the guard rails over one read of the facts; the caller writes the result in one transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watchdog.analysis.timing import samples_total
from watchdog.engine import consequences as C
from watchdog.engine.guards import plan_rollback
from watchdog.events import SAMPLING, State
from watchdog.policy.interned import shared_policy
from watchdog.policy.rollback_checks import rollback_verification_policy
from watchdog.policy.service import EnvironmentPolicy
from watchdog.store.actions import ActionSpec
from watchdog.store.base import new_id
from watchdog.store.outbox_repo import Effect, InsertRollback, SetState
from watchdog.store.records import DeploymentRow, RollbackRow
from watchdog.store.rollback_repo import RollbackFacts

_SAMPLING = tuple(s.value for s in SAMPLING)


@dataclass(frozen=True)
class Decided:
    """A rollback decision as store writes: the row, the effects and the actions that follow."""

    row: dict[str, Any]
    effects: list[Effect]
    follow_ups: list[ActionSpec]
    refusal: str | None


def decide(
    facts: RollbackFacts,
    *,
    targets: Collection[str],
    deploy_v: str,
    trigger: str,
    reason: str,
    dry_run: bool,
    now: datetime,
) -> Decided:
    """The guard rails over one consistent read of the facts, as the writes that record the outcome."""
    dep = facts.deployment
    policy = shared_policy(dep.policy)
    plan = plan_rollback(
        deployment=dep,
        candidate=facts.candidate,
        previous=facts.previous,
        recent_auto=facts.recent_auto,
        max_per_hour=policy.rollback.max_per_hour,
        allow_major=policy.rollback.allow_major,
        freeze=facts.freeze,
        trigger=trigger,
        newer=facts.newer,
    )
    refusal = plan.refusal
    if refusal is None and policy.target not in targets:
        refusal = f"no deploy target '{policy.target}' is configured: manual rollback required"
    to = plan.to
    state, why = "intent", reason
    if dry_run:
        would = f"would have rolled back to {to.version} ({to.artifact})" if to else "would not roll back"
        state, why = (
            "dry_run",
            f"dry run (on_failure: none): {would}" + (f"; but {refusal}" if refusal else ""),
        )
    elif refusal is not None:
        state, why = "refused", refusal
    row = {
        "id": new_id(),
        "deployment_id": dep.id,
        "service": dep.service,
        "environment": dep.environment,
        "trigger": trigger,
        "state": state,
        "reason": why,
        "target": policy.target,
        "from_version": dep.version,
        "from_artifact": dep.artifact,
        "to_version": to.version if to else None,
        "to_artifact": to.artifact if to else None,
        "output": "",
        "attempts": 0,
        "requested_at": now,
        "finished_at": None if state == "intent" else now,
    }
    effects: list[Effect] = [InsertRollback(row)]
    if state != "intent":
        return Decided(row, effects, [C.announce(dep.id, "failed")], why if not dry_run else None)
    assert to is not None
    effects.append(
        SetState(
            deploy_v,
            State.ROLLING_BACK.value,
            f"rolling back to {to.version} ({to.artifact}) through {policy.target}: {reason}",
            expect=(*_SAMPLING, State.FAILED.value, State.INCONCLUSIVE.value),
        )
    )
    # Act first: the target call is queued before the report and the messages about it.
    call = ActionSpec(kind=C.TARGET_CALL, deployment_id=dep.id, payload={"rollback_id": row["id"]})
    return Decided(row, effects, [call, C.announce(dep.id, "failed")], None)


def restore_verification(
    row: RollbackRow,
    deployment: DeploymentRow,
    policy: EnvironmentPolicy,
    *,
    vid: str,
    now: datetime,
) -> dict[str, Any]:
    vpolicy = rollback_verification_policy(policy)  # every check by default, not only the http ones
    timing = vpolicy.verification
    return {
        "deployment_id": deployment.id,
        "kind": "rollback",
        "version": row.to_version or "",
        "artifact": row.to_artifact or "",
        "starts_at": now,
        "interval_s": timing.interval,
        "samples_total": samples_total(timing.duration, timing.interval),
        "policy": vpolicy.model_dump(mode="json", by_alias=True),
        "now": now,
        "reason": f"verifying the restored version {row.to_version}",
        "verification_id": vid,
    }
