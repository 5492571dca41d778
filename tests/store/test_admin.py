"""Store contract, operator rows: freezes with expiry, and one incident per deployment.

Runs on SQLite and PostgreSQL through the `store` fixture.
"""

from __future__ import annotations

import pytest

from tests.store.conftest import accept, at
from watchdog.errors import NotFound
from watchdog.store import Store


def test_freezes_upsert_expire_and_delete(store: Store) -> None:
    assert store.active_freeze(service="checkout", environment="production", now=at(0)) is None
    frozen = store.set_freeze(
        service="checkout",
        environment="production",
        reason="release freeze",
        created_by="sre",
        expires_at=at(3600),
        now=at(0),
    )
    assert (frozen.reason, frozen.created_by, frozen.created_at, frozen.expires_at) == (
        "release freeze",
        "sre",
        at(0),
        at(3600),
    )
    forever = store.set_freeze(
        service="cart", environment="staging", reason="incident", created_by=None, expires_at=None, now=at(1)
    )
    assert store.active_freeze(service="checkout", environment="production", now=at(3599)) == frozen
    assert store.active_freeze(service="checkout", environment="production", now=at(3600)) is None
    assert store.list_freezes(now=at(10)) == [forever, frozen]
    assert store.list_freezes(now=at(4000)) == [forever]
    extended = store.set_freeze(
        service="checkout",
        environment="production",
        reason="extended",
        created_by="sre2",
        expires_at=None,
        now=at(5000),
    )
    assert store.active_freeze(service="checkout", environment="production", now=at(9999)) == extended
    assert store.delete_freeze(service="checkout", environment="production")
    assert not store.delete_freeze(service="checkout", environment="production")
    assert store.list_freezes(now=at(0)) == [forever]


def test_incidents_one_per_deployment(store: Store) -> None:
    first = accept(store, version="2.0.0", now=at(0)).deployment.id
    other = accept(store, version="1.0.0", environment="staging", now=at(1)).deployment.id
    assert store.incident_for(first) is None
    created = store.upsert_incident(
        deployment_id=first,
        service="checkout",
        environment="production",
        version="2.0.0",
        status="failed",
        title="checkout 2.0.0 failed",
        path="reports/a.md",
        now=at(10),
    )
    updated = store.upsert_incident(
        deployment_id=first,
        service="checkout",
        environment="production",
        version="2.0.0",
        status="rolled_back",
        title="checkout 2.0.0 rolled back",
        path="reports/a.md",
        now=at(20),
    )
    assert updated.id == created.id and updated.created_at == at(10)
    assert (updated.status, updated.title, updated.updated_at) == (
        "rolled_back",
        "checkout 2.0.0 rolled back",
        at(20),
    )
    assert store.get_incident(created.id) == updated == store.incident_for(first)
    staging = store.upsert_incident(
        deployment_id=other,
        service="checkout",
        environment="staging",
        version="1.0.0",
        status="inconclusive",
        title="t",
        path="reports/b.md",
        now=at(30),
    )
    assert store.list_incidents() == [staging, updated]
    assert store.list_incidents(environment="production") == [updated]
    assert store.list_incidents(service="cart") == []
    assert store.list_incidents(limit=1) == [staging]
    with pytest.raises(NotFound):
        store.get_incident("nope")
