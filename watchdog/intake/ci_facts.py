"""What a webhook says about the CI run behind a deploy, mapped to the event's gate facts.

GitHub: the keys of `deployment.payload`, else the conclusion of the run that sent the status; a run
still in progress (no conclusion) says nothing. GitLab: a finished Pipeline Hook becomes a CiRun.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# GitHub check and workflow conclusions: which mean green, which mean red; others (neutral, skipped,
# stale) say nothing about the tests.
_GREEN = {"success"}
_RED = {"failure", "timed_out", "cancelled", "action_required", "startup_failure"}
PAYLOAD_KEYS = ("ci_status", "lint_status", "migration", "migration_tested", "rollback_plan", "changelog_url")


def conclusion_status(conclusion: object) -> str | None:
    if conclusion in _GREEN:
        return "success"
    if conclusion in _RED:
        return "failure"
    return None


def github_facts(data: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    """The gate facts of a deployment_status delivery; the payload's own keys win."""
    facts = {k: payload[k] for k in PAYLOAD_KEYS if payload.get(k) is not None}
    if "ci_status" not in facts:
        for key in ("check_run", "workflow_run"):
            run = data.get(key)
            status = conclusion_status(run.get("conclusion")) if isinstance(run, dict) else None
            if status is not None:
                facts["ci_status"] = status
                break
    return facts


@dataclass(frozen=True)
class CiRun:
    """A CI pipeline's finished status for one commit of a service."""

    service: str
    commit: str
    status: str  # success | failure
    ref: str | None = None
    url: str | None = None


# GitLab pipeline statuses: finished green, finished red; the rest (running, pending, created, manual,
# scheduled, skipped ...) are not a finished answer and are not recorded.
_GITLAB = {"success": "success", "failed": "failure", "canceled": "failure"}


def gitlab_status(status: object) -> str | None:
    return _GITLAB.get(status) if isinstance(status, str) else None
