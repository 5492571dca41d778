"""The admin API (bearer WATCHDOG_ADMIN_TOKEN): manual rollback, promote (as requests), and freezes.

Operator actions go through the engine on the lease holder, so its guard rails apply to people too.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from watchdog.api.deps import AdminDep, RuntimeDep, in_thread
from watchdog.api.errors import ERROR_RESPONSES, refuse
from watchdog.api.views import ErrorBody, FreezePage, FreezeView
from watchdog.api.views_requests import RequestView
from watchdog.clock import utc
from watchdog.engine.runtime import Runtime
from watchdog.store.records import OperatorRequestRow
from watchdog.store.request_repo import OPEN

Responses = dict[int | str, dict[str, Any]]

_AUTH: Responses = {
    401: {"model": ErrorBody, "description": "no bearer token"},
    403: {"model": ErrorBody, "description": "wrong token, or the admin API is disabled"},
}
_NOT_FOUND: Responses = {404: {"model": ErrorBody, "description": "not_found"}}
_CONFLICT: Responses = {
    409: {"model": ErrorBody, "description": "refused by a guard rail or the current state"}
}

_UNAVAILABLE: Responses = {
    503: {"model": ErrorBody, "description": "store_unavailable: nothing was recorded (see Retry-After)"}
}
# How long a POST waits for the lease holder's outcome before answering 202 with the request to follow.
WAIT_S = 5.0
_REQUEST_DOC = """Recorded as a request that the replica holding the deployment's lease carries out (any
replica may be asked). The answer waits up to a few seconds for the outcome: 202 with the request (`state`
done, or pending/running with `url` to follow), 409 when a guard rail or the deployment's state refuses it.
Asking again while a request of the same kind is open answers that request."""

router = APIRouter(tags=["admin"], responses={**ERROR_RESPONSES, **_AUTH})


class RollbackRequest(BaseModel):
    reason: str = Field("manual rollback through the API", min_length=1, max_length=2000)


class FreezeRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    expires_at: datetime | None = Field(None, description="ISO 8601; the freeze lifts itself then")


@router.post(
    "/v1/deployments/{deployment_id}/rollback",
    status_code=202,
    response_model=RequestView,
    responses={**_NOT_FOUND, **_CONFLICT, **_UNAVAILABLE},
    description=_REQUEST_DOC,
)
async def rollback(
    deployment_id: str,
    runtime: RuntimeDep,
    by: AdminDep,
    response: Response,
    body: RollbackRequest | None = None,
) -> RequestView:
    reason = (body or RollbackRequest()).reason
    return await _ask(runtime, response, deployment_id=deployment_id, kind="rollback", by=by, reason=reason)


@router.post(
    "/v1/deployments/{deployment_id}/promote",
    status_code=202,
    response_model=RequestView,
    responses={**_NOT_FOUND, **_CONFLICT, **_UNAVAILABLE},
    description=_REQUEST_DOC,
)
async def promote(deployment_id: str, runtime: RuntimeDep, by: AdminDep, response: Response) -> RequestView:
    return await _ask(runtime, response, deployment_id=deployment_id, kind="promote", by=by, reason="")


@router.get("/v1/requests/{request_id}", response_model=RequestView, responses=_NOT_FOUND)
async def get_request(request_id: str, runtime: RuntimeDep, by: AdminDep) -> RequestView:
    row = await in_thread(runtime.store.get_request, request_id)
    return await _view(runtime, row)


async def _ask(
    runtime: Runtime, response: Response, *, deployment_id: str, kind: str, by: str, reason: str
) -> RequestView:
    """Records the request, lets the local worker try at once, and waits a moment for its outcome."""
    row, _new = await in_thread(
        runtime.store.create_request,
        deployment_id=deployment_id,
        kind=kind,
        reason=reason,
        requested_by=by,
        received_by=runtime.settings.engine.instance_id,
        now=runtime.clock.now(),
    )
    worker = getattr(runtime.engine, "requests", None)
    if worker is not None:
        worker.wake()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    pause = 0.02
    # Whoever holds the lease (this replica or another) finishes most requests within a tick; polling the
    # row is what works across replicas. Past the wait the caller gets 202 and follows `url`.
    while row.state in OPEN and loop.time() < deadline:
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.25)
        row = await in_thread(runtime.store.get_request, row.id)
    if row.state == "refused":
        raise refuse(409, row.error or f"{kind}_refused", row.detail)
    if row.state == "failed" and row.error == "not_found":
        raise refuse(404, "not_found", row.detail)
    response.headers["Location"] = f"/v1/requests/{row.id}"
    return await _view(runtime, row)


async def _view(runtime: Runtime, row: OperatorRequestRow) -> RequestView:
    rollback = await in_thread(runtime.store.get_rollback, row.rollback_id) if row.rollback_id else None
    v = await in_thread(runtime.store.deploy_verification, row.deployment_id)
    return RequestView.of(row, rollback=rollback, deployment_state=v.state)


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
