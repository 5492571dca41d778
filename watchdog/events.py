"""The deploy event every intake route produces, and the lifecycle states of its verification.

Shared vocabulary of intake, engine, store and API; it depends on nothing else of ours.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"


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
