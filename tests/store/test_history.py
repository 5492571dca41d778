"""Store contract, stable history: stable/bad marks, the rollback candidate, passed_in and stable samples.

Runs on SQLite and PostgreSQL through the `store` fixture.
"""

from __future__ import annotations

from typing import Any

from tests.store.conftest import accept, at
from watchdog.store import Store
from watchdog.store.records import SampleRow

PAIR: dict[str, Any] = {"service": "checkout", "environment": "production"}


def mark(store: Store, artifact: str, seconds: float, status: str = "stable") -> None:
    store.mark_stable(
        **PAIR,
        version=artifact.upper(),
        artifact=artifact,
        deployment_id=None,
        now=at(seconds),
        status=status,
    )


def test_mark_stable_upserts_per_artifact(store: Store) -> None:
    mark(store, "a", 0)
    store.mark_stable(**PAIR, version="A2", artifact="a", deployment_id="d1", now=at(10), reason="passed")
    [row] = store.stable_history(**PAIR)
    assert (row.version, row.status, row.deployment_id, row.since, row.reason) == (
        "A2",
        "stable",
        "d1",
        at(10),
        "passed",
    )
    assert store.artifact_status(**PAIR, artifact="a") == row
    assert store.artifact_status(**PAIR, artifact="zzz") is None
    assert store.stable_history(service="checkout", environment="staging") == []


def test_rollback_candidate_is_the_newest_verified_artifact_not_excluded(store: Store) -> None:
    assert store.rollback_candidate(**PAIR, exclude_artifact="x") is None
    mark(store, "old", 0)
    mark(store, "assumed", 10, status="assumed_stable")
    mark(store, "current", 20)
    mark(store, "broken", 30, status="bad")
    # A newer artifact that only an event named never outranks one that passed verification.
    candidate = store.rollback_candidate(**PAIR, exclude_artifact="current")
    assert candidate is not None and candidate.artifact == "old" and not candidate.assumed
    store.mark_bad(
        **PAIR, version="ASSUMED", artifact="assumed", deployment_id="d9", now=at(40), reason="failed"
    )
    candidate = store.rollback_candidate(**PAIR, exclude_artifact="current")
    assert candidate is not None and candidate.artifact == "old"
    assert [r.artifact for r in store.stable_history(**PAIR)] == ["assumed", "broken", "current", "old"]
    assert store.rollback_candidate(service="checkout", environment="staging", exclude_artifact="x") is None


def test_an_events_previous_artifact_is_an_assumed_hint_only_while_nothing_is_verified(store: Store) -> None:
    mark(store, "hint", 10, status="assumed_stable")
    candidate = store.rollback_candidate(**PAIR, exclude_artifact="current")
    assert candidate is not None and candidate.artifact == "hint" and candidate.assumed
    assert "assumed" in candidate.shown
    # Once anything passed here, the hint is never used, even when the verified one is the failing one.
    mark(store, "current", 20)
    assert store.rollback_candidate(**PAIR, exclude_artifact="current") is None


def test_passed_in_finds_the_newest_verified_deploy_of_that_artifact(store: Store) -> None:
    assert store.passed_in(service="checkout", environment="staging", artifact="art") is None
    first = accept(store, environment="staging", artifact="art", now=at(0))
    store.set_state(verification_id=first.verification.id, to_state="passed", reason="ok", now=at(5))
    second = accept(store, environment="staging", artifact="art", now=at(10))
    store.set_state(verification_id=second.verification.id, to_state="promoted", reason="op", now=at(15))
    failing = accept(store, environment="staging", artifact="art", now=at(20))
    store.set_state(verification_id=failing.verification.id, to_state="failed", reason="x", now=at(25))
    found = store.passed_in(service="checkout", environment="staging", artifact="art")
    assert found == second.deployment
    assert store.passed_in(service="checkout", environment="production", artifact="art") is None
    assert store.passed_in(service="checkout", environment="staging", artifact="other") is None


def test_stable_samples_of_the_newest_passed_verification(store: Store) -> None:
    def run(now: float, outcome_value: float, final: str) -> str:
        result = accept(store, artifact="art", now=at(now))
        vid = result.verification.id
        [v] = store.claim_due(owner="a", now=at(now), lease_s=30, limit=1)
        batch = [
            SampleRow(
                verification_id=vid,
                check_name=check,
                k=k,
                t=30.0 * k,
                taken_at=at(now + 30 * k),
                outcome="pass",
                reason="",
                observed=outcome_value + k,
                warmup=k == 1,
                measurement={},
            )
            for k in (1, 2, 3, 4)
            for check in ("p99", "errors")
        ]
        assert store.record_step(
            verification_id=vid,
            owner="a",
            epoch=v.lease_epoch,
            now=at(now + 121),
            samples=batch,
            next_k=5,
            next_sample_at=None,
            transition=(final, "done"),
        )
        return vid

    assert store.stable_samples(**PAIR, artifact="art", check_name="p99") == []
    run(0, 100.0, "passed")
    newest = run(1000, 200.0, "passed")
    run(2000, 300.0, "failed")
    got = store.stable_samples(**PAIR, artifact="art", check_name="p99")
    assert [(s.verification_id, s.k, s.observed) for s in got] == [(newest, k, 200.0 + k) for k in (2, 3, 4)]
    assert [s.k for s in store.stable_samples(**PAIR, artifact="art", check_name="p99", limit=2)] == [3, 4]


def test_the_guard_rails_read_the_same_candidate(store: Store) -> None:
    """rollback_facts (what the rollback decision weighs) picks by the same rule as rollback_candidate."""
    mark(store, "old", 0)
    mark(store, "backdoor", 10, status="assumed_stable")  # newer, but only an event named it
    accepted = accept(store, artifact="current", previous_artifact="backdoor")
    facts = store.rollback_facts(accepted.deployment.id, since=at(0), now=at(30))
    assert facts.candidate is not None and facts.candidate.artifact == "old"
    assert facts.candidate == store.rollback_candidate(**PAIR, exclude_artifact="current")


def test_start_reads_answer_many_starts_by_the_same_rule(store: Store) -> None:
    """start_reads (a claim of starts read together) gives each deployment its row and rollback_candidate."""
    mark(store, "old", 0)
    mark(store, "current", 20)
    here = accept(store, **PAIR, artifact="current", now=at(30))
    hinted = accept(store, service="checkout", environment="staging", artifact="new", now=at(31))
    store.mark_stable(
        service="checkout",
        environment="staging",
        version="HINT",
        artifact="hint",
        deployment_id=None,
        now=at(5),
        status="assumed_stable",
    )
    found = store.start_reads(
        [(here.deployment.id, "current"), (hinted.deployment.id, "new"), ("no-such-deployment", "x")]
    )
    assert set(found) == {here.deployment.id, hinted.deployment.id}  # a deployment that is gone: left out
    for dep, artifact in ((here.deployment, "current"), (hinted.deployment, "new")):
        row, stable = found[dep.id]
        assert row == store.get_deployment(dep.id)
        expected = store.rollback_candidate(
            service=dep.service, environment=dep.environment, exclude_artifact=artifact
        )
        assert stable == expected and stable is not None
    here_stable, hinted_stable = found[here.deployment.id][1], found[hinted.deployment.id][1]
    assert here_stable is not None and hinted_stable is not None
    assert here_stable.artifact == "old"
    assert hinted_stable.assumed
