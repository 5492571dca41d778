"""The full story of one deployment as GET /v1/deployments/{id} tells it.

Event fields, the verdict with its reasons, every sample and transition, every rollback attempt.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from watchdog.api.views import (
    IncidentView,
    RollbackView,
    SampleView,
    StableView,
    TransitionView,
    VerificationView,
    same_fields,
)
from watchdog.redact import redact
from watchdog.store.records import DeploymentDetail, StableRow


class DeploymentView(BaseModel):
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
    echo_of: str | None = Field(
        None,
        description="the rollback (id) this deploy echoes: the deploy system redeployed what it restored",
    )
    state: str = Field(description="the lifecycle state in lower case")
    verdict: str | None
    action: str | None
    decided_after_s: float | None
    failed_checks: list[str]
    reasons: list[str] = Field(description="why the verification is where it is, newest cause first")
    verification: VerificationView
    samples: list[SampleView]
    transitions: list[TransitionView]
    rollback: RollbackView | None = Field(description="the latest rollback attempt")
    rollbacks: list[RollbackView] = Field(description="every attempt, oldest first, refusals included")
    rollback_verifications: list[VerificationView]
    incident: IncidentView | None
    previous_stable: StableView | None = Field(description="what a rollback would restore")


def _reasons(detail: DeploymentDetail) -> list[str]:
    v = detail.verification
    reasons = [redact(v.reason)] if v.reason else []
    # The failing sample that settled each failed check says by how much it failed.
    for check in v.failed_checks:
        failing = [s for s in detail.samples if s.check_name == check and s.outcome == "fail"]
        if failing:
            reasons.append(f"{check}: {redact(failing[-1].reason)}")
    return reasons


def deployment_view(detail: DeploymentDetail, *, previous_stable: StableRow | None) -> DeploymentView:
    d, v = detail.deployment, detail.verification
    rollbacks = [RollbackView.of(r) for r in detail.rollbacks]
    # The deployment's own fields by name; the verification's outcome and the nested views on top.
    return DeploymentView.model_validate(
        same_fields(DeploymentView, d)
        | {
            "state": v.state,
            "verdict": v.verdict,
            "action": v.action,
            "decided_after_s": v.decided_after_s,
            "failed_checks": list(v.failed_checks),
            "reasons": _reasons(detail),
            "verification": VerificationView.of(v),
            "samples": [SampleView.of(s) for s in detail.samples],
            "transitions": [TransitionView.of(t) for t in detail.transitions],
            "rollback": rollbacks[-1] if rollbacks else None,
            "rollbacks": rollbacks,
            "rollback_verifications": [VerificationView.of(x) for x in detail.rollback_verifications],
            "incident": IncidentView.of(detail.incident) if detail.incident else None,
            "previous_stable": StableView.of(previous_stable) if previous_stable else None,
        }
    )
