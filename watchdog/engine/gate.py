"""The promotion gate: the pre-deployment checklist for this exact artifact going to this environment now.

Every item is answered (pass, fail, or not required by `gate.require`), so a refusal lists all that stands
in the way. CI facts come from the request, else from the newest event of the same artifact that has them,
else (ci_status) from a finished CI pipeline recorded for its commit.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal, Protocol

from watchdog.policy.gate import GateRequire
from watchdog.policy.service import EnvironmentPolicy
from watchdog.store import Store
from watchdog.store.records import DeploymentRow

Status = Literal["pass", "fail", "not_required"]


class PolicyLookup(Protocol):
    """What the gate needs of a PolicySet."""

    def policy(self, service: str, environment: str) -> EnvironmentPolicy | None: ...


@dataclass(frozen=True)
class GateFacts:
    """What a pipeline tells the gate about the artifact; None = not said (the events may say it)."""

    ci_status: str | None = None
    lint_status: str | None = None
    changelog_url: str | None = None
    migration: bool | None = None
    migration_tested: bool | None = None
    rollback_plan: str | None = None


@dataclass(frozen=True)
class GateCheck:
    name: str
    ok: bool
    reason: str
    status: Status = "pass"
    required: bool = True


@dataclass(frozen=True)
class GateResult:
    allowed: bool
    checks: list[GateCheck]
    first_deploy: bool = False


@dataclass(frozen=True)
class Fact:
    value: Any
    source: str  # "the request", or which event said it


def _check(name: str, ok: bool, reason: str) -> GateCheck:
    return GateCheck(name, ok, reason, "pass" if ok else "fail")


def _skip(name: str, extra: str = "") -> GateCheck:
    return GateCheck(name, True, f"not required (gate.require.{name} is false){extra}", "not_required", False)


def resolve_facts(given: GateFacts, history: list[DeploymentRow]) -> dict[str, Fact | None]:
    """Each fact from the request when it says it, else from the newest deploy of the artifact that did."""
    out: dict[str, Fact | None] = {}
    for f in fields(GateFacts):
        value = getattr(given, f.name)
        if value is not None:
            out[f.name] = Fact(value, "the request")
            continue
        out[f.name] = None
        for d in history:
            known = d.changelog_url if f.name == "changelog_url" else (d.pipeline or {}).get(f.name)
            if known is not None:
                out[f.name] = Fact(known, f"the event of deployment {d.id} in {d.environment}")
                break
    return out


def _pipeline_status(
    store: Store, *, service: str, artifact: str, history: list[DeploymentRow]
) -> Fact | None:
    """A finished CI pipeline recorded for the artifact's commit (or for the artifact, when it is a SHA)."""
    commits = sorted({artifact, *(d.commit for d in history if d.commit)})
    run = store.latest_ci_run(service=service, commits=commits)
    if run is None:
        return None
    where = f" {run.url}" if run.url else ""
    return Fact(run.status, f"the {run.source} pipeline{where} for commit {run.commit[:12]}")


def _status_item(name: str, key: str, fact: Fact | None, *, what: str, flag: str) -> GateCheck:
    if fact is None:
        return _check(
            name, False, f"no {key} known for this artifact: pass {key} ({flag}) or send it on the event"
        )
    if fact.value == "success":
        return _check(name, True, f"{what} ({key} success, from {fact.source})")
    why = "has not finished" if fact.value == "pending" else "is not green"
    return _check(name, False, f"{key} is {fact.value} (from {fact.source}): the CI run {why}")


def _checklist(
    *, require: GateRequire, facts: dict[str, Fact | None], stable: str | None, first: bool, env: str
) -> list[GateCheck]:
    out: list[GateCheck] = []
    ci, lint = facts["ci_status"], facts["lint_status"]
    tests = _status_item("tests", "ci_status", ci, what="tests green", flag="--ci-status")
    out.append(tests if require.tests else _skip("tests"))
    lint_item = _status_item("lint", "lint_status", lint, what="lint clean", flag="--lint-status")
    out.append(lint_item if require.lint else _skip("lint"))
    changelog = facts["changelog_url"]
    if not require.changelog:
        out.append(_skip("changelog"))
    elif changelog is None:
        why = (
            "no changelog_url for this version: pass changelog_url (--changelog-url) or send it on the event"
        )
        out.append(_check("changelog", False, why))
    else:
        out.append(_check("changelog", True, f"changelog at {changelog.value} (from {changelog.source})"))
    out.append(_migration(require, facts["migration"], facts["migration_tested"]))
    out.append(_rollback_plan(require, facts["rollback_plan"], stable=stable, first=first, env=env))
    return out


def _migration(require: GateRequire, declared: Fact | None, tested: Fact | None) -> GateCheck:
    if not require.migration:
        return _skip("migration")
    if declared is None or declared.value is not True:
        return _check("migration", True, "no data migration declared")
    if tested is not None and tested.value is True:
        return _check("migration", True, f"the data migration was tested (from {tested.source})")
    return _check(
        "migration",
        False,
        f"a data migration is declared (from {declared.source}) but migration_tested is not true: "
        "test it (forward and back on a copy of the data), then pass migration_tested (--migration-tested)",
    )


def _rollback_plan(
    require: GateRequire, plan: Fact | None, *, stable: str | None, first: bool, env: str
) -> GateCheck:
    if not require.rollback_plan:
        return _skip("rollback_plan")
    if stable is not None:
        return _check("rollback_plan", True, f"would roll back to {stable}")
    situation = f"first deploy to {env}: no stable artifact yet" if first else f"no stable artifact in {env}"
    if plan is not None:
        text = str(plan.value)
        shown = text if len(text) <= 200 else text[:199] + "…"
        return _check("rollback_plan", True, f"{situation}; rollback plan (from {plan.source}): {shown}")
    return _check(
        "rollback_plan",
        False,
        f"{situation} to roll back to: give a rollback plan (rollback_plan, --rollback-plan URL or note)",
    )


def _verified(*, store: Store, policy: EnvironmentPolicy, service: str, artifact: str) -> GateCheck:
    if not policy.gate.require.verified:
        return _skip("verified")
    source_env = policy.require_verified_in
    if not source_env:
        reason = "not required: the policy names no earlier environment (require_verified_in)"
        return GateCheck("verified", True, reason, "not_required", False)
    # The exact artifact string (digest), never the tag: a rebuilt image with the same tag does not count.
    passed = store.passed_in(service=service, environment=source_env, artifact=artifact)
    if passed is None:
        return _check("verified", False, f"{artifact} has not passed verification in {source_env}")
    return _check("verified", True, f"passed in {source_env} (deployment {passed.id}, {passed.version})")


def _not_frozen(*, store: Store, service: str, environment: str, now: datetime) -> GateCheck:
    freeze = store.active_freeze(service=service, environment=environment, now=now)
    if freeze is None:
        return _check("not_frozen", True, "no active freeze")
    until = f" until {freeze.expires_at.isoformat()}" if freeze.expires_at else ""
    return _check("not_frozen", False, f"frozen{until}: {freeze.reason}")


def _not_bad(*, store: Store, service: str, environments: list[str], artifact: str) -> GateCheck:
    for env in environments:
        status = store.artifact_status(service=service, environment=env, artifact=artifact)
        if status is not None and status.status == "bad":
            return _check("not_bad", False, f"marked bad in {env}: {status.reason or 'no reason given'}")
    return _check("not_bad", True, "not marked bad")


def evaluate_gate(
    *,
    store: Store,
    policies: PolicyLookup,
    service: str,
    environment: str,
    artifact: str,
    now: datetime,
    facts: GateFacts | None = None,
) -> GateResult:
    policy = policies.policy(service, environment)
    if policy is None:
        check = _check("policy", False, f"no policy for {service} in {environment}")
        return GateResult(allowed=False, checks=[check])
    candidate = store.rollback_candidate(service=service, environment=environment, exclude_artifact=artifact)
    stable = f"{candidate.version} ({candidate.artifact})" if candidate else None
    # A stable artifact marked by hand (or a pre-store history) also means this is not the first deploy.
    first = candidate is None and not store.has_deployed(service=service, environment=environment)
    history = store.artifact_deployments(service=service, artifact=artifact)
    known = resolve_facts(facts or GateFacts(), history)
    if known["ci_status"] is None:
        known["ci_status"] = _pipeline_status(store, service=service, artifact=artifact, history=history)
    checks = [
        _check("policy", True, f"policy found for {service} in {environment}"),
        _verified(store=store, policy=policy, service=service, artifact=artifact),
        *_checklist(require=policy.gate.require, facts=known, stable=stable, first=first, env=environment),
        _not_frozen(store=store, service=service, environment=environment, now=now),
    ]
    # Bad where it failed, or bad where it is headed: either refuses.
    envs = [environment] + ([policy.require_verified_in] if policy.require_verified_in else [])
    checks.append(_not_bad(store=store, service=service, environments=envs, artifact=artifact))
    return GateResult(allowed=all(c.ok for c in checks), checks=checks, first_deploy=first)
