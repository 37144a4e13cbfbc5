"""job run state in the ledger: batches of small jobs, and the state the Jobs API answers from

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 00:55:00
"""

import sqlalchemy as sa
from alembic import op

import store.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job") as batch:
        batch.add_column(sa.Column("batch_run_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("status", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("state_name", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("run_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("scheduled_at", store.models.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("started_at", store.models.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("finished_at", store.models.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("synced_at", store.models.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("result", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job") as batch:
        for column in ("result", "synced_at", "error", "finished_at", "started_at", "scheduled_at", "run_name",
                       "state_name", "status", "batch_run_id"):
            batch.drop_column(column)
