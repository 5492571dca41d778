"""The gate's pre-deployment checklist, item by item: passing, failing and not required, on a real store.

Facts come from the gate request or from the stored event of an earlier deploy of the same artifact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.store.conftest import POLICY, T0
from watchdog.engine.gate import GateFacts, GateResult, evaluate_gate
from watchdog.events import DeployEvent
from watchdog.policy.service import EnvironmentPolicy
from watchdog.store import Store

ART = "reg/shop@sha256:aaa"
OLD = "reg/shop@sha256:old"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'gate.db'}")
    s.upgrade()
    yield s
    s.close()


class Policies:
    def __init__(self, production: EnvironmentPolicy) -> None:
        self.production = production

    def policy(self, service: str, environment: str) -> EnvironmentPolicy | None:
        if service != "shop":
            return None
        return {"production": self.production, "staging": EnvironmentPolicy()}.get(environment)


def policy(require: dict[str, bool] | None = None, **fields: Any) -> EnvironmentPolicy:
    data: dict[str, Any] = {"require_verified_in": "staging", **fields}
    if require is not None:
        data["gate"] = {"require": require}
    return EnvironmentPolicy.model_validate(data)


def deploy(store: Store, environment: str, *, artifact: str = ART, passed: bool = True, **facts: Any) -> str:
    event = DeployEvent(service="shop", environment=environment, version="2.0.0", artifact=artifact, **facts)
    acc = store.accept_event(event=event, source="generic", delivery_id=None, policy=POLICY, now=T0)
    if passed:
        v = acc.verification
        store.set_state(
            verification_id=v.id, to_state="passed", reason="window over", now=T0, verdict="passed"
        )
    return acc.deployment.id


def stable(store: Store) -> None:
    store.mark_stable(
        service="shop", environment="production", version="1.0.0", artifact=OLD, deployment_id=None, now=T0
    )


def gate(store: Store, pol: EnvironmentPolicy, facts: GateFacts | None = None) -> GateResult:
    return evaluate_gate(
        store=store,
        policies=Policies(pol),
        service="shop",
        environment="production",
        artifact=ART,
        now=T0,
        facts=facts,
    )


def item(result: GateResult, name: str) -> tuple[str, str]:
    check = next(c for c in result.checks if c.name == name)
    assert check.ok == (check.status != "fail") and check.required == (check.status != "not_required")
    return check.status, check.reason


ALL_ON = {"verified": True, "tests": True, "lint": True, "changelog": True, "migration": True}
Setup = Callable[[Store], None]
Row = tuple[str, dict[str, bool] | None, Setup, GateFacts, str, str]


def nothing(store: Store) -> None:
    return None


def staged(**facts: Any) -> Setup:
    def setup(store: Store) -> None:
        deploy(store, "staging", **facts)

    return setup


TABLE: list[Row] = [
    # item, gate.require, what the store holds, what the request says, status, words in the reason
    ("verified", None, staged(), GateFacts(), "pass", "passed in staging (deployment "),
    ("verified", None, nothing, GateFacts(), "fail", f"{ART} has not passed verification in staging"),
    ("verified", None, staged(passed=False), GateFacts(), "fail", "has not passed verification"),
    ("verified", {"verified": False}, nothing, GateFacts(), "not_required", "gate.require.verified is false"),
    ("tests", None, nothing, GateFacts(ci_status="success"), "pass", "ci_status success, from the request"),
    ("tests", None, staged(ci_status="success"), GateFacts(), "pass", "from the event of deployment"),
    ("tests", None, nothing, GateFacts(ci_status="failure"), "fail", "ci_status is failure"),
    ("tests", None, nothing, GateFacts(ci_status="pending"), "fail", "the CI run has not finished"),
    ("tests", None, staged(), GateFacts(), "fail", "no ci_status known for this artifact: pass ci_status"),
    # The request overrides what an older event said.
    ("tests", None, staged(ci_status="failure"), GateFacts(ci_status="success"), "pass", "from the request"),
    ("tests", {"tests": False}, nothing, GateFacts(ci_status="failure"), "not_required", "tests is false"),
    ("lint", ALL_ON, nothing, GateFacts(lint_status="success"), "pass", "lint clean (lint_status success"),
    ("lint", ALL_ON, staged(lint_status="failure"), GateFacts(), "fail", "lint_status is failure (from the"),
    ("lint", ALL_ON, nothing, GateFacts(), "fail", "no lint_status known"),
    ("lint", None, nothing, GateFacts(), "not_required", "gate.require.lint is false"),
    ("changelog", ALL_ON, nothing, GateFacts(changelog_url="https://c/2.0.0"), "pass", "at https://c/2.0.0"),
    ("changelog", ALL_ON, staged(changelog_url="https://c/x"), GateFacts(), "pass", "from the event of"),
    ("changelog", ALL_ON, nothing, GateFacts(), "fail", "no changelog_url for this version"),
    ("changelog", None, nothing, GateFacts(), "not_required", "gate.require.changelog is false"),
    ("migration", None, nothing, GateFacts(), "pass", "no data migration declared"),
    ("migration", None, staged(migration=True, migration_tested=True), GateFacts(), "pass", "was tested"),
    (
        "migration",
        None,
        nothing,
        GateFacts(migration=True, migration_tested=True),
        "pass",
        "from the request",
    ),
    ("migration", None, staged(migration=True), GateFacts(), "fail", "migration_tested is not true"),
    ("migration", {"migration": False}, staged(migration=True), GateFacts(), "not_required", "is false"),
    ("rollback_plan", None, stable, GateFacts(), "pass", f"would roll back to 1.0.0 ({OLD})"),
    (
        "rollback_plan",
        None,
        nothing,
        GateFacts(rollback_plan="https://runbook/1"),
        "pass",
        "https://runbook/1",
    ),
    ("rollback_plan", None, staged(rollback_plan="helm uninstall"), GateFacts(), "pass", "helm uninstall"),
    ("rollback_plan", None, nothing, GateFacts(), "fail", "first deploy to production: no stable artifact"),
    ("rollback_plan", {"rollback_plan": False}, nothing, GateFacts(), "not_required", "is false"),
]


@pytest.mark.parametrize(
    ("name", "require", "setup", "facts", "status", "words"),
    TABLE,
    ids=[f"{r[0]}-{r[4]}-{i}" for i, r in enumerate(TABLE)],
)
def test_checklist_item(
    store: Store,
    name: str,
    require: dict[str, bool] | None,
    setup: Setup,
    facts: GateFacts,
    status: str,
    words: str,
) -> None:
    setup(store)
    result = gate(store, policy(require), facts)
    got_status, reason = item(result, name)
    assert (got_status, words in reason) == (status, True), reason
    if status == "fail":
        assert result.allowed is False


def test_every_item_passing_allows_and_the_default_requirements() -> None:
    require = EnvironmentPolicy().gate.require
    # A careful team's start: the exact digest, green tests, tested migrations and a way back.
    assert require.model_dump() == {
        "verified": True,
        "tests": True,
        "lint": False,
        "changelog": False,
        "migration": True,
        "rollback_plan": True,
    }


def test_all_items_on_and_satisfied(store: Store) -> None:
    deploy(store, "staging", ci_status="success", lint_status="success", changelog_url="https://c/2")
    stable(store)
    result = gate(store, policy({**ALL_ON, "rollback_plan": True}))
    assert result.allowed, [c for c in result.checks if not c.ok]
    assert [(c.name, c.status) for c in result.checks] == [
        ("policy", "pass"),
        ("verified", "pass"),
        ("tests", "pass"),
        ("lint", "pass"),
        ("changelog", "pass"),
        ("migration", "pass"),
        ("rollback_plan", "pass"),
        ("not_frozen", "pass"),
        ("not_bad", "pass"),
    ]
    assert result.first_deploy is False  # production has a stable artifact to return to


def test_first_deploy_with_a_rollback_plan_passes_and_without_one_is_refused(store: Store) -> None:
    deploy(store, "staging", ci_status="success")
    refused = gate(store, policy())
    assert refused.allowed is False and refused.first_deploy is True
    assert [c.name for c in refused.checks if not c.ok] == ["rollback_plan"]
    assert (
        "first deploy to production: no stable artifact yet to roll back to"
        in item(refused, "rollback_plan")[1]
    )

    plan = "https://runbooks.example/shop/first-deploy"
    allowed = gate(store, policy(), GateFacts(rollback_plan=plan))
    assert allowed.allowed is True and allowed.first_deploy is True
    assert item(allowed, "rollback_plan") == (
        "pass",
        f"first deploy to production: no stable artifact yet; rollback plan (from the request): {plan}",
    )


def test_the_exact_digest_rule_still_holds(store: Store) -> None:
    deploy(store, "staging", ci_status="success")
    stable(store)
    assert gate(store, policy()).allowed is True
    other = evaluate_gate(
        store=store,
        policies=Policies(policy()),
        service="shop",
        environment="production",
        artifact="reg/shop@sha256:bbb",  # the same tag rebuilt: another artifact
        now=T0,
        facts=GateFacts(ci_status="success"),
    )
    assert other.allowed is False
    assert [c.name for c in other.checks if not c.ok] == ["verified"]


def test_no_policy(store: Store) -> None:
    result = evaluate_gate(
        store=store,
        policies=Policies(policy()),
        service="billing",
        environment="production",
        artifact=ART,
        now=T0,
    )
    assert result.allowed is False and [(c.name, c.ok) for c in result.checks] == [("policy", False)]
