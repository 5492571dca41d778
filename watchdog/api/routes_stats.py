"""The ledger over HTTP: GET /v1/stats?since=30d, ledger gauges for /metrics, and the rollback review.

An operator marks a rollback "unneeded" (admin token); the ledger counts those as false rollbacks.
"""

from __future__ import annotations

import weakref
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from prometheus_client import CollectorRegistry, Gauge
from pydantic import BaseModel, Field

from watchdog.api.deps import AdminDep, RuntimeDep, in_thread
from watchdog.api.errors import ERROR_RESPONSES, refuse
from watchdog.api.views import ErrorBody, RecordView
from watchdog.engine.runtime import Runtime
from watchdog.policy.durations import parse_duration
from watchdog.store.stats_repo import LedgerRow, NotRolledBack, percentile

router = APIRouter(tags=["stats"], responses=ERROR_RESPONSES)
METRICS_WINDOW = "30d"
_MAX_SINCE_S = 400 * 86400.0


class LedgerView(RecordView):
    service: str
    environment: str
    deploys: int = Field(description="deploys that landed in the period (redeploys of rollbacks excluded)")
    decided: int = Field(description="deploys with a verdict: passed, failed, inconclusive, or promoted")
    failed: int
    inconclusive: int
    change_failure_rate: float | None = Field(description="failed / decided; null with nothing decided")
    automatic_rollbacks: int
    manual_rollbacks: int
    refused_rollbacks: int = Field(description="automatic rollbacks a guard rail refused")
    rollbacks_failed: int
    rollbacks_unneeded: int = Field(description="rollbacks an operator marked unneeded")
    false_rollback_rate: float | None = Field(description="unneeded / rollbacks acted on")
    recovery_p50_s: float | None = Field(description="bad deploy landed -> rollback verified, median")
    recovery_p90_s: float | None
    recoveries: int

    @classmethod
    def derived(cls, record: Any) -> dict[str, Any]:
        r: LedgerRow = record
        return {
            "rollbacks_unneeded": r.unneeded,
            "recovery_p50_s": percentile(r.recovery_s, 0.5),
            "recovery_p90_s": percentile(r.recovery_s, 0.9),
            "recoveries": len(r.recovery_s),
        }


class StatsBody(BaseModel):
    since: datetime
    until: datetime
    items: list[LedgerView]


class ReviewRequest(BaseModel):
    unneeded: bool = Field(True, description="true: the rollback was not needed (a false rollback)")
    reason: str = Field("", max_length=2000)


class ReviewView(RecordView):
    deployment_id: str
    unneeded: bool
    reason: str
    reviewed_by: str | None
    reviewed_at: datetime


def parse_since(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise refuse(422, "invalid_request", f"since: {exc}") from None
    if seconds <= 0 or seconds > _MAX_SINCE_S:
        raise refuse(422, "invalid_request", "since: must be between 1s and 400d")
    return seconds


async def ledger(
    runtime: Runtime, *, since_s: float, service: str | None = None, environment: str | None = None
) -> StatsBody:
    now = runtime.clock.now()
    since = now - timedelta(seconds=since_s)
    found = await in_thread(runtime.store.ledger, since=since, service=service, environment=environment)
    return StatsBody(since=since, until=now, items=[LedgerView.of(r) for r in found])


@router.get("/v1/stats", response_model=StatsBody)
async def stats(
    runtime: RuntimeDep,
    since: Annotated[str, Query(max_length=20, description="a duration back from now: 30d, 12h")] = "30d",
    service: Annotated[str | None, Query(max_length=100)] = None,
    environment: Annotated[str | None, Query(max_length=100)] = None,
) -> StatsBody:
    return await ledger(runtime, since_s=parse_since(since), service=service, environment=environment)


@router.put(
    "/v1/deployments/{deployment_id}/rollback-review",
    response_model=ReviewView,
    tags=["admin"],
    responses={
        404: {"model": ErrorBody, "description": "not_found"},
        409: {"model": ErrorBody, "description": "not_rolled_back"},
    },
)
async def review_rollback(
    deployment_id: str, runtime: RuntimeDep, by: AdminDep, body: ReviewRequest | None = None
) -> ReviewView:
    req = body or ReviewRequest()
    await in_thread(runtime.store.get_deployment, deployment_id)  # 404 first
    try:
        row = await in_thread(
            runtime.store.review_rollback,
            deployment_id=deployment_id,
            unneeded=req.unneeded,
            reason=req.reason,
            by=by,
            now=runtime.clock.now(),
        )
    except NotRolledBack:
        raise refuse(
            409, "not_rolled_back", "no rollback acted on this deployment; nothing to review"
        ) from None
    return ReviewView.of(row)


class _LedgerGauges:
    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["service", "environment", "window"]

        def gauge(name: str, text: str) -> Gauge:
            return Gauge(f"watchdog_ledger_{name}", text, labels, registry=registry)

        self.deploys = gauge("deploys", "Deploys that landed in the window")
        self.cfr = gauge("change_failure_rate", "Failed / decided deploys in the window")
        self.auto = gauge("automatic_rollbacks", "Automatic rollbacks acted on in the window")
        self.unneeded = gauge("rollbacks_unneeded", "Rollbacks an operator marked unneeded")
        self.p50 = gauge("recovery_p50_seconds", "Bad deploy to verified rollback, median")
        self.p90 = gauge("recovery_p90_seconds", "Bad deploy to verified rollback, 90th percentile")
        self.all = (self.deploys, self.cfr, self.auto, self.unneeded, self.p50, self.p90)


_GAUGES: weakref.WeakKeyDictionary[CollectorRegistry, _LedgerGauges] = weakref.WeakKeyDictionary()


async def refresh_ledger_gauges(runtime: Runtime) -> None:
    """Called by /metrics before it renders: one ledger query per scrape, over the last 30 days."""
    registry = runtime.metrics.registry
    g = _GAUGES.get(registry)
    if g is None:
        g = _GAUGES[registry] = _LedgerGauges(registry)
    body = await ledger(runtime, since_s=parse_duration(METRICS_WINDOW))
    for gauge in g.all:
        gauge.clear()  # a pair that had no deploy in the window drops out instead of going stale
    for r in body.items:
        key = (r.service, r.environment, METRICS_WINDOW)
        g.deploys.labels(*key).set(r.deploys)
        g.auto.labels(*key).set(r.automatic_rollbacks)
        g.unneeded.labels(*key).set(r.rollbacks_unneeded)
        if r.change_failure_rate is not None:
            g.cfr.labels(*key).set(r.change_failure_rate)
        if r.recovery_p50_s is not None and r.recovery_p90_s is not None:
            g.p50.labels(*key).set(r.recovery_p50_s)
            g.p90.labels(*key).set(r.recovery_p90_s)
