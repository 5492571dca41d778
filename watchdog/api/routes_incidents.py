"""GET /v1/incidents and GET /v1/incidents/{id}: the post-mortem as Markdown, or HTML when asked.

The file is read from the reports directory; HTML comes from watchdog.reports.html when it exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from watchdog.api.deps import RuntimeDep, in_thread
from watchdog.api.errors import ERROR_RESPONSES, refuse
from watchdog.api.views import ErrorBody, IncidentPage, IncidentView

router = APIRouter(tags=["incidents"], responses=ERROR_RESPONSES)


@router.get("/v1/incidents", response_model=IncidentPage)
async def list_incidents(
    runtime: RuntimeDep,
    service: Annotated[str | None, Query(max_length=100)] = None,
    environment: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> IncidentPage:
    rows = await in_thread(
        runtime.store.list_incidents, service=service, environment=environment, limit=limit
    )
    return IncidentPage(items=[IncidentView.of(r) for r in rows])


def _wants_html(accept: str) -> bool:
    """text/html when the client ranks it above Markdown (browsers send text/html first)."""
    ranked: list[tuple[float, str]] = []
    for i, part in enumerate(accept.split(",")):
        media, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranked.append((q - i * 1e-6, media.strip().lower()))
    best = max(ranked, default=(0.0, ""))[1]
    return best in ("text/html", "application/xhtml+xml")


def to_html(markdown: str, *, charts_dir: Path, title: str) -> str:
    # Imported here: only HTML readers pay for the Markdown renderer.
    from watchdog.reports.html import markdown_to_html

    return markdown_to_html(markdown, charts_dir=charts_dir, title=title)


def report_path(stored: str, *, reports_dir: Path) -> Path:
    """The stored path is absolute, relative to the working directory, or a name in the reports dir."""
    path = Path(stored)
    if path.is_absolute() or path.exists():
        return path
    return reports_dir / path.name


@router.get(
    "/v1/incidents/{incident_id}",
    response_class=Response,
    responses={
        200: {
            "description": "the post-mortem: Markdown, or HTML with Accept: text/html",
            "content": {
                "text/markdown": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            },
        },
        404: {"model": ErrorBody, "description": "not_found"},
    },
)
async def get_incident(incident_id: str, request: Request, runtime: RuntimeDep) -> Response:
    incident = await in_thread(runtime.store.get_incident, incident_id)
    path = report_path(incident.path, reports_dir=runtime.settings.resolved_reports_dir)
    try:
        markdown = await in_thread(path.read_text, encoding="utf-8")
    except OSError:
        raise refuse(404, "not_found", f"the report file of incident {incident_id} is missing") from None
    if _wants_html(request.headers.get("accept", "")):
        html = await in_thread(to_html, markdown, charts_dir=path.parent, title=incident.title)
        return Response(html, media_type="text/html; charset=utf-8")
    return Response(markdown, media_type="text/markdown; charset=utf-8")
