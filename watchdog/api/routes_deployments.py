"""GET /v1/deployments (filters, newest first, cursor pagination) and GET /v1/deployments/{id}.

Read-only; every store call runs in a worker thread.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from watchdog.api.deps import RuntimeDep, in_thread
from watchdog.api.errors import ERROR_RESPONSES, refuse
from watchdog.api.views import DeploymentPage, DeploymentSummary, ErrorBody
from watchdog.api.views_deployment import DeploymentView, deployment_view
from watchdog.engine.runtime import Runtime
from watchdog.errors import StoreError
from watchdog.events import State
from watchdog.store.read_repo import Page, decode_cursor

router = APIRouter(tags=["deployments"], responses=ERROR_RESPONSES)


async def page_of_deployments(
    runtime: Runtime,
    *,
    service: str | None,
    environment: str | None,
    state: str | None,
    limit: int,
    cursor: str | None,
    bad_cursor: str,
) -> Page:
    """One page of deployments, newest first; a cursor we never gave out is a 400 saying `bad_cursor`."""
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except StoreError:
            raise refuse(400, "bad_cursor", bad_cursor) from None
    return await in_thread(
        runtime.store.list_deployments,
        service=service,
        environment=environment,
        state=state,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/v1/deployments",
    response_model=DeploymentPage,
    responses={400: {"model": ErrorBody, "description": "bad_cursor"}},
)
async def list_deployments(
    runtime: RuntimeDep,
    service: Annotated[str | None, Query(max_length=100)] = None,
    environment: Annotated[str | None, Query(max_length=100)] = None,
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=500, description="next_cursor of the previous page")
    ] = None,
) -> DeploymentPage:
    page, next_cursor = await page_of_deployments(
        runtime,
        service=service,
        environment=environment,
        state=state.value if state else None,
        limit=limit,
        cursor=cursor,
        bad_cursor="cursor: not a next_cursor this API gave out",
    )
    return DeploymentPage(items=[DeploymentSummary.of(d, v) for d, v in page], next_cursor=next_cursor)


@router.get(
    "/v1/deployments/{deployment_id}",
    response_model=DeploymentView,
    responses={404: {"model": ErrorBody, "description": "not_found"}},
)
async def get_deployment(deployment_id: str, runtime: RuntimeDep) -> DeploymentView:
    store = runtime.store
    detail = await in_thread(store.deployment_detail, deployment_id)
    d = detail.deployment
    previous = await in_thread(
        store.rollback_candidate, service=d.service, environment=d.environment, exclude_artifact=d.artifact
    )
    return deployment_view(detail, previous_stable=previous)
