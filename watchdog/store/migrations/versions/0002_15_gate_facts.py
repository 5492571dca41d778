"""What a pipeline knew about a deploy (CI and lint status, migration, rollback plan), for the gate.

Also ci_runs: a CI pipeline's finished status per commit (GitLab Pipeline Hooks).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002_15"
down_revision: str | None = "0001"


def upgrade() -> None:
    # Nullable: rows written before this revision simply carry no pipeline facts.
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("pipeline", sa.JSON(), nullable=True))
    op.create_table(
        "ci_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("commit", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ci_runs")),
    )
    op.create_index("ix_ci_runs_service_commit", "ci_runs", ["service", "commit", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_ci_runs_service_commit", table_name="ci_runs")
    op.drop_table("ci_runs")
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("pipeline")
