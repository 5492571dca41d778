"""`POST /v1/webhooks/github`: a `deployment_status` of state `success` starts a verification.

Authenticated by X-Hub-Signature-256 over the raw body; X-GitHub-Delivery is the idempotency key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from watchdog.errors import IntakeError
from watchdog.intake.base import Delivery, Intake, obj, parser, str_labels, text
from watchdog.intake.body import build_event, parse_object
from watchdog.intake.ci_facts import github_facts
from watchdog.intake.fields import load_json
from watchdog.intake.headers import require_header
from watchdog.intake.refusals import invalid
from watchdog.intake.signatures import verify_github

SOURCE = "github"

# Where each event field came from, so a refusal names the sender's own path.
PATHS = {
    "service": "deployment.payload.service (or repository.name)",
    "environment": "deployment_status.environment",
    "version": "deployment.payload.version (or deployment.ref)",
    "artifact": "deployment.payload.artifact (or deployment.sha)",
    "previous_version": "deployment.payload.previous_version",
    "previous_artifact": "deployment.payload.previous_artifact",
    "commit": "deployment.sha",
    "deployer": "deployment_status.creator.login",
    "rollback_safe": "deployment.payload.rollback_safe",
    "is_rollback": "deployment.payload.is_rollback",
    "labels": "deployment.payload.labels",
    "ci_status": "deployment.payload.ci_status (or check_run / workflow_run conclusion)",
    "lint_status": "deployment.payload.lint_status",
    "migration": "deployment.payload.migration",
    "migration_tested": "deployment.payload.migration_tested",
    "rollback_plan": "deployment.payload.rollback_plan",
    "changelog_url": "deployment.payload.changelog_url",
}


def _payload(deployment: Mapping[str, Any]) -> dict[str, Any]:
    """`deployment.payload` is whatever the creator sent: an object, a JSON string, or nothing."""
    value = deployment.get("payload")
    if isinstance(value, str):
        try:
            value = load_json(value, what="deployment.payload")
        except IntakeError:
            return {}
    return value if isinstance(value, dict) else {}


@parser(route="POST /v1/webhooks/github", setting="WATCHDOG_GITHUB_WEBHOOK_SECRET", paths=PATHS)
def parse(d: Delivery) -> Intake:
    verify_github(header=d.headers.get("x-hub-signature-256"), body=d.body, secret=d.secret)
    delivery = require_header(d.headers, "X-GitHub-Delivery")
    kind = require_header(d.headers, "X-GitHub-Event")
    data = parse_object(d.body)

    def ignored(reason: str) -> Intake:
        return Intake(source=SOURCE, delivery_id=delivery, event=None, ignored_reason=reason)

    if kind == "ping":
        return ignored("ping: the webhook is configured")
    if kind != "deployment_status":
        return ignored(f"event {kind} is not used: only deployment_status success starts a verification")
    status = data.get("deployment_status")
    if not isinstance(status, dict):
        raise invalid("deployment_status: field required")
    state = text(status, "state")
    if state != "success":
        return ignored(f"deployment_status.state is {state}: only success starts a verification")
    return _event(data, status=status, delivery=delivery, query=d.query)


def _event(
    data: Mapping[str, Any], *, status: Mapping[str, Any], delivery: str, query: Mapping[str, str]
) -> Intake:
    deployment = obj(data, "deployment")
    repository = obj(data, "repository")
    payload = _payload(deployment)
    sha = text(deployment, "sha")
    repo_name = text(repository, "name")
    # Policy files use lower-case service names; GitHub keeps the repository name's case.
    service = query.get("service") or payload.get("service") or (repo_name.lower() if repo_name else None)
    fields: dict[str, Any] = {
        "service": service,
        "environment": text(status, "environment") or text(deployment, "environment"),
        "version": payload.get("version") or text(deployment, "ref"),
        "artifact": payload.get("artifact") or sha,
        "previous_version": payload.get("previous_version"),
        "previous_artifact": payload.get("previous_artifact"),
        "commit": sha,
        "deployer": text(obj(status, "creator"), "login"),
        "rollback_safe": payload.get("rollback_safe"),
        "is_rollback": payload.get("is_rollback"),
        "labels": payload.get("labels"),
    }
    html_url = text(repository, "html_url")
    if html_url and sha:
        fields["changelog_url"] = f"{html_url}/commit/{sha}"
    fields.update(github_facts(data, payload))
    event_data = {k: v for k, v in fields.items() if v is not None}
    if "labels" not in event_data:
        event_data["labels"] = str_labels(
            {
                "github_repository": text(repository, "full_name"),
                "github_deployment_id": deployment.get("id"),
                "environment_url": text(status, "environment_url"),
            }
        )
    event = build_event(event_data, paths=PATHS)
    return Intake(source=SOURCE, delivery_id=payload_identity(deployment, status) or delivery, event=event)


def payload_identity(deployment: Mapping[str, Any], status: Mapping[str, Any]) -> str | None:
    """The deployment and status ids: a captured delivery replayed under a new X-GitHub-Delivery is the
    same status, so it is answered as a duplicate instead of starting another verification."""
    ids = deployment.get("id"), status.get("id")
    if all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        return f"deployment-{ids[0]}-status-{ids[1]}"
    return None
