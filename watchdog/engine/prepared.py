"""What the engine keeps in memory between steps of one verification, and how a stored row is read back.

Rebuilt from the store after a restart or a lost lease, so nothing here is the only copy of anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from watchdog.analysis.evaluator import Evaluator
from watchdog.analysis.models import Baseline
from watchdog.policy.interned import shared_policy
from watchdog.policy.service import EnvironmentPolicy
from watchdog.sources.base import AnyCheck, SampleContext
from watchdog.store.records import DeploymentRow, VerificationRow


@dataclass(frozen=True)
class Identity:
    """What a Prepared keeps of its deployment: its names for the progress lines. Not the row: its policy
    snapshot is `Prepared.policy`, parsed, and a decoded copy beside it cost 8 KB per verification."""

    id: str
    service: str
    environment: str


@dataclass
class Prepared:
    """What this process keeps between steps of one verification (rebuilt after a restart or lost lease)."""

    epoch: int
    deployment: Identity
    policy: EnvironmentPolicy
    checks: list[AnyCheck]
    evaluator: Evaluator
    ctx: SampleContext
    last_k: int


def policy_of(v: VerificationRow) -> EnvironmentPolicy:
    """The verification's policy snapshot, parsed once for all verifications that hold an equal one."""
    return shared_policy(v.policy)


def identity(dep: DeploymentRow) -> Identity:
    return Identity(id=dep.id, service=dep.service, environment=dep.environment)


def baselines_of(v: VerificationRow) -> dict[str, Baseline | None]:
    raw = v.baseline or {}
    return {name: (Baseline.from_json(b) if b else None) for name, b in raw.items()}
