"""The state store: SQLAlchemy tables, repository functions and Alembic migrations.

SQLite by default, PostgreSQL for several replicas.
"""

from __future__ import annotations

from watchdog.store.repository import Accepted, Store

__all__ = ["Accepted", "Store"]
