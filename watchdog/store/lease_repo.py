"""Leases on due verifications: claim (SKIP LOCKED on PostgreSQL), renew and release.

A claim that changes hands bumps `lease_epoch`; engine_repo's fenced writes check it, so a stalled replica
that lost its lease writes nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update

from watchdog.events import FINAL, SAMPLING, State
from watchdog.store import mapping
from watchdog.store.base import StoreBase
from watchdog.store.records import VerificationRow
from watchdog.store.schema import verifications

_SAMPLING = [s.value for s in SAMPLING]
_FINAL = [s.value for s in FINAL]
v = verifications.c  # the columns every query here names


_HEX = "0123456789abcdef"


def _share(index: int, count: int) -> ColumnElement[bool]:
    """Worker `index` of `count`: the rows whose id (a random hex uuid) begins with one of its digits.

    Worker 0 also takes any id that begins otherwise. A lapsed lease is anyone's (a worker that died).
    """
    mine = [c for i, c in enumerate(_HEX) if i % count == index]
    first = func.substr(v.id, 1, 1)
    if index == 0:
        return first.not_in([c for c in _HEX if c not in mine])
    return first.in_(mine)


class LeaseRepo(StoreBase):
    def claim_due(
        self,
        *,
        owner: str,
        now: datetime,
        lease_s: float,
        limit: int,
        partition: tuple[int, int] | None = None,
        exclude: Collection[str] = (),
        adopt: Collection[str] = (),
    ) -> list[VerificationRow]:
        """`partition` (index, count): of the unleased rows, only this worker's share (`serve --workers`).

        `exclude`: ids the caller is stepping right now (they are due still, and leased to it already).
        `adopt`: owners known not to run (the serving process's workers that are dead or still starting),
        whose leases are taken over as if lapsed; the epoch moves, fencing whatever they might still write.
        """
        now = mapping.ts(now)
        free: ColumnElement[bool] = v.lease_owner.is_(None)
        if partition is not None:
            # A share its worker has not claimed for a lease's length (it died, or is still starting) is
            # anyone's: a free row is never left unwatched.
            overdue = v.next_sample_at < now - timedelta(seconds=lease_s)
            free = and_(free, or_(_share(*partition), overdue))
        # On SQLite, `state || ''` keeps the planner off ix_verifications_state: through it every claim read
        # every running verification and sorted them all (the cost per sample that grew with their
        # number); the due index's range holds only what is due, already in order.
        state = v.state if self._postgres else v.state.concat("")
        return self._claim(
            verifications,
            where=[
                state.in_(_SAMPLING),
                v.next_sample_at <= now,
                or_(
                    free,
                    v.lease_until < now,
                    v.lease_owner == owner,
                    *([v.lease_owner.in_(list(adopt))] if adopt else []),
                ),
                *([v.id.not_in(list(exclude))] if exclude else []),
            ],
            order=[v.next_sample_at, v.id],
            limit=limit,
            # SET sees the old row: the epoch moves only when the lease changes hands.
            values={
                "lease_epoch": case((v.lease_owner == owner, v.lease_epoch), else_=v.lease_epoch + 1),
                "lease_owner": owner,
                "lease_until": now + timedelta(seconds=lease_s),
            },
            build=mapping.verification,
        )

    def take_lease(self, *, verification_id: str, owner: str, now: datetime, lease_s: float) -> bool:
        """Takes one verification's lease when it is free, lapsed or already ours (one atomic UPDATE).

        For work that is not a due sample, such as finishing a rollback another replica began and then died.
        """
        now = mapping.ts(now)
        with self._write() as conn:
            result = conn.execute(
                update(verifications)
                .where(
                    v.id == verification_id,
                    or_(v.lease_owner.is_(None), v.lease_until < now, v.lease_owner == owner),
                )
                .values(
                    lease_epoch=case((v.lease_owner == owner, v.lease_epoch), else_=v.lease_epoch + 1),
                    lease_owner=owner,
                    lease_until=now + timedelta(seconds=lease_s),
                )
            )
            return int(result.rowcount) == 1

    def renew_leases(self, *, owner: str, now: datetime, lease_s: float) -> int:
        """Extends every lease `owner` holds; on PostgreSQL its rows are locked in id order first.

        A plain UPDATE locked them in scan order while the owner's step batch (engine_repo, another
        connection) held some of them in its own order: each waited for a row the other held
        (DeadlockDetected). Now both lock in id order, so neither can wait on the other in a cycle.
        """
        until = mapping.ts(now) + timedelta(seconds=lease_s)
        mine = [v.lease_owner == owner, v.state.not_in(_FINAL)]
        where = mine
        if self._postgres:
            # MATERIALIZED: the CTE runs once, its LockRows above the sort, and the UPDATE joins it by
            # primary key (a semi-join's inner side could be rescanned per row when statistics are thin).
            ordered = select(v.id).where(*mine).order_by(v.id).with_for_update()
            locked = ordered.cte("mine").prefix_with("MATERIALIZED")
            where = [v.id == locked.c.id]
        with self._write(patient=True) as conn:
            result = conn.execute(update(verifications).where(*where).values(lease_until=until))
            return int(result.rowcount)

    def release(self, *, verification_id: str, owner: str) -> None:
        with self._write() as conn:
            conn.execute(
                update(verifications)
                .where(v.id == verification_id, v.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    def release_all(self, *, owner: str) -> int:
        """Lets go of the leases `owner` holds (a clean shutdown), so another replica takes them at once.

        A deployment that is rolling back keeps its lease until it lapses: a target call still in flight
        must not be started a second time by another replica's recovery. The epoch stays; whoever claims
        next bumps it, which fences any write this process still has queued.
        """
        with self._write() as conn:
            result = conn.execute(
                update(verifications)
                .where(v.lease_owner == owner, v.state != State.ROLLING_BACK.value)
                .values(lease_owner=None, lease_until=None)
            )
            return int(result.rowcount)
