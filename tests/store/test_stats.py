"""The ledger's store queries on SQLite and PostgreSQL: counts, recovery times and rollback reviews."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fakes.history import seed
from tests.store.conftest import T0
from watchdog.store import Store
from watchdog.store.stats_repo import NotRolledBack, percentile


def test_ledger_and_reviews(store: Store) -> None:
    day = timedelta(days=1)
    p = seed(
        store, service="checkout", environment="production", version="1", at=T0 - 3 * day, outcome="passed"
    )
    r = seed(
        store,
        service="checkout",
        environment="production",
        version="2",
        at=T0 - 2 * day,
        outcome="rolled_back",
        recovery_s=120,
    )
    seed(store, service="checkout", environment="production", version="3", at=T0 - day, outcome="alerted")
    seed(store, service="checkout", environment="staging", version="1", at=T0 - day, outcome="refused")
    review = store.review_rollback(deployment_id=r, unneeded=True, reason="load test", by="ops", now=T0)
    assert review.unneeded and review.reviewed_by == "ops"
    store.review_rollback(deployment_id=r, unneeded=False, reason="it was needed after all", by="ops", now=T0)
    again = store.rollback_review(r)
    assert again is not None and not again.unneeded
    with pytest.raises(NotRolledBack):
        store.review_rollback(deployment_id=p, unneeded=True, reason="", by=None, now=T0)
    prod, staging = store.ledger(since=T0 - 7 * day)
    assert (prod.service, prod.environment) == ("checkout", "production")
    assert (prod.deploys, prod.decided, prod.failed, prod.automatic_rollbacks, prod.unneeded) == (
        3,
        3,
        2,
        1,
        0,
    )
    assert prod.recovery_s == [120.0]
    assert (staging.deploys, staging.refused_rollbacks, staging.automatic_rollbacks) == (1, 1, 0)
    assert store.ledger(since=T0 - 7 * day, environment="staging") == [staging]
    assert store.ledger(since=T0) == []


def test_percentile() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 0.5) == 25.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 0.9) == pytest.approx(37.0)
