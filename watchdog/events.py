"""The deploy event every intake route produces, and the lifecycle states of its verification.

Shared vocabulary of intake, engine, store and API; it depends on nothing else of ours.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
# What a CI run reports: finished green, finished red, or not finished yet.
CiStatus = Literal["success", "failure", "pending"]
# The fields the promotion gate reads from an earlier deploy of the same artifact.
PIPELINE_FACTS = ("ci_status", "lint_status", "migration", "migration_tested", "rollback_plan")


class DeployEvent(BaseModel):
    """ "Service S, environment E, version V (artifact A) is now live"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str = Field(pattern=NAME, description="must have a policy in config/services/")
    environment: str = Field(pattern=NAME)
    version: str = Field(min_length=1, max_length=200)
    artifact: str = Field("", max_length=1000, description="image reference with digest, or any opaque id")
    previous_version: str | None = Field(None, max_length=200)
    previous_artifact: str | None = Field(None, max_length=1000)
    deployed_at: datetime | None = Field(None, description="default: when the event was received")
    deployer: str | None = Field(None, max_length=200)
    commit: str | None = Field(None, max_length=100)
    changelog_url: str | None = Field(None, max_length=2000)
    rollback_safe: bool = Field(
        True, description="false: it ran a data migration; never roll back automatically"
    )
    is_rollback: bool = Field(False, description="this deploy is itself a rollback")
    labels: dict[str, str] = Field(default_factory=dict)
    # What the pipeline knew, for the promotion gate's checklist; every one optional.
    ci_status: CiStatus | None = Field(None, description="the tests of this artifact's CI run")
    lint_status: CiStatus | None = Field(None, description="the lint of this artifact's CI run")
    migration: bool | None = Field(None, description="true: this deploy carries a data migration")
    migration_tested: bool | None = Field(None, description="the migration ran against a copy and back")
    rollback_plan: str | None = Field(
        None, max_length=2000, description="URL or note: how to undo a first deploy (no stable artifact yet)"
    )

    def pipeline_facts(self) -> dict[str, Any] | None:
        """The gate's facts this event carries, or None when it carries none."""
        facts = {k: getattr(self, k) for k in PIPELINE_FACTS if getattr(self, k) is not None}
        return facts or None

    @model_validator(mode="after")
    def _artifact_defaults_to_version(self) -> DeployEvent:
        if not self.artifact:
            object.__setattr__(self, "artifact", self.version)
        if self.previous_version and not self.previous_artifact:
            object.__setattr__(self, "previous_artifact", self.previous_version)
        return self


class State(StrEnum):
    PENDING = "pending"
    WARMING = "warming"
    VERIFYING = "verifying"
    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"
    PROMOTED = "promoted"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"


# States in which the engine still samples.
SAMPLING = frozenset({State.PENDING, State.WARMING, State.VERIFYING})
# States from which nothing moves on by itself.
FINAL = frozenset(
    {
        State.PASSED,
        State.INCONCLUSIVE,
        State.SUPERSEDED,
        State.CANCELLED,
        State.PROMOTED,
        State.ROLLED_BACK,
        State.ROLLBACK_FAILED,
    }
)
