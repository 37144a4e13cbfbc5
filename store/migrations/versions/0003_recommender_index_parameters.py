"""the Annoy parameters of each recommender version

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recommender_version") as batch:
        batch.add_column(sa.Column("n_trees", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("search_k", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recommender_version") as batch:
        batch.drop_column("search_k")
        batch.drop_column("n_trees")
