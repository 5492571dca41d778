"""What POST /v1/deployments/{id}/rollback|promote and GET /v1/requests/{id} answer: one operator request.

The request is carried out by whichever replica holds the deployment's lease; `url` follows it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from watchdog.api.views import Redacted, RollbackView, same_fields
from watchdog.store.records import OperatorRequestRow, RollbackRow


class RequestView(BaseModel):
    id: str = Field(description="the request's id (also request_id)")
    request_id: str
    kind: str = Field(description="rollback | promote")
    deployment_id: str
    state: str = Field(description="pending | running | done | refused | failed")
    reason: Redacted
    requested_by: str | None
    received_by: str | None = Field(description="the instance that recorded the request")
    handled_by: str | None = Field(description="the instance (lease holder) that carried it out")
    error: str | None = Field(description="the refusal's code when refused or failed")
    detail: Redacted = Field(description="what was done, or why not")
    created_at: datetime
    finished_at: datetime | None
    url: str = Field(description="GET this to follow the request")
    deployment_url: str
    deployment_state: str | None = Field(None, description="the deployment's state when this was answered")
    rollback: RollbackView | None = Field(None, description="the rollback this request made, once made")
    to_version: str | None = Field(None, description="the version a rollback restores, once known")

    @classmethod
    def of(
        cls, r: OperatorRequestRow, *, rollback: RollbackRow | None, deployment_state: str | None
    ) -> RequestView:
        derived = {
            "request_id": r.id,
            "url": f"/v1/requests/{r.id}",
            "deployment_url": f"/v1/deployments/{r.deployment_id}",
            "deployment_state": deployment_state,
            "rollback": RollbackView.of(rollback) if rollback else None,
            "to_version": rollback.to_version if rollback else None,
        }
        return cls.model_validate(same_fields(cls, r) | derived)
