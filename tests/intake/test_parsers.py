"""How each source's payload maps to a DeployEvent, or is ignored with a reason, or refused.

Pure parser calls; the routes are tested in tests/api.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.fakes.octokit import examples
from tests.intake.payloads import SHA, argocd_deployed, gitlab_deployment
from watchdog.errors import IntakeError
from watchdog.intake import PARSERS, argocd, github, gitlab
from watchdog.intake.signatures import sign_github

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _github(data: Any, *, kind: str = "deployment_status", query: dict[str, str] | None = None) -> Any:
    body = json.dumps(data).encode()
    headers = {
        "X-GitHub-Event": kind,
        "X-GitHub-Delivery": "d-1",
        "X-Hub-Signature-256": sign_github(secret="s", body=body),
    }
    return github.parse(headers=headers, body=body, secret="s", now=NOW, query=query)


def test_github_success_status_maps_to_an_event() -> None:
    example = next(e for e in examples("deployment_status") if e["deployment_status"]["state"] == "success")
    result = _github(example)
    ev = result.event
    # The idempotency key is the payload's identity: a replay under a new X-GitHub-Delivery is the same.
    ids = example["deployment"]["id"], example["deployment_status"]["id"]
    assert result.delivery_id == f"deployment-{ids[0]}-status-{ids[1]}" and ev is not None
    assert (ev.service, ev.environment) == ("hello-world", "production")
    sha = example["deployment"]["sha"]
    assert (ev.version, ev.artifact, ev.commit) == (example["deployment"]["ref"], sha, sha)
    assert ev.deployer == example["deployment_status"]["creator"]["login"]
    assert ev.labels["github_repository"] == example["repository"]["full_name"]


def test_github_payload_fields_win() -> None:
    example = next(e for e in examples("deployment_status") if e["deployment_status"]["state"] == "success")
    example["deployment"]["payload"] = json.dumps(
        {
            "service": "checkout",
            "version": "2.4.1",
            "artifact": "reg/checkout@sha256:1",
            "rollback_safe": False,
        }
    )
    ev = _github(example).event
    assert (ev.service, ev.version, ev.artifact, ev.rollback_safe) == (
        "checkout",
        "2.4.1",
        "reg/checkout@sha256:1",
        False,
    )


@pytest.mark.parametrize("state", ["in_progress", "pending", "queued", "failure", "error", "inactive"])
def test_github_other_states_are_ignored(state: str) -> None:
    example = examples("deployment_status")[0]
    example["deployment_status"]["state"] = state
    result = _github(example)
    assert result.event is None and state in (result.ignored_reason or "")


def test_github_other_events_are_ignored() -> None:
    assert "ping" in (_github({"zen": "hi"}, kind="ping").ignored_reason or "")
    assert _github(examples("deployment")[0], kind="deployment").event is None


def test_github_refusal_names_the_payload_path() -> None:
    example = examples("deployment_status")[0]
    example["deployment_status"]["state"] = "success"
    example["deployment"]["payload"] = {"version": 5}
    with pytest.raises(IntakeError) as err:
        _github(example)
    assert "deployment.payload.version (or deployment.ref): expected a string" in err.value.detail


def _gitlab(data: Any, *, token: str = "tok", query: dict[str, str] | None = None) -> Any:
    headers = {"X-Gitlab-Token": token, "X-Gitlab-Event": "Deployment Hook", "X-Gitlab-Event-UUID": "u-1"}
    return gitlab.parse(headers=headers, body=json.dumps(data).encode(), secret="tok", now=NOW, query=query)


def test_gitlab_success_maps_full_sha_from_commit_url() -> None:
    ev = _gitlab(gitlab_deployment()).event
    assert (ev.service, ev.environment, ev.version) == ("checkout", "staging", SHA[:8])
    assert ev.artifact == ev.commit == SHA
    assert ev.deployer == "root" and ev.changelog_url.endswith(SHA)
    assert ev.labels["commit_title"] == "Add new file"
    assert _gitlab(gitlab_deployment(), query={"service": "payments"}).event.service == "payments"


@pytest.mark.parametrize("status", ["running", "failed", "canceled", "blocked"])
def test_gitlab_other_statuses_are_ignored(status: str) -> None:
    assert _gitlab(gitlab_deployment(status=status)).event is None
    assert _gitlab({"object_kind": "push"}).ignored_reason


def test_gitlab_wrong_token() -> None:
    with pytest.raises(IntakeError) as err:
        _gitlab(gitlab_deployment(), token="nope")
    assert err.value.code == "bad_signature"


def _argocd(data: Any, *, token: str = "tok") -> Any:
    return argocd.parse(
        headers={"X-Watchdog-Token": token}, body=json.dumps(data).encode(), secret="tok", now=NOW
    )


def test_argocd_maps_the_service_image() -> None:
    result = _argocd(argocd_deployed())
    ev = result.event
    assert (ev.service, ev.environment, ev.version) == ("checkout", "staging", "2.4.1")
    assert ev.artifact == "ghcr.io/acme/checkout:2.4.1@sha256:abc"
    assert ev.commit == SHA and ev.deployer == "alice"
    assert result.delivery_id == f"checkout@{SHA}@2026-11-01T11:59:30Z"


def test_argocd_without_images_uses_the_revision() -> None:
    ev = _argocd(argocd_deployed(images=None, deployer="<no value>")).event
    assert (ev.version, ev.artifact, ev.deployer) == (SHA[:12], SHA, None)


def test_argocd_unhealthy_is_ignored_and_missing_environment_refused() -> None:
    assert _argocd(argocd_deployed(health="Degraded")).event is None
    with pytest.raises(IntakeError) as err:
        _argocd(argocd_deployed(environment="<no value>"))
    assert err.value.detail == "environment: field required"
    with pytest.raises(IntakeError) as err:
        _argocd({"environment": "staging"})
    assert err.value.detail == "app: field required; revision: field required"


def test_every_parser_refuses_when_its_secret_is_unset() -> None:
    for name, parse in PARSERS.items():
        with pytest.raises(IntakeError) as err:
            parse(headers={}, body=b"{}", secret=None, now=NOW)
        assert (name, err.value.status, err.value.code) == (name, 403, "not_configured")
