"""`POST /v1/backtests` (admin) runs a backtest in the background; `GET /v1/backtests/{id}` shows its result.

Results live in the process (the newest 20), like a CLI run's output: the store holds what they are made of.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from watchdog.api.deps import AdminDep, RuntimeDep, in_thread
from watchdog.api.errors import ERROR_RESPONSES, refuse
from watchdog.errors import ConfigError

_KEEP = 20
router = APIRouter(tags=["admin"], responses=ERROR_RESPONSES)


class BacktestRequest(BaseModel):
    service: str = Field(min_length=1, max_length=200)
    environment: str = Field(min_length=1, max_length=200)
    since: str = Field("30d", description="deploys from the store this far back, when `deploys` is not given")
    deploys: list[dict[str, Any]] | None = Field(
        None,
        max_length=10000,
        description="as a deploys file's lines: version, deployed_at, artifact?, label?",
    )


@dataclass
class Job:
    id: str
    request: BacktestRequest
    state: str = "running"  # running | done | failed
    result: dict[str, Any] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            **self.request.model_dump(exclude={"deploys"}),
            **self.result,
        }


def _jobs(request: Request) -> OrderedDict[str, Job]:
    jobs: OrderedDict[str, Job] | None = getattr(request.app.state, "backtests", None)
    if jobs is None:
        jobs = OrderedDict()
        request.app.state.backtests = jobs
    return jobs


@router.post("/v1/backtests", status_code=202)
async def start_backtest(
    body: BacktestRequest, request: Request, runtime: RuntimeDep, _who: AdminDep
) -> dict[str, Any]:
    from watchdog.backtest.deploys import parse_deploy
    from watchdog.backtest.policyfile import load_policy
    from watchdog.policy.durations import parse_duration

    try:
        since = parse_duration(body.since)
    except ValueError as exc:
        raise refuse(422, "invalid_request", f"since: {exc}") from None
    deploys = None
    if body.deploys is not None:
        try:
            deploys = [parse_deploy(d) for d in body.deploys]
        except ValueError as exc:
            raise refuse(422, "invalid_request", f"deploys: {exc}") from None
    settings = runtime.settings
    try:
        await in_thread(
            load_policy, config=settings.files.config_dir, service=body.service, environment=body.environment
        )
    except ConfigError as exc:
        raise refuse(422, "invalid_request", exc.problems[0].message) from None
    job = Job(id=uuid.uuid4().hex, request=body)
    jobs = _jobs(request)
    jobs[job.id] = job
    while len(jobs) > _KEEP:
        jobs.popitem(last=False)
    job.task = asyncio.create_task(
        _run(job, settings=settings, since=timedelta(seconds=since), deploys=deploys)
    )
    return {"id": job.id, "state": job.state}


@router.get("/v1/backtests/{backtest_id}")
async def get_backtest(backtest_id: str, request: Request, _who: AdminDep) -> dict[str, Any]:
    job = _jobs(request).get(backtest_id)
    if job is None:
        raise refuse(
            404, "not_found", f"no backtest {backtest_id!r} (results are kept for the newest {_KEEP})"
        )
    return job.view()


async def _run(job: Job, *, settings: Any, since: timedelta, deploys: Any) -> None:
    from watchdog.backtest.output import row_json
    from watchdog.backtest.run import replay
    from watchdog.backtest.session import gather_history
    from watchdog.backtest.summary import summarize
    from watchdog.redact import redact

    try:
        history = await gather_history(
            settings=settings,
            service=job.request.service,
            environment=job.request.environment,
            candidate=None,
            since=since,
            deploys_file=None,
            deploys=deploys,
        )
        rows = await asyncio.to_thread(replay, history.prepared, history.policy)
        job.result = {"rows": [row_json(r) for r in rows], "summary": summarize(rows).to_json()}
        job.state = "done"
    except Exception as exc:  # a background job reports, it never takes the daemon down
        job.result = {"error": redact(str(exc))}
        job.state = "failed"
