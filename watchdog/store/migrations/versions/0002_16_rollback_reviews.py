"""Rollback reviews (an operator marks a rollback unneeded: the ledger's false rollbacks), and an index
on deployments(received_at, id) for the dashboard's newest-first list.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002_16"
down_revision: str | None = "0002_11b"


def upgrade() -> None:
    op.create_table(
        "rollback_reviews",
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("unneeded", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=200), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_rollback_reviews_deployment_id_deployments"),
        ),
        sa.PrimaryKeyConstraint("deployment_id", name=op.f("pk_rollback_reviews")),
    )
    op.create_index("ix_deployments_received", "deployments", ["received_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_deployments_received", table_name="deployments")
    op.drop_table("rollback_reviews")
