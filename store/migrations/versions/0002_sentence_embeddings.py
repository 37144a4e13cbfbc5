"""sentence embeddings of the recommender

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 05:20:00
"""

import sqlalchemy as sa
from alembic import op

import store.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sentence_embedding",
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", store.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("content_hash", "model_name", name=op.f("pk_sentence_embedding")),
    )


def downgrade() -> None:
    op.drop_table("sentence_embedding")
