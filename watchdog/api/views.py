"""The JSON shapes the API answers with (response models, so the OpenAPI schema describes them).

Filled from the store's frozen rows by field name; free text a target or a source wrote is redacted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, Field

from watchdog.redact import redact
from watchdog.store.records import DeploymentRow, VerificationRow

# Free text a target, a source or an operator wrote: redacted whichever way the view is built.
Redacted = Annotated[str, AfterValidator(redact)]


def same_fields(view: type[BaseModel], record: object) -> dict[str, Any]:
    """The view's fields the record holds under the same name (dataclass fields and properties alike)."""
    return {name: getattr(record, name) for name in view.model_fields if hasattr(record, name)}


class RecordView(BaseModel):
    """A response model filled from one store record: every field it shares with the record, by name."""

    @classmethod
    def of(cls, record: Any) -> Self:
        return cls.model_validate(same_fields(cls, record) | cls.derived(record))

    @classmethod
    def derived(cls, record: Any) -> dict[str, Any]:
        """The fields the record does not hold under the view's name (renamed or computed); none here."""
        return {}


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
        return cls.model_validate(same_fields(cls, d) | {"state": v.state, "verdict": v.verdict})


class DeploymentPage(BaseModel):
    items: list[DeploymentSummary]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next (older) page; null at the end")


class SampleView(RecordView):
    check: str
    k: int
    t: float
    taken_at: datetime
    outcome: str
    reason: Redacted
    observed: float | None
    warmup: bool
    note: Redacted | None = Field(
        None, description="what the source said of its reading, e.g. that no error series meant 0 errors"
    )

    @classmethod
    def derived(cls, record: Any) -> dict[str, Any]:
        note = (record.measurement or {}).get("note")
        return {"check": record.check_name, "note": str(note) if note else None}


class TransitionView(RecordView):
    verification_id: str
    from_state: str | None
    to_state: str
    reason: Redacted
    at: datetime


class RollbackView(RecordView):
    id: str
    deployment_id: str
    trigger: str
    state: str = Field(description="refused attempts (guard rails) appear with their reason")
    reason: Redacted
    target: str | None
    from_version: str
    from_artifact: str
    to_version: str | None
    to_artifact: str | None
    output: Redacted
    attempts: int
    verification_id: str | None
    requested_at: datetime
    finished_at: datetime | None


class VerificationView(RecordView):
    id: str
    kind: str
    state: str
    reason: Redacted
    verdict: str | None
    action: str | None
    version: str
    artifact: str
    starts_at: datetime
    interval_s: float
    samples_total: int
    next_sample_at: datetime | None
    finished_at: datetime | None


class IncidentView(RecordView):
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
    def derived(cls, record: Any) -> dict[str, Any]:
        return {
            "file": record.path.replace("\\", "/").rsplit("/", 1)[-1],
            "url": f"/v1/incidents/{record.id}",
        }


class IncidentPage(BaseModel):
    items: list[IncidentView]


class StableView(RecordView):
    version: str
    artifact: str
    status: str
    deployment_id: str | None
    since: datetime
    assumed: bool = False  # only a deploy event named it; it never passed a verification here


class FreezeView(RecordView):
    service: str
    environment: str
    reason: str
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None


class FreezePage(BaseModel):
    items: list[FreezeView]
