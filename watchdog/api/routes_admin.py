"""The admin API (bearer WATCHDOG_ADMIN_TOKEN): manual rollback, promote, and freezes.

Operator actions go through the engine, so its guard rails apply to people as they do to the daemon.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from watchdog.api.deps import AdminDep, RuntimeDep, in_thread
from watchdog.api.errors import ERROR_RESPONSES, refuse
from watchdog.api.views import ErrorBody, FreezePage, FreezeView, RollbackView, StateBody
from watchdog.clock import utc

Responses = dict[int | str, dict[str, Any]]

_AUTH: Responses = {
    401: {"model": ErrorBody, "description": "no bearer token"},
    403: {"model": ErrorBody, "description": "wrong token, or the admin API is disabled"},
}
_NOT_FOUND: Responses = {404: {"model": ErrorBody, "description": "not_found"}}
_CONFLICT: Responses = {
    409: {"model": ErrorBody, "description": "refused by a guard rail or the current state"}
}

router = APIRouter(tags=["admin"], responses={**ERROR_RESPONSES, **_AUTH})


class RollbackRequest(BaseModel):
    reason: str = Field("manual rollback through the API", min_length=1, max_length=2000)


class FreezeRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    expires_at: datetime | None = Field(None, description="ISO 8601; the freeze lifts itself then")


@router.post(
    "/v1/deployments/{deployment_id}/rollback",
    status_code=202,
    response_model=RollbackView,
    responses={**_NOT_FOUND, **_CONFLICT},
)
async def rollback(
    deployment_id: str, runtime: RuntimeDep, by: AdminDep, body: RollbackRequest | None = None
) -> RollbackView:
    reason = (body or RollbackRequest()).reason
    row = await runtime.engine.request_rollback(deployment_id, by=by, reason=reason)
    return RollbackView.of(row)


@router.post(
    "/v1/deployments/{deployment_id}/promote",
    response_model=StateBody,
    responses={**_NOT_FOUND, **_CONFLICT},
)
async def promote(deployment_id: str, runtime: RuntimeDep, by: AdminDep) -> StateBody:
    row = await runtime.engine.promote(deployment_id, by=by)
    return StateBody(deployment_id=row.deployment_id, state=row.state)


@router.get("/v1/freezes", response_model=FreezePage)
async def list_freezes(runtime: RuntimeDep, by: AdminDep) -> FreezePage:
    rows = await in_thread(runtime.store.list_freezes, now=runtime.clock.now())
    return FreezePage(items=[FreezeView.of(r) for r in rows])


@router.put(
    "/v1/freezes/{service}/{environment}",
    response_model=FreezeView,
    responses={404: {"model": ErrorBody, "description": "unknown_service, unknown_environment"}},
)
async def put_freeze(
    service: str, environment: str, body: FreezeRequest, runtime: RuntimeDep, by: AdminDep
) -> FreezeView:
    policies = runtime.policies.current
    # A typo would freeze nothing and look as if it worked: no policy, no such freeze to set.
    if policies.policy(service, environment) is None:
        code = "unknown_environment" if service in policies.services else "unknown_service"
        raise refuse(404, code, f"no policy for {service} in {environment}")
    expires = utc(body.expires_at) if body.expires_at else None
    now = runtime.clock.now()
    if expires is not None and expires <= now:
        raise refuse(422, "invalid_request", "expires_at: must be in the future")
    row = await in_thread(
        runtime.store.set_freeze,
        service=service,
        environment=environment,
        reason=body.reason,
        created_by=by,
        expires_at=expires,
        now=now,
    )
    return FreezeView.of(row)


@router.delete(
    "/v1/freezes/{service}/{environment}", status_code=204, response_class=Response, responses=_NOT_FOUND
)
async def delete_freeze(service: str, environment: str, runtime: RuntimeDep, by: AdminDep) -> Response:
    deleted = await in_thread(runtime.store.delete_freeze, service=service, environment=environment)
    if not deleted:
        raise refuse(404, "not_found", f"{service} in {environment} is not frozen")
    return Response(status_code=204)
