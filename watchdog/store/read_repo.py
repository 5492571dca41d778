"""Reads of deployments and their verifications: single rows, details, filtered pages and state counts.

Pagination is keyset over (received_at, id), newest first, with an opaque base64 cursor.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Table, and_, func, or_, select

from watchdog.errors import StoreError
from watchdog.store import mapping
from watchdog.store.base import StoreBase
from watchdog.store.records import (
    DeploymentDetail,
    DeploymentRow,
    SampleRow,
    TransitionRow,
    VerificationRow,
)
from watchdog.store.schema import deployments, incidents, rollbacks, samples, transitions, verifications

Page = tuple[list[tuple[DeploymentRow, VerificationRow]], str | None]


def encode_cursor(received_at: datetime, deployment_id: str) -> str:
    raw = f"{mapping.ts(received_at).isoformat()}|{deployment_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, deployment_id = raw.split("|", 1)
        return mapping.ts(datetime.fromisoformat(at)), deployment_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise StoreError(f"invalid cursor {cursor!r}") from exc


def _of(table: Table, deployment_id: str, *order: ColumnElement[Any], **equal: str) -> Select[Any]:
    """The rows of `table` that belong to one deployment (and match `equal`), in `order`."""
    where = [table.c.deployment_id == deployment_id, *(table.c[k] == value for k, value in equal.items())]
    return select(table).where(*where).order_by(*order)


def _transitions_of(deployment_id: str) -> Select[Any]:
    return _of(transitions, deployment_id, transitions.c.at, transitions.c.id)


class ReadRepo(StoreBase):
    def get_deployment(self, deployment_id: str) -> DeploymentRow:
        return self._reading(self._get_deployment, deployment_id)

    def _get_deployment(self, conn: Connection, deployment_id: str) -> DeploymentRow:
        stmt = select(deployments).where(deployments.c.id == deployment_id)
        return self._one(conn, stmt, mapping.deployment, f"no deployment {deployment_id!r}")

    def get_verification(self, verification_id: str) -> VerificationRow:
        return self._reading(self._get_verification, verification_id)

    def _get_verification(self, conn: Connection, verification_id: str) -> VerificationRow:
        stmt = select(verifications).where(verifications.c.id == verification_id)
        return self._one(conn, stmt, mapping.verification, f"no verification {verification_id!r}")

    def deploy_verification(self, deployment_id: str) -> VerificationRow:
        return self._reading(self._deploy_verification, deployment_id)

    def _deploy_verification(self, conn: Connection, deployment_id: str) -> VerificationRow:
        stmt = (
            select(verifications)
            .where(verifications.c.deployment_id == deployment_id, verifications.c.kind == "deploy")
            .order_by(verifications.c.created_at)
        )
        return self._one(conn, stmt, mapping.verification, f"no verification of deployment {deployment_id!r}")

    def samples_for(self, verification_id: str) -> list[SampleRow]:
        return self._reading(self._samples_for, verification_id)

    def _samples_for(self, conn: Connection, verification_id: str) -> list[SampleRow]:
        stmt = (
            select(samples)
            .where(samples.c.verification_id == verification_id)
            .order_by(samples.c.k, samples.c.check_name)
        )
        return self._all(conn, stmt, mapping.sample)

    def transitions_for(self, deployment_id: str) -> list[TransitionRow]:
        with self._read() as conn:
            return self._all(conn, _transitions_of(deployment_id), mapping.transition)

    def deployment_detail(self, deployment_id: str) -> DeploymentDetail:
        with self._read() as conn:
            deployment = self._get_deployment(conn, deployment_id)
            verification = self._deploy_verification(conn, deployment_id)
            transition_rows = self._all(conn, _transitions_of(deployment_id), mapping.transition)
            r, rv = rollbacks.c, verifications.c
            rollback_stmt = _of(rollbacks, deployment_id, r.requested_at, r.id)
            rollback_rows = self._all(conn, rollback_stmt, mapping.rollback)
            others_stmt = _of(verifications, deployment_id, rv.created_at, rv.id, kind="rollback")
            others = self._all(conn, others_stmt, mapping.verification)
            incident = self._first(
                conn, select(incidents).where(incidents.c.deployment_id == deployment_id), mapping.incident
            )
            return DeploymentDetail(
                deployment=deployment,
                verification=verification,
                samples=self._samples_for(conn, verification.id),
                transitions=transition_rows,
                rollbacks=rollback_rows,
                rollback_verifications=others,
                incident=incident,
                rollback_samples=[s for rv in others for s in self._samples_for(conn, rv.id)],
            )

    def list_deployments(
        self,
        *,
        service: str | None = None,
        environment: str | None = None,
        state: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        if limit < 1:
            raise StoreError("limit must be at least 1")
        d, v = deployments.c, verifications.c
        stmt = select(deployments, verifications).join(
            verifications, and_(v.deployment_id == d.id, v.kind == "deploy")
        )
        if service is not None:
            stmt = stmt.where(d.service == service)
        if environment is not None:
            stmt = stmt.where(d.environment == environment)
        if state is not None:
            stmt = stmt.where(v.state == state)
        if cursor is not None:
            at, last_id = decode_cursor(cursor)
            stmt = stmt.where(or_(d.received_at < at, and_(d.received_at == at, d.id < last_id)))
        if state is None:
            # The page's ids first, walking ix_deployments_received backwards: the planner would otherwise
            # join and sort every deployment (policy JSON and all) to keep 51 of 10,000.
            page_ids = (
                stmt.with_only_columns(d.id).order_by(d.received_at.desc(), d.id.desc()).limit(limit + 1)
            )
            stmt = select(deployments, verifications).join(
                verifications, and_(v.deployment_id == d.id, v.kind == "deploy")
            )
            stmt = stmt.where(d.id.in_(page_ids.scalar_subquery()))
        # One row more than asked tells whether another page exists without a COUNT.
        stmt = stmt.order_by(d.received_at.desc(), d.id.desc()).limit(limit + 1)
        page: list[tuple[DeploymentRow, VerificationRow]] = []
        with self._read() as conn:
            # Both tables have `id` and friends: select by column object, not by name.
            for raw in conn.execute(stmt):
                dep = mapping.deployment({c.name: raw._mapping[c] for c in deployments.c})
                ver = mapping.verification({c.name: raw._mapping[c] for c in verifications.c})
                page.append((dep, ver))
        if len(page) <= limit:
            return page, None
        page = page[:limit]
        last = page[-1][0]
        return page, encode_cursor(last.received_at, last.id)

    def count_by_state(self) -> dict[str, int]:
        stmt = (
            select(verifications.c.state, func.count())
            .where(verifications.c.kind == "deploy")
            .group_by(verifications.c.state)
        )
        with self._read() as conn:
            return {str(state): int(n) for state, n in conn.execute(stmt)}
