"""GET /v1/gates/{service}/{environment}?artifact=: the pre-deployment checklist for this artifact there.

200 when allowed, 409 when refused; the same JSON shape either way, every item with its status and reason.
What the CI knows comes as query parameters, or from the events of earlier deploys of the same artifact.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from watchdog.api.deps import RuntimeDep, in_thread
from watchdog.api.errors import ERROR_RESPONSES
from watchdog.engine.gate import GateFacts, evaluate_gate
from watchdog.redact import redact

router = APIRouter(tags=["gates"], responses=ERROR_RESPONSES)

CiStatus = Literal["success", "failure", "pending"]


class GateCheckView(BaseModel):
    name: str = Field(
        description="policy, verified, tests, lint, changelog, migration, rollback_plan, not_frozen, not_bad"
    )
    ok: bool = Field(description="false only for an item that fails and is required")
    status: Literal["pass", "fail", "not_required"]
    required: bool = Field(description="whether gate.require (or the gate itself) insists on this item")
    reason: str


class GateView(BaseModel):
    allowed: bool
    service: str
    environment: str
    artifact: str
    first_deploy: bool = Field(description="no deploy of the service to this environment is recorded yet")
    checks: list[GateCheckView]


@router.get(
    "/v1/gates/{service}/{environment}",
    response_model=GateView,
    responses={
        200: {"model": GateView, "description": "allowed"},
        409: {"model": GateView, "description": "refused: the failing checks say why"},
    },
)
async def gate(
    service: str,
    environment: str,
    runtime: RuntimeDep,
    artifact: Annotated[str, Query(min_length=1, max_length=1000, description="exact artifact (digest)")],
    ci_status: Annotated[CiStatus | None, Query(description="the tests of this artifact's CI run")] = None,
    lint_status: Annotated[CiStatus | None, Query(description="the lint of this artifact's CI run")] = None,
    changelog_url: Annotated[str | None, Query(max_length=2000, description="for this version")] = None,
    migration: Annotated[bool | None, Query(description="this deploy carries a data migration")] = None,
    migration_tested: Annotated[bool | None, Query(description="the migration was tested")] = None,
    rollback_plan: Annotated[
        str | None, Query(max_length=2000, description="URL or note: how to undo a first deploy")
    ] = None,
) -> JSONResponse:
    facts = GateFacts(
        ci_status=ci_status,
        lint_status=lint_status,
        changelog_url=changelog_url or None,
        migration=migration,
        migration_tested=migration_tested,
        rollback_plan=rollback_plan or None,
    )
    result = await in_thread(
        evaluate_gate,
        store=runtime.store,
        policies=runtime.policies.current,
        service=service,
        environment=environment,
        artifact=artifact,
        now=runtime.clock.now(),
        facts=facts,
    )
    view = GateView(
        allowed=result.allowed,
        service=service,
        environment=environment,
        artifact=artifact,
        first_deploy=result.first_deploy,
        checks=[
            # A reason can quote what a pipeline sent (a rollback plan, a URL): known secrets never show.
            GateCheckView(name=c.name, ok=c.ok, status=c.status, required=c.required, reason=redact(c.reason))
            for c in result.checks
        ],
    )
    return JSONResponse(view.model_dump(mode="json"), status_code=200 if result.allowed else 409)
