"""The JSON shapes the API answers with (response models, so the OpenAPI schema describes them).

Built from the store's frozen rows; free text that a target or a source wrote passes the redactor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from watchdog.redact import redact
from watchdog.store.records import (
    DeploymentRow,
    FreezeRow,
    IncidentRow,
    RollbackRow,
    SampleRow,
    StableRow,
    TransitionRow,
    VerificationRow,
)


class ErrorBody(BaseModel):
    error: str = Field(description="a stable code, e.g. bad_signature, not_found, invalid_event")
    detail: str = Field(description="words a person can act on")


class AcceptedBody(BaseModel):
    deployment_id: str
    state: str = Field(description="pending")


class IgnoredBody(BaseModel):
    status: Literal["ignored"] = "ignored"
    reason: str


class StateBody(BaseModel):
    deployment_id: str
    state: str


class DeploymentSummary(BaseModel):
    id: str
    service: str
    environment: str
    version: str
    artifact: str
    state: str
    verdict: str | None
    deployed_at: datetime
    received_at: datetime
    deployer: str | None
    source: str
    is_rollback: bool

    @classmethod
    def of(cls, d: DeploymentRow, v: VerificationRow) -> DeploymentSummary:
        return cls(
            id=d.id,
            service=d.service,
            environment=d.environment,
            version=d.version,
            artifact=d.artifact,
            state=v.state,
            verdict=v.verdict,
            deployed_at=d.deployed_at,
            received_at=d.received_at,
            deployer=d.deployer,
            source=d.source,
            is_rollback=d.is_rollback,
        )


class DeploymentPage(BaseModel):
    items: list[DeploymentSummary]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next (older) page; null at the end")


class SampleView(BaseModel):
    check: str
    k: int
    t: float
    taken_at: datetime
    outcome: str
    reason: str
    observed: float | None
    warmup: bool
    note: str | None = Field(
        None, description="what the source said of its reading, e.g. that no error series meant 0 errors"
    )

    @classmethod
    def of(cls, s: SampleRow) -> SampleView:
        note = (s.measurement or {}).get("note")
        return cls(
            check=s.check_name,
            k=s.k,
            t=s.t,
            taken_at=s.taken_at,
            outcome=s.outcome,
            reason=redact(s.reason),
            observed=s.observed,
            warmup=s.warmup,
            note=redact(str(note)) if note else None,
        )


class TransitionView(BaseModel):
    verification_id: str
    from_state: str | None
    to_state: str
    reason: str
    at: datetime

    @classmethod
    def of(cls, t: TransitionRow) -> TransitionView:
        return cls(
            verification_id=t.verification_id,
            from_state=t.from_state,
            to_state=t.to_state,
            reason=redact(t.reason),
            at=t.at,
        )


class RollbackView(BaseModel):
    id: str
    deployment_id: str
    trigger: str
    state: str = Field(description="refused attempts (guard rails) appear with their reason")
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

    @classmethod
    def of(cls, r: RollbackRow) -> RollbackView:
        return cls(
            id=r.id,
            deployment_id=r.deployment_id,
            trigger=r.trigger,
            state=r.state,
            reason=redact(r.reason),
            target=r.target,
            from_version=r.from_version,
            from_artifact=r.from_artifact,
            to_version=r.to_version,
            to_artifact=r.to_artifact,
            output=redact(r.output),
            attempts=r.attempts,
            verification_id=r.verification_id,
            requested_at=r.requested_at,
            finished_at=r.finished_at,
        )


class VerificationView(BaseModel):
    id: str
    kind: str
    state: str
    reason: str
    verdict: str | None
    action: str | None
    version: str
    artifact: str
    starts_at: datetime
    interval_s: float
    samples_total: int
    next_sample_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, v: VerificationRow) -> VerificationView:
        return cls(
            id=v.id,
            kind=v.kind,
            state=v.state,
            reason=redact(v.reason),
            verdict=v.verdict,
            action=v.action,
            version=v.version,
            artifact=v.artifact,
            starts_at=v.starts_at,
            interval_s=v.interval_s,
            samples_total=v.samples_total,
            next_sample_at=v.next_sample_at,
            finished_at=v.finished_at,
        )


class IncidentView(BaseModel):
    id: str
    deployment_id: str
    service: str
    environment: str
    version: str
    status: str
    title: str
    file: str = Field(description="the post-mortem's file name under the reports directory")
    url: str = Field(description="GET it for Markdown, or with Accept: text/html for HTML")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, i: IncidentRow) -> IncidentView:
        return cls(
            id=i.id,
            deployment_id=i.deployment_id,
            service=i.service,
            environment=i.environment,
            version=i.version,
            status=i.status,
            title=i.title,
            file=i.path.replace("\\", "/").rsplit("/", 1)[-1],
            url=f"/v1/incidents/{i.id}",
            created_at=i.created_at,
            updated_at=i.updated_at,
        )


class IncidentPage(BaseModel):
    items: list[IncidentView]


class StableView(BaseModel):
    version: str
    artifact: str
    status: str
    deployment_id: str | None
    since: datetime
    assumed: bool = False  # only a deploy event named it; it never passed a verification here

    @classmethod
    def of(cls, s: StableRow) -> StableView:
        return cls(
            version=s.version,
            artifact=s.artifact,
            status=s.status,
            deployment_id=s.deployment_id,
            since=s.since,
            assumed=s.assumed,
        )


class FreezeView(BaseModel):
    service: str
    environment: str
    reason: str
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, f: FreezeRow) -> FreezeView:
        return cls(
            service=f.service,
            environment=f.environment,
            reason=f.reason,
            created_by=f.created_by,
            created_at=f.created_at,
            expires_at=f.expires_at,
        )


class FreezePage(BaseModel):
    items: list[FreezeView]
