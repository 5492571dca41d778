"""The gate's CI facts read from webhooks: GitHub deployment_status (real octokit examples), GitLab pipelines.

Payload keys win; a finished run's conclusion stands in for ci_status; a run in progress says nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fakes.octokit import examples
from tests.intake.payloads import SHA
from tests.intake.test_parsers import NOW, _github
from watchdog.errors import IntakeError
from watchdog.intake import gitlab


def success_example(**payload: Any) -> dict[str, Any]:
    example = next(e for e in examples("deployment_status") if e["deployment_status"]["state"] == "success")
    if payload:
        example["deployment"]["payload"] = json.dumps(payload)
    return example


def test_payload_keys_become_gate_facts() -> None:
    example = success_example(
        ci_status="success",
        lint_status="failure",
        migration=True,
        migration_tested=True,
        rollback_plan="https://runbooks.example/first",
        changelog_url="https://example/CHANGELOG.md#2.4.1",
    )
    ev = _github(example).event
    assert ev is not None
    assert ev.pipeline_facts() == {
        "ci_status": "success",
        "lint_status": "failure",
        "migration": True,
        "migration_tested": True,
        "rollback_plan": "https://runbooks.example/first",
    }
    assert ev.changelog_url == "https://example/CHANGELOG.md#2.4.1"  # not the commit URL


def test_a_finished_runs_conclusion_stands_in_for_ci_status() -> None:
    example = success_example()
    example["workflow_run"] = {"id": 1, "status": "completed", "conclusion": "success"}
    assert _github(example).event.ci_status == "success"
    example["workflow_run"]["conclusion"] = "timed_out"
    assert _github(example).event.ci_status == "failure"
    example["workflow_run"]["conclusion"] = "skipped"  # says nothing about the tests
    assert _github(example).event.ci_status is None


def test_a_run_in_progress_says_nothing() -> None:
    # GitHub's own example: the deploy's workflow is still running when it posts the status.
    example = next(e for e in examples("deployment_status") if "workflow_run" in e)
    assert example["workflow_run"]["conclusion"] is None
    example["deployment_status"]["state"] = "success"
    ev = _github(example).event
    assert ev is not None and ev.ci_status is None and ev.pipeline_facts() is None


def test_a_bad_fact_is_refused_with_its_path() -> None:
    with pytest.raises(IntakeError) as err:
        _github(success_example(ci_status="green"))
    assert "deployment.payload.ci_status" in err.value.detail


def gitlab_pipeline(status: str = "success", **attrs: Any) -> dict[str, Any]:
    """A Pipeline Hook in the shape of GitLab's webhook-events documentation (fields trimmed)."""
    return {
        "object_kind": "pipeline",
        "object_attributes": {
            "id": 31,
            "iid": 3,
            "ref": "main",
            "tag": False,
            "sha": SHA,
            "source": "push",
            "status": status,
            "detailed_status": "passed" if status == "success" else status,
            "stages": ["build", "test", "deploy"],
            "created_at": "2026-11-01 11:52:28 UTC",
            "finished_at": "2026-11-01 11:58:29 UTC",
            "duration": 361,
            "url": "http://10.126.0.2:3000/acme/checkout/-/pipelines/31",
            **attrs,
        },
        "user": {"id": 1, "name": "Administrator", "username": "root"},
        "project": {"id": 30, "name": "Checkout", "path_with_namespace": "acme/checkout"},
        "commit": {"id": SHA, "title": "Add new file"},
        "builds": [],
    }


def _gitlab_pipeline(data: dict[str, Any]) -> Any:
    headers = {"X-Gitlab-Token": "tok", "X-Gitlab-Event": "Pipeline Hook", "X-Gitlab-Event-UUID": "p-1"}
    return gitlab.parse(headers=headers, body=json.dumps(data).encode(), secret="tok", now=NOW)


@pytest.mark.parametrize(
    ("status", "mapped"), [("success", "success"), ("failed", "failure"), ("canceled", "failure")]
)
def test_a_finished_gitlab_pipeline_is_a_ci_run(status: str, mapped: str) -> None:
    result = _gitlab_pipeline(gitlab_pipeline(status))
    assert result.event is None and result.ci_run is not None  # nothing to verify, something to keep
    run = result.ci_run
    assert (run.service, run.commit, run.status, run.ref) == ("checkout", SHA, mapped, "main")
    assert run.url == "http://10.126.0.2:3000/acme/checkout/-/pipelines/31"


@pytest.mark.parametrize("status", ["running", "pending", "created", "manual", "skipped", "scheduled"])
def test_an_unfinished_gitlab_pipeline_is_ignored(status: str) -> None:
    result = _gitlab_pipeline(gitlab_pipeline(status))
    assert result.event is None and result.ci_run is None
    assert f"pipeline status {status}" in (result.ignored_reason or "")
