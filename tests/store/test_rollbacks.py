"""Store contract, rollbacks: creation, updates, the hourly count guard rails use, open work after a crash.

Runs on SQLite and PostgreSQL through the `store` fixture.
"""

from __future__ import annotations

import pytest

from tests.store.conftest import accept, at
from watchdog.errors import NotFound
from watchdog.store import Store
from watchdog.store.records import RollbackRow


def create(
    store: Store,
    deployment_id: str,
    *,
    seconds: float,
    state: str = "intent",
    trigger: str = "auto",
    environment: str = "production",
) -> RollbackRow:
    return store.create_rollback(
        deployment_id=deployment_id,
        service="checkout",
        environment=environment,
        trigger=trigger,
        state=state,
        reason="errors failed",
        target="k8s-prod",
        from_version="2.0.0",
        from_artifact="reg/c@2",
        to_version="1.9.0",
        to_artifact="reg/c@1.9",
        now=at(seconds),
    )


def test_create_get_and_update(store: Store) -> None:
    dep = accept(store).deployment.id
    row = create(store, dep, seconds=10)
    assert (row.state, row.attempts, row.output, row.finished_at, row.verification_id) == (
        "intent",
        0,
        "",
        None,
        None,
    )
    assert row.requested_at == at(10) and row.to_artifact == "reg/c@1.9"
    assert store.get_rollback(row.id) == row
    updated = store.update_rollback(
        rollback_id=row.id, now=at(20), state="verifying", attempts=1, output="ok"
    )
    assert (updated.state, updated.attempts, updated.output, updated.finished_at) == (
        "verifying",
        1,
        "ok",
        None,
    )
    assert updated.reason == "errors failed"  # untouched when not given
    done = store.update_rollback(
        rollback_id=row.id,
        now=at(30),
        state="verified",
        verification_id="v1",
        reason="restored",
        finished=True,
    )
    assert (done.state, done.verification_id, done.reason, done.finished_at) == (
        "verified",
        "v1",
        "restored",
        at(30),
    )
    assert store.rollbacks_for(dep) == [done]
    with pytest.raises(NotFound):
        store.update_rollback(rollback_id="nope", now=at(1), state="failed")
    with pytest.raises(NotFound):
        store.update_rollback(rollback_id="nope", now=at(1))
    with pytest.raises(NotFound):
        create(store, "nope", seconds=1)


def test_count_rollbacks_since_and_open_rollbacks(store: Store) -> None:
    dep = accept(store).deployment.id
    old = create(store, dep, seconds=0, state="verified")
    recent = create(store, dep, seconds=3600, state="intent")
    create(store, dep, seconds=3601, state="refused")
    create(store, dep, seconds=3602, state="dry_run")
    manual = create(store, dep, seconds=3603, state="verifying", trigger="manual")
    create(store, dep, seconds=3604, state="failed", environment="staging")
    count = store.count_rollbacks_since
    assert count(service="checkout", environment="production", since=at(1)) == 1
    assert count(service="checkout", environment="production", since=at(0)) == 2
    assert count(service="checkout", environment="production", since=at(1), trigger="manual") == 1
    assert count(service="checkout", environment="staging", since=at(0)) == 1
    assert [r.id for r in store.open_rollbacks()] == [recent.id, manual.id]
    assert [r.id for r in store.rollbacks_for(dep)][:2] == [old.id, recent.id]
