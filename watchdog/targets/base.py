"""The contract of a deploy target: say what runs now, and redeploy a previous stable artifact.

Adapters are idempotent (asking twice for the same rollback deploys once) and keep their redacted output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class RollbackRequest:
    deployment_id: str  # the failed deploy; with `artifact` it is the idempotency key
    service: str
    environment: str
    version: str  # the stable version being restored
    artifact: str  # the stable artifact being restored (exact digest when known)
    failed_version: str
    failed_artifact: str

    def placeholders(self) -> dict[str, str]:
        return {
            "service": self.service,
            "environment": self.environment,
            "version": self.version,
            "artifact": self.artifact,
            "failed_version": self.failed_version,
            "failed_artifact": self.failed_artifact,
            "deployment_id": self.deployment_id,
        }


@dataclass(frozen=True)
class Current:
    """What the target runs now, as far as it can tell (None: it cannot say)."""

    artifact: str | None
    version: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class RollbackResult:
    ok: bool
    detail: str  # one line for people: "image set to ...@sha256:..; rollout complete in 12 s"
    output: str = ""  # the adapter's log (HTTP exchanges, command output), secrets redacted
    attempts: int = 1


@runtime_checkable
class Target(Protocol):
    name: str

    @property
    def timeout(self) -> float:
        """The adapter's own limit for one rollback call, in seconds (its config's `timeout`)."""
        ...

    async def current(self, req: RollbackRequest) -> Current: ...

    async def rollback(self, req: RollbackRequest) -> RollbackResult:
        """Redeploy `req.artifact` and wait until it is rolled out or the timeout passes.

        Returns ok=False with the reason for a permanent failure or timeout; never raises for those.
        """
        ...
