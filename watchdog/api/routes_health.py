"""/healthz (the process answers), /readyz (store writable and policies loaded) and /metrics (Prometheus).

/healthz never calls anything upstream: a slow database must not get a live process restarted.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from watchdog.api.deps import RuntimeDep, in_thread
from watchdog.api.routes_stats import refresh_ledger_gauges
from watchdog.events import State
from watchdog.looplag import LAG_BOUND_S
from watchdog.policy.reload import reload_exposition
from watchdog.sources.unavailable import degraded as degraded_sources

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class DegradedSource(BaseModel):
    name: str
    reason: str = Field(description="why it stands in, e.g. the environment variable to set")


class Ready(BaseModel):
    ready: bool
    policy_reload_error: str | None = None  # the last reload was refused; the previous policies still run
    reasons: list[str]
    degraded_sources: list[DegradedSource] = Field(
        default_factory=list,
        description="sources whose secret was missing: their checks are inconclusive (ready stays true)",
    )
    event_loop_lag_s: float | None = Field(
        None, description="the worst event-loop lag of the last minute (None when no engine runs here)"
    )
    overloaded: str | None = Field(
        None, description="degraded: the daemon cannot keep up (ready stays true; add a replica)"
    )


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
    # The daemon's probe keeps this fresh every tick; only a stale finding (no probe running) costs a query.
    problem = await in_thread(
        runtime.store.health.current, max_age=2 * runtime.settings.engine.tick_seconds + 1
    )
    if problem is not None:
        reasons.append(problem)
    # A PolicyHolder always holds the last valid set; one with no services can verify nothing.
    if not runtime.policies.current.services:
        reasons.append("no service policies loaded (config/services/*.yaml)")
    refused = runtime.policies.failure_summary()
    # Engines without sources (the API tests' doubles) have nothing degraded to show.
    sources = getattr(runtime.engine, "sources", {})
    degraded = [DegradedSource(name=n, reason=r) for n, r in degraded_sources(sources).items()]
    ready = Ready(ready=not reasons, reasons=reasons, policy_reload_error=refused, degraded_sources=degraded)
    monitor = getattr(runtime.engine, "looplag", None)
    if monitor is not None:
        lag = ready.event_loop_lag_s = round(monitor.recent_max(60.0), 3)
        if lag > LAG_BOUND_S:
            ready.overloaded = f"watchdog overloaded: event loop lagged {lag:.1f} s in the last minute"
    return JSONResponse(ready.model_dump(exclude_none=True), status_code=200 if ready.ready else 503)


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
    text = generate_latest(runtime.metrics.registry) + reload_exposition(runtime.policies)
    return Response(text, media_type=CONTENT_TYPE_LATEST)
