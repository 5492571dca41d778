"""Operator requests (manual rollback and promotion from any replica) and deployments.echo_of.

Additive: echo_of is nullable, so older deployment rows simply carry none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002_11b"
down_revision: str | None = "0002_15"


def upgrade() -> None:
    op.create_table(
        "operator_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=True),
        sa.Column("received_by", sa.String(length=100), nullable=True),
        sa.Column("handled_by", sa.String(length=100), nullable=True),
        sa.Column("error", sa.String(length=50), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("rollback_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_operator_requests_deployment_id_deployments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_requests")),
    )
    op.create_index("ix_operator_requests_state", "operator_requests", ["state"], unique=False)
    op.create_index("ix_operator_requests_deployment", "operator_requests", ["deployment_id"], unique=False)
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("echo_of", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("echo_of")
    op.drop_index("ix_operator_requests_deployment", table_name="operator_requests")
    op.drop_index("ix_operator_requests_state", table_name="operator_requests")
    op.drop_table("operator_requests")
