"""Intake writes: a deploy event becomes deployment + verification + transition + delivery in one transaction.

Deliveries are unique per (source, delivery_id), so a sender's retry gets the first answer and writes nothing.
accept_events writes a batch of events in one transaction (one fsync); a failing item fails alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NotRequired, TypedDict, Unpack, cast

from sqlalchemy import Connection, bindparam, exists, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from watchdog.analysis.timing import samples_total
from watchdog.errors import StoreError
from watchdog.events import SAMPLING, DeployEvent, State
from watchdog.policy.service import Verification
from watchdog.store import mapping
from watchdog.store.base import new_id
from watchdog.store.delivery_repo import DeliveryRepo
from watchdog.store.records import DeliveryRow, DeploymentRow, VerificationRow
from watchdog.store.schema import (
    deliveries,
    deployments,
    rollbacks,
    stable_artifacts,
    verifications,
)
from watchdog.store.verification_inserts import insert_transition, insert_verification

ACCEPTED_STATUS = 202
# A deploy system echoes our rollback within minutes (Argo CD's next sync, a GitLab pipeline); an hour is
# the horizon of the rollback budget too. Rollbacks that asked nothing of a target have no echo.
ECHO_WINDOW = timedelta(hours=1)
_NO_ECHO_STATES = ("refused", "dry_run")
_SAMPLING_STATES = sorted(s.value for s in SAMPLING)

# Built once: a statement object built per event costs more in SQLAlchemy than the SQLite insert itself,
# while a constant one hits the compiled cache at once (its parameters are passed at execute time).
_INSERT_DELIVERY = insert(deliveries)
_INSERT_DEPLOYMENT = insert(deployments)
_SUPERSEDE = (
    update(verifications)
    .where(verifications.c.id == bindparam("old_id"))
    .values(
        state=State.SUPERSEDED.value,
        reason=bindparam("new_reason"),
        next_sample_at=None,
        finished_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
)
# Every column a fresh row has unset is NULL (each one with a default is set explicitly below), so the
# answer is built from the values written instead of being read back.
_DEPLOYMENT_NULLS = dict.fromkeys(deployments.c.keys())
_ECHO = (
    select(rollbacks.c.id, rollbacks.c.deployment_id)
    .where(
        rollbacks.c.service == bindparam("service"),
        rollbacks.c.environment == bindparam("environment"),
        rollbacks.c.to_artifact == bindparam("artifact"),
        rollbacks.c.state.not_in(_NO_ECHO_STATES),
        rollbacks.c.requested_at >= bindparam("since"),
    )
    .order_by(rollbacks.c.requested_at.desc(), rollbacks.c.id.desc())
    .limit(1)
)
# The live verification(s) of the same service+environment, driven from ix_verifications_state and
# checked against their deployment by primary key: the cost follows how many verifications are live,
# not how many deploys the service ever had (a join from deployments walked all of them).
_LIVE_SAME_SERVICE = (
    select(verifications.c.id, verifications.c.deployment_id, verifications.c.state)
    .where(
        verifications.c.state.in_(_SAMPLING_STATES),
        verifications.c.kind == "deploy",
        exists().where(
            deployments.c.id == verifications.c.deployment_id,
            deployments.c.service == bindparam("service"),
            deployments.c.environment == bindparam("environment"),
            deployments.c.id != bindparam("deployment_id"),
        ),
    )
    .order_by(verifications.c.created_at)
)
_LIVE_SAME_SERVICE_LOCKED = _LIVE_SAME_SERVICE.with_for_update(of=verifications)
# PostgreSQL: the live verifications of every service+environment of a batch, locked at its start in id
# order (the engine's step batches and renew_leases lock in that order too). Locked event by event, two
# batches naming two services in opposite orders each held a row the other wanted: a deadlock, a retry
# and, met again, 503s for the whole batch.
_LOCK_LIVE_OF_KEYS = (
    select(verifications.c.id)
    .where(
        verifications.c.state.in_(_SAMPLING_STATES),
        verifications.c.kind == "deploy",
        exists().where(
            deployments.c.id == verifications.c.deployment_id,
            tuple_(deployments.c.service, deployments.c.environment).in_(bindparam("keys", expanding=True)),
        ),
    )
    .order_by(verifications.c.id)
    .with_for_update(of=verifications)
)


class EventIntake(TypedDict):
    """The keywords of `accept_event`, and one item of an `accept_events` batch."""

    event: DeployEvent
    source: str  # generic | github | gitlab | argocd | rollback | cli
    delivery_id: str | None  # the sender's idempotency key, unique per source
    policy: dict[str, Any]  # the resolved environment policy, stored with the deployment
    now: datetime
    rollback_of: NotRequired[str | None]  # the failed deployment this deploy restores from


class AnsweredBefore(StoreError):
    """A batched event's delivery id was answered before, without a deployment: that answer stands."""

    def __init__(self, delivery: DeliveryRow) -> None:
        super().__init__(f"delivery {delivery.source}/{delivery.delivery_id} was answered before")
        self.delivery = delivery


@dataclass(frozen=True)
class Accepted:
    """What accept_event did: the rows, which deployments it superseded, and the answer to send back."""

    deployment: DeploymentRow
    verification: VerificationRow
    superseded: list[str]  # deployment ids whose running verification this event superseded
    duplicate: bool
    response: dict[str, Any] = field(default_factory=dict)
    status_code: int = ACCEPTED_STATUS


def sampling_plan(policy: dict[str, Any]) -> tuple[float, int]:
    """(interval_s, samples_total) from a policy's `verification` block, its defaults filling gaps."""
    timing = Verification.model_validate(policy.get("verification") or {})
    if timing.interval <= 0:
        raise StoreError("verification interval must be positive")
    return timing.interval, samples_total(timing.duration, timing.interval)


class IntakeRepo(DeliveryRepo):
    def accept_event(self, **intake: Unpack[EventIntake]) -> Accepted:
        source, delivery_id = intake["source"], intake["delivery_id"]
        if delivery_id is not None:
            first = self.find_delivery(source=source, delivery_id=delivery_id)
            if first is not None:
                return self._duplicate(first)
        try:
            with self._write() as conn:
                return self._accept(conn, **intake)
        except IntegrityError:
            # The unique (source, delivery_id) decided a race between two deliveries of one event.
            if delivery_id is None:
                raise
            first = self.find_delivery(source=source, delivery_id=delivery_id)
            if first is None:
                raise
            return self._duplicate(first)

    def accept_events(self, batch: list[EventIntake]) -> list[Accepted | Exception]:
        """Each item's accept_event keywords, written in one transaction: one fsync for the whole batch.

        An item that fails (a duplicate delivery, a bad policy) rolls back its own savepoint only; the
        answers are returned only after the COMMIT, so no caller hears "accepted" before it is durable.
        The batch is first written without savepoints (two statements per event, a fifth of its cost);
        only when an item fails is it written again, savepoint by savepoint.
        """
        try:
            with self._write() as conn:
                self._lock_live(conn, batch)
                return [self._accept(conn, **item) for item in batch]
        except (IntegrityError, StoreError):  # rolled back whole: nothing of the batch was kept
            pass
        except Exception as exc:  # the COMMIT (or the store) failed: nothing of the batch is kept
            return [exc for _ in batch]
        return self._accept_each(batch)

    def _accept_each(self, batch: list[EventIntake]) -> list[Accepted | Exception]:
        """accept_events for a batch with a failing item: each item inside its own savepoint."""
        results: list[Accepted | Exception | None] = []
        try:
            with self._write() as conn:
                self._lock_live(conn, batch)
                for item in batch:
                    try:
                        with conn.begin_nested():
                            results.append(self._accept(conn, **item))
                    except IntegrityError as exc:
                        results.append(None if item.get("delivery_id") is not None else exc)
                    except StoreError as exc:
                        results.append(exc)
        except Exception as exc:  # the COMMIT (or the store) failed: nothing of the batch is kept
            return [exc for _ in batch]
        # A duplicate delivery (perhaps of an event earlier in this very batch) answers the first answer.
        done: list[Accepted | Exception] = []
        for item, result in zip(batch, results, strict=True):
            if result is not None:
                done.append(result)
                continue
            # Only an item with a delivery id gets None: that id was answered before (perhaps in this batch).
            delivery_id = item["delivery_id"]
            first = (
                None
                if delivery_id is None
                else self.find_delivery(source=item["source"], delivery_id=delivery_id)
            )
            if first is None:
                done.append(StoreError("a duplicate delivery's first answer is gone"))
            elif first.deployment_id is None:
                done.append(AnsweredBefore(first))
            else:
                done.append(self._duplicate(first))
        return done

    def _lock_live(self, conn: Connection, batch: list[EventIntake]) -> None:
        """PostgreSQL, a batch of more than one service+environment: their live rows locked in id order."""
        keys = sorted({(item["event"].service, item["event"].environment) for item in batch})
        if self._postgres and len(keys) > 1:
            conn.execute(_LOCK_LIVE_OF_KEYS, {"keys": keys})

    def _duplicate(self, first: DeliveryRow) -> Accepted:
        if first.deployment_id is None:
            raise StoreError(f"delivery {first.source}/{first.delivery_id} was answered without a deployment")
        with self._read() as conn:
            deployment = self._get_deployment(conn, first.deployment_id)
            verification = self._deploy_verification(conn, first.deployment_id)
        return Accepted(
            deployment=deployment,
            verification=verification,
            superseded=[],
            duplicate=True,
            response=dict(first.response),
            status_code=first.status_code,
        )

    def _accept(self, conn: Connection, **intake: Unpack[EventIntake]) -> Accepted:
        event, source, delivery_id = intake["event"], intake["source"], intake["delivery_id"]
        policy, now, rollback_of = intake["policy"], mapping.ts(intake["now"]), intake.get("rollback_of")
        deployment_id, verification_id = new_id(), new_id()
        response = {"deployment_id": deployment_id, "state": State.PENDING.value}
        if delivery_id is not None:
            # First, so a concurrent duplicate fails on the unique index before doing any other work.
            conn.execute(
                _INSERT_DELIVERY,
                {
                    "source": source,
                    "delivery_id": delivery_id,
                    "received_at": now,
                    "status_code": ACCEPTED_STATUS,
                    "response": response,
                    "deployment_id": deployment_id,
                },
            )
        deployed_at = mapping.ts(event.deployed_at) if event.deployed_at else now
        echo = self._echoed_rollback(conn, event=event, now=now)
        accepted_reason = f"event accepted from {source}"
        if echo is not None:
            echo_id, failed_id = echo
            rollback_of = rollback_of or failed_id
            accepted_reason += (
                f"; the echo of rollback {echo_id} (it restored {event.artifact} after deployment "
                f"{failed_id} failed): verified, never rolled back automatically"
            )
        deployment = {
            "id": deployment_id,
            "service": event.service,
            "environment": event.environment,
            "version": event.version,
            "artifact": event.artifact,
            "previous_version": event.previous_version,
            "previous_artifact": event.previous_artifact,
            "deployed_at": deployed_at,
            "received_at": now,
            "deployer": event.deployer,
            "commit": event.commit,
            "changelog_url": event.changelog_url,
            "rollback_safe": event.rollback_safe,
            "is_rollback": event.is_rollback or echo is not None,
            "labels": dict(event.labels),
            "source": source,
            "rollback_of": rollback_of,
            "echo_of": echo[0] if echo is not None else None,
            "policy": policy,
            "pipeline": event.pipeline_facts(),
        }
        conn.execute(_INSERT_DEPLOYMENT, deployment)
        superseded = self._supersede(conn, event=event, deployment_id=deployment_id, now=now)
        interval_s, samples_total = sampling_plan(policy)
        verification = insert_verification(
            conn,
            verification_id=verification_id,
            deployment_id=deployment_id,
            kind="deploy",
            version=event.version,
            artifact=event.artifact,
            starts_at=deployed_at,
            interval_s=interval_s,
            samples_total=samples_total,
            policy=policy,
            first_sample_at=now,  # due at the next tick
            now=now,
            reason="",
            transition_reason=accepted_reason,
        )
        if event.previous_artifact:
            self._assume_stable(conn, event=event, deployment_id=deployment_id, now=now)
        return Accepted(
            deployment=mapping.deployment(cast(Any, _DEPLOYMENT_NULLS | deployment)),
            verification=verification,
            superseded=superseded,
            duplicate=False,
            response=response,
            status_code=ACCEPTED_STATUS,
        )

    def _echoed_rollback(
        self, conn: Connection, *, event: DeployEvent, now: datetime
    ) -> tuple[str, str] | None:
        """(rollback id, failed deployment id) of a recent rollback that restored this very artifact."""
        params = {
            "service": event.service,
            "environment": event.environment,
            "artifact": event.artifact,
            "since": now - ECHO_WINDOW,
        }
        found = conn.execute(_ECHO, params).first()
        return None if found is None else (str(found[0]), str(found[1]))

    def _supersede(
        self, conn: Connection, *, event: DeployEvent, deployment_id: str, now: datetime
    ) -> list[str]:
        stmt = _LIVE_SAME_SERVICE_LOCKED if self._postgres else _LIVE_SAME_SERVICE
        params = {"service": event.service, "environment": event.environment, "deployment_id": deployment_id}
        reason = f"superseded by {event.version} ({deployment_id})"
        done: list[str] = []
        for old_id, old_deployment, old_state in conn.execute(stmt, params).all():
            conn.execute(_SUPERSEDE, {"old_id": old_id, "new_reason": reason, "now": now})
            insert_transition(
                conn,
                verification_id=old_id,
                deployment_id=old_deployment,
                from_state=old_state,
                to_state=State.SUPERSEDED.value,
                reason=reason,
                now=now,
            )
            done.append(str(old_deployment))
        return done

    def _assume_stable(
        self, conn: Connection, *, event: DeployEvent, deployment_id: str, now: datetime
    ) -> None:
        """The artifact a deploy replaced was live before it: a rollback candidate until proven otherwise."""
        s = stable_artifacts.c
        artifact = event.previous_artifact or ""
        exists = conn.execute(
            select(s.id).where(
                s.service == event.service, s.environment == event.environment, s.artifact == artifact
            )
        ).first()
        if exists is not None:
            return
        try:
            # A savepoint, so losing a race on the unique key does not undo the whole intake.
            with conn.begin_nested():
                conn.execute(
                    insert(stable_artifacts).values(
                        service=event.service,
                        environment=event.environment,
                        version=event.previous_version or artifact,
                        artifact=artifact,
                        status="assumed_stable",
                        deployment_id=None,
                        since=now,
                        reason=f"was live before deployment {deployment_id}",
                    )
                )
        except IntegrityError:
            pass
