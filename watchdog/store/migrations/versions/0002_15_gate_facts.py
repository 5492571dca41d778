"""What a pipeline knew about a deploy (CI and lint status, migration, rollback plan), for the gate.

Revision ID: 0002_15
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_15"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: rows written before this revision simply carry no pipeline facts.
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("pipeline", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("pipeline")
