"""Typed rows the repository returns: one frozen dataclass per table, fields named as the columns.

Callers never see SQLAlchemy objects; datetimes are always aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict


class Release(TypedDict):
    """What names one deployed release, in every record that speaks of it (effects, notifications)."""

    service: str
    environment: str
    version: str
    artifact: str
    deployment_id: str


@dataclass(frozen=True)
class DeploymentRow:
    id: str
    service: str
    environment: str
    version: str
    artifact: str
    previous_version: str | None
    previous_artifact: str | None
    deployed_at: datetime
    received_at: datetime
    deployer: str | None
    commit: str | None
    changelog_url: str | None
    rollback_safe: bool
    is_rollback: bool
    labels: dict[str, str]
    source: str
    rollback_of: str | None
    policy: dict[str, Any]
    pipeline: dict[str, Any] | None = None  # the gate's facts from the event; None when it sent none
    echo_of: str | None = None  # the rollback whose redeploy this event echoes, when it is one

    def release(self) -> Release:
        return {
            "service": self.service,
            "environment": self.environment,
            "version": self.version,
            "artifact": self.artifact,
            "deployment_id": self.id,
        }


@dataclass(frozen=True)
class VerificationRow:
    id: str
    deployment_id: str
    kind: str  # deploy | rollback
    state: str
    reason: str
    verdict: str | None
    action: str | None
    decided_after_s: float | None
    failed_checks: list[str]
    version: str
    artifact: str
    starts_at: datetime
    interval_s: float
    samples_total: int
    next_k: int
    next_sample_at: datetime | None
    policy: dict[str, Any]
    baseline: dict[str, Any] | None
    lease_owner: str | None
    lease_until: datetime | None
    lease_epoch: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class SampleRow:
    verification_id: str
    check_name: str
    k: int
    t: float
    taken_at: datetime
    outcome: str
    reason: str
    observed: float | None
    warmup: bool
    measurement: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TransitionRow:
    verification_id: str
    deployment_id: str
    from_state: str | None
    to_state: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class RollbackRow:
    id: str
    deployment_id: str
    service: str
    environment: str
    trigger: str
    state: str
    reason: str
    target: str | None
    from_version: str
    from_artifact: str
    to_version: str | None
    to_artifact: str | None
    output: str
    attempts: int
    verification_id: str | None
    requested_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class StableRow:
    service: str
    environment: str
    version: str
    artifact: str
    status: str  # stable | assumed_stable | bad
    deployment_id: str | None
    since: datetime
    reason: str

    @property
    def assumed(self) -> bool:
        """Only a deploy event said it ran before; it never passed a verification here."""
        return self.status == "assumed_stable"

    @property
    def shown(self) -> str:
        """The version as reports and notifications show it, "assumed" when it never passed here."""
        return (
            f"{self.version} (assumed: named by a deploy event, never verified)"
            if self.assumed
            else self.version
        )


@dataclass(frozen=True)
class IncidentRow:
    id: str
    deployment_id: str
    service: str
    environment: str
    version: str
    status: str
    title: str
    path: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class FreezeRow:
    service: str
    environment: str
    reason: str
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class OperatorRequestRow:
    """A manual rollback or promotion: recorded by any replica, carried out by the lease holder."""

    id: str
    deployment_id: str
    kind: str  # rollback | promote
    state: str  # pending | running | done | refused | failed
    reason: str
    requested_by: str | None
    received_by: str | None
    handled_by: str | None
    error: str | None
    detail: str
    rollback_id: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class DeliveryRow:
    source: str
    delivery_id: str
    received_at: datetime
    status_code: int
    response: dict[str, Any]
    deployment_id: str | None


@dataclass(frozen=True)
class DeploymentDetail:
    """Everything the API and reports show about one deployment."""

    deployment: DeploymentRow
    verification: VerificationRow
    samples: list[SampleRow]
    transitions: list[TransitionRow]
    rollbacks: list[RollbackRow]
    rollback_verifications: list[VerificationRow]
    incident: IncidentRow | None
    # Samples of the rollback verifications (the restored version), oldest verification first.
    rollback_samples: list[SampleRow] = field(default_factory=list)
