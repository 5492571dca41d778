"""Guard rails as a table: each row is one reason the daemon must refuse to roll back by itself."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from watchdog.engine.guards import plan_rollback, semver_major
from watchdog.store.records import DeploymentRow, FreezeRow, RollbackRow, StableRow

T = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DEP = DeploymentRow(
    id="d1",
    service="checkout",
    environment="production",
    version="2.4.1",
    artifact="reg/checkout@sha256:bbb",
    previous_version=None,
    previous_artifact=None,
    deployed_at=T,
    received_at=T,
    deployer="ci",
    commit=None,
    changelog_url=None,
    rollback_safe=True,
    is_rollback=False,
    labels={},
    source="generic",
    rollback_of=None,
    policy={},
)
STABLE = StableRow(
    service="checkout",
    environment="production",
    version="2.4.0",
    artifact="reg/checkout@sha256:aaa",
    status="stable",
    deployment_id="d0",
    since=T,
    reason="",
)
DONE = RollbackRow(
    id="r1",
    deployment_id="d1",
    service="checkout",
    environment="production",
    trigger="auto",
    state="verified",
    reason="",
    target="k8s",
    from_version="2.4.1",
    from_artifact="x",
    to_version="2.4.0",
    to_artifact="y",
    output="",
    attempts=1,
    verification_id=None,
    requested_at=T,
    finished_at=T,
)
FREEZE = FreezeRow(
    service="checkout",
    environment="production",
    reason="black friday",
    created_by="sre",
    created_at=T,
    expires_at=None,
)


def plan(**kw: Any) -> str | None:
    args: dict[str, Any] = dict(
        deployment=DEP,
        candidate=STABLE,
        previous=[],
        recent_auto=0,
        max_per_hour=3,
        allow_major=False,
        freeze=None,
        trigger="auto",
    )
    args.update(kw)
    return plan_rollback(**args).refusal


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({}, None),
        ({"previous": [DONE]}, "already rolled back once"),
        ({"candidate": None}, "no previous stable artifact"),
        ({"deployment": replace(DEP, is_rollback=True)}, "itself a rollback"),
        ({"newer": replace(DEP, id="d2", version="2.4.2")}, "a newer deploy (2.4.2) of checkout/production"),
        ({"trigger": "manual", "newer": replace(DEP, id="d2", version="2.4.2")}, None),
        ({"freeze": FREEZE}, "frozen for checkout/production: black friday"),
        ({"recent_auto": 3}, "3 automatic rollbacks of checkout/production in the last hour"),
        ({"recent_auto": 2}, None),
        ({"deployment": replace(DEP, rollback_safe=False)}, "not rollback-safe"),
        ({"deployment": replace(DEP, version="3.0.0")}, "crosses a SemVer major version"),
        ({"deployment": replace(DEP, version="3.0.0"), "allow_major": True}, None),
        ({"deployment": replace(DEP, version="build-77")}, None),  # not SemVer: no major rule
        # an operator's rollback skips the hourly budget and the freeze, never the other rails
        ({"trigger": "manual", "recent_auto": 9, "freeze": FREEZE}, None),
        ({"trigger": "manual", "candidate": None}, "no previous stable artifact"),
        ({"trigger": "manual", "previous": [DONE]}, "already rolled back once"),
    ],
)
def test_guard_rails(kw: dict[str, object], words: str | None) -> None:
    refusal = plan(**kw)
    if words is None:
        assert refusal is None
    else:
        assert refusal is not None and words in refusal


def test_refused_rollbacks_do_not_count_as_done() -> None:
    assert plan(previous=[replace(DONE, state="refused"), replace(DONE, state="dry_run")]) is None


@pytest.mark.parametrize(
    ("v", "major"), [("2.4.1", 2), ("v10.0.0-rc.1", 10), ("1.2", None), ("latest", None)]
)
def test_semver_major(v: str, major: int | None) -> None:
    assert semver_major(v) == major
