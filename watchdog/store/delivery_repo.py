"""Webhook deliveries: one row per (source, delivery_id) holding the answer given, so a retry gets it again.

accept_event (intake_repo.py) writes the row of an accepted event; record_delivery the ignored ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from watchdog.errors import StoreError
from watchdog.store import mapping
from watchdog.store.read_repo import ReadRepo
from watchdog.store.records import DeliveryRow
from watchdog.store.schema import deliveries


class DeliveryRepo(ReadRepo):
    def find_delivery(self, *, source: str, delivery_id: str) -> DeliveryRow | None:
        with self._read() as conn:
            return self._find_delivery(conn, source=source, delivery_id=delivery_id)

    def _find_delivery(self, conn: Connection, *, source: str, delivery_id: str) -> DeliveryRow | None:
        stmt = select(deliveries).where(
            deliveries.c.source == source, deliveries.c.delivery_id == delivery_id
        )
        return self._first(conn, stmt, mapping.delivery)

    def record_delivery(
        self, *, source: str, delivery_id: str, status_code: int, response: dict[str, Any], now: datetime
    ) -> DeliveryRow:
        values = {
            "source": source,
            "delivery_id": delivery_id,
            "received_at": mapping.ts(now),
            "status_code": status_code,
            "response": dict(response),
            "deployment_id": response.get("deployment_id"),
        }
        try:
            with self._write() as conn:
                conn.execute(insert(deliveries).values(**values))
        except IntegrityError:
            pass  # a retry raced us: the first answer stands
        found = self.find_delivery(source=source, delivery_id=delivery_id)
        if found is None:
            raise StoreError(f"delivery {source}/{delivery_id} vanished after it was written")
        return found
