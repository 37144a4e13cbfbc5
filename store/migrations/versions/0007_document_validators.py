"""document validators: a webpage's ETag and Last-Modified, for conditional GET on update

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 00:55:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("document") as batch:
        batch.add_column(sa.Column("etag", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("last_modified", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("document") as batch:
        batch.drop_column("last_modified")
        batch.drop_column("etag")
