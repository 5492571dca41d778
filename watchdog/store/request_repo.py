"""Operator requests: a manual rollback or promotion recorded by any replica, carried out by the lease holder.

One open request per deployment and kind: asking again while one is open answers the same request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from watchdog.store import mapping
from watchdog.store.base import StoreBase, new_id
from watchdog.store.records import OperatorRequestRow
from watchdog.store.schema import operator_requests

OPEN = ("pending", "running")
FINISHED = ("done", "refused", "failed")
rq = operator_requests.c  # the columns every query here names


def _row(row: Any) -> OperatorRequestRow:
    return mapping.operator_request(row)


class RequestRepo(StoreBase):
    def create_request(
        self,
        *,
        deployment_id: str,
        kind: str,
        reason: str,
        requested_by: str | None,
        received_by: str | None,
        now: datetime,
    ) -> tuple[OperatorRequestRow, bool]:
        """(the request, True when it is new); an open request of the same kind is answered instead."""
        now = mapping.ts(now)
        with self._write() as conn:
            # Locks the deployment row on PostgreSQL, so two replicas asking at once make one request.
            self._require_deployment(conn, deployment_id, lock=True)
            open_one = self._first(
                conn,
                select(operator_requests).where(
                    rq.deployment_id == deployment_id, rq.kind == kind, rq.state.in_(OPEN)
                ),
                _row,
            )
            if open_one is not None:
                return open_one, False
            request_id = new_id()
            conn.execute(
                insert(operator_requests).values(
                    id=request_id,
                    deployment_id=deployment_id,
                    kind=kind,
                    state="pending",
                    reason=reason,
                    requested_by=requested_by,
                    received_by=received_by,
                    detail="",
                    created_at=now,
                    updated_at=now,
                )
            )
            stmt = select(operator_requests).where(rq.id == request_id)
            return self._one(conn, stmt, _row, f"no request {request_id!r}"), True

    def get_request(self, request_id: str) -> OperatorRequestRow:
        with self._read() as conn:
            stmt = select(operator_requests).where(rq.id == request_id)
            return self._one(conn, stmt, _row, f"no request {request_id!r}")

    def open_requests(self, *, limit: int = 100) -> list[OperatorRequestRow]:
        """Pending and interrupted (running) requests, oldest first."""
        stmt = select(operator_requests).where(rq.state.in_(OPEN)).order_by(rq.created_at, rq.id).limit(limit)
        with self._read() as conn:
            return self._all(conn, stmt, _row)

    def start_request(self, *, request_id: str, handled_by: str, now: datetime) -> bool:
        """pending|running -> running by `handled_by`; False when it was finished meanwhile."""
        with self._write() as conn:
            result = conn.execute(
                update(operator_requests)
                .where(rq.id == request_id, rq.state.in_(OPEN))
                .values(state="running", handled_by=handled_by, updated_at=mapping.ts(now))
            )
            return int(result.rowcount) == 1

    def finish_request(
        self,
        *,
        request_id: str,
        state: str,
        detail: str,
        now: datetime,
        error: str | None = None,
        rollback_id: str | None = None,
    ) -> OperatorRequestRow:
        if state not in FINISHED:
            raise ValueError(f"a request finishes as one of {FINISHED}, not {state!r}")
        now = mapping.ts(now)
        with self._write() as conn:
            conn.execute(
                update(operator_requests)
                .where(rq.id == request_id, rq.state.in_(OPEN))
                .values(
                    state=state,
                    detail=detail,
                    error=error,
                    rollback_id=rollback_id,
                    updated_at=now,
                    finished_at=now,
                )
            )
            stmt = select(operator_requests).where(rq.id == request_id)
            return self._one(conn, stmt, _row, f"no request {request_id!r}")
