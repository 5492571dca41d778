"""/healthz (the process answers), /readyz (store and policies usable) and /metrics (Prometheus).

/healthz never calls anything upstream: a slow database must not get a live process restarted.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from watchdog.api.deps import RuntimeDep, in_thread
from watchdog.api.routes_stats import refresh_ledger_gauges
from watchdog.events import State

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    ready: bool
    reasons: list[str]


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Ready,
    responses={503: {"model": Ready, "description": "not ready, with the reasons"}},
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    reasons: list[str] = []
    if not await in_thread(runtime.store.ping):
        reasons.append("the state store does not answer")
    # A PolicyHolder always holds the last valid set; one with no services can verify nothing.
    if not runtime.policies.current.services:
        reasons.append("no service policies loaded (config/services/*.yaml)")
    ready = Ready(ready=not reasons, reasons=reasons)
    return JSONResponse(ready.model_dump(), status_code=200 if ready.ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text exposition", "content": {"text/plain": {}}}},
)
async def metrics(runtime: RuntimeDep) -> Response:
    # One GROUP BY per scrape: cheap, and the gauge is never stale between engine ticks.
    counts = await in_thread(runtime.store.count_by_state)
    for state in State:
        runtime.metrics.verifications.labels(state.value).set(counts.get(state.value, 0))
    await refresh_ledger_gauges(runtime)
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
