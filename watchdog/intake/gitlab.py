"""`POST /v1/webhooks/gitlab`: a Deployment Hook of status `success` starts a verification.

Authenticated by the X-Gitlab-Token shared secret; X-Gitlab-Event-UUID is the idempotency key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from watchdog.intake.base import Delivery, Intake, obj, parser, str_labels, text
from watchdog.intake.body import build_event, parse_object
from watchdog.intake.ci_facts import CiRun, gitlab_status
from watchdog.intake.headers import require_header
from watchdog.intake.signatures import verify_token

SOURCE = "gitlab"

PATHS = {
    "service": "project.path_with_namespace (last segment; or ?service=)",
    "environment": "environment",
    "version": "short_sha",
    "artifact": "commit_url (last segment)",
    "commit": "commit_url (last segment)",
    "deployer": "user.username",
    "changelog_url": "commit_url",
}


@parser(route="POST /v1/webhooks/gitlab", setting="WATCHDOG_GITLAB_WEBHOOK_TOKEN", paths=PATHS)
def parse(d: Delivery) -> Intake:
    verify_token(given=d.headers.get("x-gitlab-token"), expected=d.secret, header="X-Gitlab-Token")
    # GitLab >= 17.4 also sends Idempotency-Key; the event UUID is there on every version we know.
    delivery = d.headers.get("x-gitlab-event-uuid") or require_header(d.headers, "X-Gitlab-Event-UUID")
    data = parse_object(d.body)
    kind = text(data, "object_kind")
    if kind == "pipeline":
        return _pipeline(data, delivery=delivery, query=d.query)
    if kind != "deployment":
        reason = f"object_kind {kind} is not used: only deployment success starts a verification"
        return Intake(source=SOURCE, delivery_id=delivery, event=None, ignored_reason=reason)
    status = text(data, "status")
    if status != "success":
        reason = f"status is {status}: only success starts a verification"
        return Intake(source=SOURCE, delivery_id=delivery, event=None, ignored_reason=reason)
    return Intake(source=SOURCE, delivery_id=delivery, event=build_event(_fields(data, d.query), paths=PATHS))


def _fields(data: Mapping[str, Any], query: Mapping[str, str]) -> dict[str, Any]:
    project = obj(data, "project")
    path = text(project, "path_with_namespace") or ""
    commit_url = text(data, "commit_url")
    # GitLab sends only short_sha; the full SHA is the last path segment of commit_url.
    full_sha = commit_url.rstrip("/").rsplit("/", 1)[-1] if commit_url else None
    short_sha = text(data, "short_sha")
    fields: dict[str, Any] = {
        "service": query.get("service") or (path.rsplit("/", 1)[-1].lower() or None),
        "environment": data.get("environment"),
        "version": short_sha or (full_sha[:8] if full_sha else None),
        "artifact": full_sha or short_sha,
        "commit": full_sha,
        "deployer": text(obj(data, "user"), "username"),
        "changelog_url": commit_url,
        "labels": str_labels(
            {
                "gitlab_project": path,
                "gitlab_deployment_id": data.get("deployment_id"),
                "environment_tier": text(data, "environment_tier"),
                "ref": text(data, "ref"),
                "commit_title": text(data, "commit_title"),
                "deployable_url": text(data, "deployable_url"),
            }
        ),
    }
    return {k: v for k, v in fields.items() if v is not None}


def _service(data: Mapping[str, Any], query: Mapping[str, str]) -> str | None:
    path = text(obj(data, "project"), "path_with_namespace") or ""
    return query.get("service") or (path.rsplit("/", 1)[-1].lower() or None)


def _pipeline(data: Mapping[str, Any], *, delivery: str, query: Mapping[str, str]) -> Intake:
    """A Pipeline Hook: a finished pipeline's status is recorded for the gate; nothing is verified."""
    attrs = obj(data, "object_attributes")
    status, sha, service = text(attrs, "status"), text(attrs, "sha"), _service(data, query)
    mapped = gitlab_status(status)
    if mapped is None or not sha or not service:
        reason = f"pipeline status {status}: only a finished pipeline (success, failed, canceled) is recorded"
        return Intake(source=SOURCE, delivery_id=delivery, event=None, ignored_reason=reason)
    run = CiRun(service=service, commit=sha, status=mapped, ref=text(attrs, "ref"), url=text(attrs, "url"))
    reason = f"pipeline {status} for {service} at {sha[:12]}: recorded for the gate, no deploy to verify"
    return Intake(source=SOURCE, delivery_id=delivery, event=None, ignored_reason=reason, ci_run=run)
