"""Operator-facing rows: freezes per (service, environment), optionally expiring; one incident per deployment.

Both are upserts keyed by their natural key, so repeating an operator action or a report update is harmless.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select

from watchdog.store import mapping
from watchdog.store.base import StoreBase, new_id
from watchdog.store.records import FreezeRow, IncidentRow
from watchdog.store.schema import freezes, incidents

fz, inc = freezes.c, incidents.c  # the columns every query here names


class AdminRepo(StoreBase):
    def set_freeze(
        self,
        *,
        service: str,
        environment: str,
        reason: str,
        created_by: str | None,
        expires_at: datetime | None,
        now: datetime,
    ) -> FreezeRow:
        key = {"service": service, "environment": environment}
        values = {
            "reason": reason,
            "created_by": created_by,
            "created_at": mapping.ts(now),
            "expires_at": mapping.ts_opt(expires_at),
        }
        with self._write() as conn:
            self._upsert(conn, freezes, key=key, values=values)
            stmt = select(freezes).where(fz.service == service, fz.environment == environment)
            return self._one(conn, stmt, mapping.freeze, f"no freeze of {service}/{environment}")

    def delete_freeze(self, *, service: str, environment: str) -> bool:
        with self._write() as conn:
            result = conn.execute(delete(freezes).where(fz.service == service, fz.environment == environment))
            return bool(result.rowcount)

    def active_freeze(self, *, service: str, environment: str, now: datetime) -> FreezeRow | None:
        stmt = select(freezes).where(
            fz.service == service,
            fz.environment == environment,
            or_(fz.expires_at.is_(None), fz.expires_at > mapping.ts(now)),
        )
        with self._read() as conn:
            return self._first(conn, stmt, mapping.freeze)

    def list_freezes(self, *, now: datetime) -> list[FreezeRow]:
        stmt = (
            select(freezes)
            .where(or_(fz.expires_at.is_(None), fz.expires_at > mapping.ts(now)))
            .order_by(fz.service, fz.environment)
        )
        with self._read() as conn:
            return self._all(conn, stmt, mapping.freeze)

    def upsert_incident(
        self,
        *,
        deployment_id: str,
        service: str,
        environment: str,
        version: str,
        status: str,
        title: str,
        path: str,
        now: datetime,
    ) -> IncidentRow:
        now = mapping.ts(now)
        values = {
            "service": service,
            "environment": environment,
            "version": version,
            "status": status,
            "title": title,
            "path": path,
            "updated_at": now,
        }
        with self._write() as conn:
            self._upsert(
                conn,
                incidents,
                key={"deployment_id": deployment_id},
                values=values,
                insert_only={"id": new_id(), "created_at": now},
            )
            stmt = select(incidents).where(inc.deployment_id == deployment_id)
            return self._one(conn, stmt, mapping.incident, f"no incident of deployment {deployment_id!r}")

    def get_incident(self, incident_id: str) -> IncidentRow:
        with self._read() as conn:
            stmt = select(incidents).where(inc.id == incident_id)
            return self._one(conn, stmt, mapping.incident, f"no incident {incident_id!r}")

    def incident_for(self, deployment_id: str) -> IncidentRow | None:
        with self._read() as conn:
            return self._first(
                conn, select(incidents).where(inc.deployment_id == deployment_id), mapping.incident
            )

    def list_incidents(
        self, *, service: str | None = None, environment: str | None = None, limit: int = 50
    ) -> list[IncidentRow]:
        stmt = select(incidents)
        if service is not None:
            stmt = stmt.where(inc.service == service)
        if environment is not None:
            stmt = stmt.where(inc.environment == environment)
        stmt = stmt.order_by(inc.created_at.desc(), inc.id.desc()).limit(limit)
        with self._read() as conn:
            return self._all(conn, stmt, mapping.incident)
