"""Guard rails on rollbacks: the reasons the daemon refuses to roll back by itself.

Pure: given what the store knows, answer "go" or the refusal in words; the caller records it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from watchdog.store.records import DeploymentRow, FreezeRow, RollbackRow, StableRow

_SEMVER = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:[-+].*)?$")


@dataclass(frozen=True)
class RollbackPlan:
    """What a guard-rail check concluded: roll back to `to`, or refuse with `refusal`."""

    to: StableRow | None
    refusal: str | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None and self.to is not None


def semver_major(version: str) -> int | None:
    m = _SEMVER.match(version.strip())
    return int(m.group(1)) if m else None


def newer_refusal(deployment: DeploymentRow, newer: DeploymentRow | None) -> str | None:
    """Someone deployed again since (a fix forward, say): rolling back now would undo their deploy.

    Asked by plan_rollback, and again before a target call that a restart interrupted.
    """
    if newer is None:
        return None
    return (
        f"a newer deploy ({newer.version}) of {deployment.service}/{deployment.environment} arrived "
        "since: not rolling back over it"
    )


def plan_rollback(
    *,
    deployment: DeploymentRow,
    candidate: StableRow | None,
    previous: list[RollbackRow],
    recent_auto: int,
    max_per_hour: int,
    allow_major: bool,
    freeze: FreezeRow | None,
    trigger: str,
    newer: DeploymentRow | None = None,
) -> RollbackPlan:
    """Every guard rail of docs/design.md, in the order an operator would want to read the first refusal.

    Manual rollbacks (an operator asked) skip the hourly budget and the freeze: a person decided.
    """
    if any(r.state not in ("refused", "dry_run") for r in previous):
        return RollbackPlan(candidate, "this deploy was already rolled back once; never twice")
    if candidate is None:
        return RollbackPlan(
            None,
            f"no previous stable artifact is known for {deployment.service}/{deployment.environment}: "
            "manual rollback required",
        )
    if trigger == "auto":
        refusal = newer_refusal(deployment, newer)
        if refusal is not None:
            return RollbackPlan(candidate, refusal)
        if deployment.is_rollback:
            return RollbackPlan(
                candidate, "this deploy is itself a rollback: verified, never rolled back automatically"
            )
        if freeze is not None:
            return RollbackPlan(
                candidate,
                f"rollbacks are frozen for {deployment.service}/{deployment.environment}: {freeze.reason}",
            )
        if recent_auto >= max_per_hour:
            return RollbackPlan(
                candidate,
                f"{recent_auto} automatic rollbacks of {deployment.service}/{deployment.environment} "
                f"in the last hour reached rollback.max_per_hour {max_per_hour}",
            )
        if not deployment.rollback_safe:
            return RollbackPlan(
                candidate,
                "the deploy says it is not rollback-safe (for example a data migration): "
                "manual rollback required",
            )
        if not allow_major:
            failed_major, stable_major = semver_major(deployment.version), semver_major(candidate.version)
            if failed_major is not None and stable_major is not None and failed_major != stable_major:
                return RollbackPlan(
                    candidate,
                    f"{deployment.version} -> {candidate.version} crosses a SemVer major version and "
                    "rollback.allow_major is false: manual rollback required",
                )
    return RollbackPlan(candidate)
