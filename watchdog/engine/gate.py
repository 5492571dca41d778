"""The promotion gate: may this exact artifact go to this environment now?

Every check is answered, passed or not, so a refusal lists everything that stands in the way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from watchdog.policy.service import EnvironmentPolicy
from watchdog.store import Store


class PolicyLookup(Protocol):
    """What the gate needs of a PolicySet."""

    def policy(self, service: str, environment: str) -> EnvironmentPolicy | None: ...


@dataclass(frozen=True)
class GateCheck:
    name: str
    ok: bool
    reason: str


@dataclass(frozen=True)
class GateResult:
    allowed: bool
    checks: list[GateCheck]


def _verified(*, store: Store, policy: EnvironmentPolicy, service: str, artifact: str) -> GateCheck:
    source_env = policy.require_verified_in
    if not source_env:
        return GateCheck("verified", True, "the policy requires no earlier environment")
    # The exact artifact string (digest), never the tag: a rebuilt image with the same tag does not count.
    passed = store.passed_in(service=service, environment=source_env, artifact=artifact)
    if passed is None:
        return GateCheck("verified", False, f"{artifact} has not passed verification in {source_env}")
    return GateCheck("verified", True, f"passed in {source_env} (deployment {passed.id}, {passed.version})")


def _rollback_plan(*, store: Store, service: str, environment: str, artifact: str) -> GateCheck:
    stable = store.rollback_candidate(service=service, environment=environment, exclude_artifact=artifact)
    if stable is None:
        return GateCheck("rollback_plan", False, f"no stable artifact in {environment} to roll back to")
    return GateCheck("rollback_plan", True, f"would roll back to {stable.version} ({stable.artifact})")


def _not_frozen(*, store: Store, service: str, environment: str, now: datetime) -> GateCheck:
    freeze = store.active_freeze(service=service, environment=environment, now=now)
    if freeze is None:
        return GateCheck("not_frozen", True, "no active freeze")
    until = f" until {freeze.expires_at.isoformat()}" if freeze.expires_at else ""
    return GateCheck("not_frozen", False, f"frozen{until}: {freeze.reason}")


def _not_bad(*, store: Store, service: str, environments: list[str], artifact: str) -> GateCheck:
    for env in environments:
        status = store.artifact_status(service=service, environment=env, artifact=artifact)
        if status is not None and status.status == "bad":
            return GateCheck("not_bad", False, f"marked bad in {env}: {status.reason or 'no reason given'}")
    return GateCheck("not_bad", True, "not marked bad")


def evaluate_gate(
    *,
    store: Store,
    policies: PolicyLookup,
    service: str,
    environment: str,
    artifact: str,
    now: datetime,
) -> GateResult:
    policy = policies.policy(service, environment)
    if policy is None:
        check = GateCheck("policy", False, f"no policy for {service} in {environment}")
        return GateResult(allowed=False, checks=[check])
    checks = [
        GateCheck("policy", True, f"policy found for {service} in {environment}"),
        _verified(store=store, policy=policy, service=service, artifact=artifact),
        _rollback_plan(store=store, service=service, environment=environment, artifact=artifact),
        _not_frozen(store=store, service=service, environment=environment, now=now),
    ]
    # Bad where it failed, or bad where it is headed: either refuses.
    envs = [environment] + ([policy.require_verified_in] if policy.require_verified_in else [])
    checks.append(_not_bad(store=store, service=service, environments=envs, artifact=artifact))
    return GateResult(allowed=all(c.ok for c in checks), checks=checks)
