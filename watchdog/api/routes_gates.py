"""GET /v1/gates/{service}/{environment}?artifact=: may this artifact be deployed there now?

200 when allowed, 409 when refused; the same JSON shape either way, every check with its reason.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from watchdog.api.deps import RuntimeDep, in_thread
from watchdog.api.errors import ERROR_RESPONSES
from watchdog.engine.gate import evaluate_gate

router = APIRouter(tags=["gates"], responses=ERROR_RESPONSES)


class GateCheckView(BaseModel):
    name: str
    ok: bool
    reason: str


class GateView(BaseModel):
    allowed: bool
    service: str
    environment: str
    artifact: str
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
) -> JSONResponse:
    result = await in_thread(
        evaluate_gate,
        store=runtime.store,
        policies=runtime.policies.current,
        service=service,
        environment=environment,
        artifact=artifact,
        now=runtime.clock.now(),
    )
    view = GateView(
        allowed=result.allowed,
        service=service,
        environment=environment,
        artifact=artifact,
        checks=[GateCheckView(name=c.name, ok=c.ok, reason=c.reason) for c in result.checks],
    )
    return JSONResponse(view.model_dump(mode="json"), status_code=200 if result.allowed else 409)
