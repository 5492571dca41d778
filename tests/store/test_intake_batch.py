"""Store contract, group commit: accept_events writes a batch in one transaction, each event on its own.

A duplicate delivery (even of an event earlier in the same batch) answers the first answer; a bad item
fails alone; the live verification of a service is found through an index, not a walk of its history.
"""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa

from tests.store.conftest import POLICY, at, count_rows, make_event
from watchdog.api.intake_batcher import IntakeBatcher
from watchdog.store import Accepted, Store
from watchdog.store.intake_repo import _LIVE_SAME_SERVICE, AnsweredBefore, EventIntake


def _item(n: int, *, delivery_id: str | None = None, policy: dict[str, Any] | None = None) -> EventIntake:
    return {
        "event": make_event(version=f"2.{n}.0", artifact=f"reg/shop@sha256:{n:064x}"),
        "source": "generic",
        "delivery_id": delivery_id if delivery_id is not None else f"d-{n}",
        "policy": POLICY if policy is None else policy,
        "now": at(n),
    }


def test_a_batch_is_stored_whole_and_the_last_one_supersedes(store: Store) -> None:
    results = store.accept_events([_item(n) for n in range(5)])
    assert all(isinstance(r, Accepted) and not r.duplicate for r in results)
    accepted = [r for r in results if isinstance(r, Accepted)]
    assert count_rows(store, "deployments") == count_rows(store, "deliveries") == 5
    # Each event superseded the one before it, inside the same transaction.
    assert [a.superseded for a in accepted] == [[]] + [[accepted[i].deployment.id] for i in range(4)]
    states = {a.deployment.id: store.deploy_verification(a.deployment.id).state for a in accepted}
    assert list(states.values()) == ["superseded"] * 4 + ["pending"]
    # The answer built from the values written equals the row read back.
    assert accepted[-1].deployment == store.get_deployment(accepted[-1].deployment.id)
    assert accepted[-1].verification == store.get_verification(accepted[-1].verification.id)


def test_a_duplicate_inside_the_batch_answers_the_first_answer(store: Store) -> None:
    first, again, other = store.accept_events(
        [_item(1, delivery_id="same"), _item(2, delivery_id="same"), _item(3)]
    )
    assert isinstance(first, Accepted) and isinstance(again, Accepted) and isinstance(other, Accepted)
    assert not first.duplicate and again.duplicate
    assert again.deployment.id == first.deployment.id and again.response == first.response
    assert count_rows(store, "deployments") == 2


def _savepoints_of(store: Store, batch: list[EventIntake]) -> tuple[list[Any], int]:
    """accept_events' answers, and how many SAVEPOINT statements it sent to the database."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    sa.event.listen(store._engine, "before_cursor_execute", record)
    try:
        results = store.accept_events(batch)
    finally:
        sa.event.remove(store._engine, "before_cursor_execute", record)
    return results, sum(s.startswith("SAVEPOINT") for s in sent)


def test_a_clean_batch_takes_no_savepoint_and_a_failing_one_one_per_event(store: Store) -> None:
    # A savepoint and its release are two statements per event: paid only when an item fails.
    clean, savepoints = _savepoints_of(store, [_item(n) for n in range(3)])
    assert all(isinstance(r, Accepted) for r in clean) and savepoints == 0
    mixed, savepoints = _savepoints_of(store, [_item(3), _item(4, delivery_id="d-0"), _item(5)])
    assert [isinstance(r, Accepted) and r.duplicate for r in mixed] == [False, True, False]
    assert savepoints == 3
    assert count_rows(store, "deployments") == 5


def test_a_bad_item_fails_alone(store: Store) -> None:
    bad_policy = {"verification": {"interval": 0}}
    good, bad = store.accept_events([_item(1), _item(2, policy=bad_policy)])
    assert isinstance(good, Accepted)
    assert isinstance(bad, Exception) and "interval" in str(bad)
    assert count_rows(store, "deployments") == 1
    assert count_rows(store, "deliveries") == 1


def test_the_batcher_answers_every_caller_once_committed(store: Store) -> None:
    async def burst() -> list[Accepted]:
        batcher = IntakeBatcher(store, max_batch=8)
        return await asyncio.gather(*(batcher.accept(**_item(n)) for n in range(30)))

    answers = asyncio.run(burst())
    assert len({a.deployment.id for a in answers}) == 30
    for a in answers:  # every answer is already durable: readable through a fresh connection
        assert store.get_deployment(a.deployment.id).version == a.deployment.version


def test_the_live_verification_is_found_through_the_state_index(store: Store) -> None:
    if store.url.startswith("postgresql"):
        return  # the planner's choice on PostgreSQL depends on statistics; the index exists there too
    with store.engine.connect() as conn:
        bound = _LIVE_SAME_SERVICE.params(service="shop", environment="production", deployment_id="x")
        sql = bound.compile(conn, compile_kwargs={"literal_binds": True})
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
    text = " | ".join(str(row[-1]) for row in plan)
    assert "ix_verifications_state" in text, text
    assert "SCAN deployments" not in text, text


def test_the_state_index_is_in_the_migrated_schema(store: Store) -> None:
    names = {ix["name"] for ix in sa.inspect(store.engine).get_indexes("verifications")}
    assert "ix_verifications_state" in names


def test_an_event_repeating_an_ignored_delivery_gets_the_ignored_answer(store: Store) -> None:
    store.record_delivery(
        source="generic", delivery_id="seen", status_code=200, response={"ignored": True}, now=at(0)
    )
    [repeat] = store.accept_events([_item(1, delivery_id="seen")])
    assert isinstance(repeat, AnsweredBefore)
    assert repeat.delivery.status_code == 200 and repeat.delivery.response == {"ignored": True}
    assert count_rows(store, "deployments") == 0
