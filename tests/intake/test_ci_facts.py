"""The gate's CI facts read from GitHub deployment_status deliveries (real octokit examples).

Payload keys win; a finished run's conclusion stands in for ci_status; a run in progress says nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fakes.octokit import examples
from tests.intake.test_parsers import _github
from watchdog.errors import IntakeError


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
