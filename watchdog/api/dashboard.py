"""The dashboard: server-rendered pages (list, one page per deployment, the ledger) that JavaScript refreshes.

Every page works without JavaScript; the script swaps in fresh fragments and carries the admin token in a
header for operator actions (never a cookie, so no cross-site request can act).
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from watchdog.api.deps import RuntimeDep, in_thread
from watchdog.api.errors import refuse
from watchdog.api.pages import STATES, chart, deployment_context, list_row, utc
from watchdog.api.routes_deployments import page_of_deployments
from watchdog.api.routes_stats import ledger, parse_since
from watchdog.engine.runtime import Runtime
from watchdog.events import State
from watchdog.looplag import LAG_BOUND_S
from watchdog.redact import redact

router = APIRouter(include_in_schema=False)
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("watchdog.api", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ASSETS = {"dashboard.css": "text/css; charset=utf-8", "dashboard.js": "text/javascript; charset=utf-8"}
_NO_STORE = {"Cache-Control": "no-store"}
PERIODS = ("1d", "7d", "30d", "90d", "365d")


def render(name: str, runtime: Runtime, **context: Any) -> str:
    # Every page shows a refused policy reload: the same line as /readyz's policy_reload_error.
    refused = runtime.policies.failure_summary()
    return _ENV.get_template(name).render(
        states=STATES,
        now=utc(runtime.clock.now()),
        reload_error=redact(refused) if refused else None,
        **context,
    )


def _page(html: str) -> HTMLResponse:
    return HTMLResponse(html, headers=_NO_STORE)


@router.get("/", response_class=HTMLResponse)
async def deployments_page(
    runtime: RuntimeDep,
    service: Annotated[str | None, Query(max_length=100)] = None,
    environment: Annotated[str | None, Query(max_length=100)] = None,
    state: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    partial: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    # An empty form field means "any", as a browser submits it.
    service, environment, state = service or None, environment or None, state or None
    if state is not None and state not in {s.value for s in State}:
        raise refuse(422, "invalid_request", f"state: not a lifecycle state: {state}")
    page, next_cursor = await page_of_deployments(
        runtime,
        service=service,
        environment=environment,
        state=state,
        limit=limit,
        cursor=cursor or None,
        bad_cursor="cursor: not one this dashboard gave out",
    )
    rows = [list_row(d, v) for d, v in page]
    if partial == "rows":
        return _page(render("_rows.html.j2", runtime, rows=rows))
    filters = {k: v for k, v in {"service": service, "environment": environment, "state": state}.items() if v}
    counts = await in_thread(runtime.store.count_by_state)
    policies = runtime.policies.current
    environments = sorted({e for s in policies.services.values() for e in s.environments})
    html = render(
        "list.html.j2",
        runtime,
        nav="list",
        rows=rows,
        f={"service": service, "environment": environment, "state": state},
        shown=len(rows),
        counts=sorted(counts.items()),
        services=sorted(policies.services),
        environments=environments,
        live_url="/?" + urlencode({**filters, "limit": limit, "partial": "rows"}),
        next_url="/?" + urlencode({**filters, "cursor": next_cursor}) if next_cursor else None,
        **daemon_lag(runtime),
    )
    return _page(html)


def daemon_lag(runtime: Runtime) -> dict[str, Any]:
    """The event-loop lag line's values (_overload.html.j2); None when no engine runs in this process."""
    monitor = getattr(runtime.engine, "looplag", None)
    lag = None if monitor is None else monitor.recent_max(60.0)
    return {"daemon_lag": lag, "lag_bound": LAG_BOUND_S}


async def _loaded(runtime: Runtime, deployment_id: str) -> dict[str, Any]:
    detail = await in_thread(runtime.store.deployment_detail, deployment_id)
    d = detail.deployment
    previous = await in_thread(
        runtime.store.rollback_candidate,
        service=d.service,
        environment=d.environment,
        exclude_artifact=d.artifact,
    )
    return {
        "detail": detail,
        "previous": previous,
        "now": runtime.clock.now(),
        "sources": dict(runtime.policies.current.daemon.sources),
    }


@router.get("/deployments/{deployment_id}", response_class=HTMLResponse)
async def deployment_page(deployment_id: str, runtime: RuntimeDep) -> HTMLResponse:
    context = deployment_context(**await _loaded(runtime, deployment_id))
    return _page(render("deployment.html.j2", runtime, nav="deployment", **context))


@router.get("/deployments/{deployment_id}/live", response_class=HTMLResponse)
async def deployment_live(deployment_id: str, runtime: RuntimeDep) -> HTMLResponse:
    context = deployment_context(**await _loaded(runtime, deployment_id))
    return _page(render("_live.html.j2", runtime, **context))


@router.get("/deployments/{deployment_id}/charts/{index}.svg")
async def deployment_chart(deployment_id: str, index: int, runtime: RuntimeDep) -> Response:
    svg = chart(index=index, **await _loaded(runtime, deployment_id))
    if svg is None:
        raise refuse(404, "not_found", f"deployment {deployment_id} has no check number {index}")
    return Response(svg, media_type="image/svg+xml", headers=_NO_STORE)


@router.get("/ledger", response_class=HTMLResponse)
async def ledger_page(
    runtime: RuntimeDep, since: Annotated[str, Query(max_length=20)] = "30d"
) -> HTMLResponse:
    body = await ledger(runtime, since_s=parse_since(since))
    view = {
        "rows": body.items,
        "since_text": utc(body.since),
        "until_text": utc(body.until),
    }
    periods = PERIODS if since in PERIODS else (*PERIODS, since)
    return _page(render("ledger.html.j2", runtime, nav="ledger", body=view, since=since, periods=periods))


@router.get("/dashboard/banner", response_class=HTMLResponse)
async def banner(runtime: RuntimeDep) -> HTMLResponse:
    """The refused-reload banner alone, for the pages' live updates to swap in."""
    return _page(render("_banner.html.j2", runtime))


@router.get("/dashboard/assets/{name}")
def asset(name: str) -> Response:
    media = _ASSETS.get(name)
    if media is None:
        raise refuse(404, "not_found", f"no asset {name}")
    text = resources.files("watchdog.api").joinpath(f"static/{name}").read_text(encoding="utf-8")
    return Response(text, media_type=media, headers={"Cache-Control": "no-cache"})
