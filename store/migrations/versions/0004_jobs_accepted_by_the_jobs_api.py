"""jobs accepted by the Jobs API

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 08:16:18
"""

from alembic import op
import sqlalchemy as sa
import store.models


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=200), nullable=False),
    sa.Column('deployment_id', sa.String(length=36), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('created_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('flow_run_id', sa.String(length=36), nullable=True),
    sa.Column('next_attempt_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('dispatch_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('dispatch_error', sa.Text(), nullable=True),
    sa.Column('cancel_requested', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('final_status', sa.String(length=20), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job')),
    sa.UniqueConstraint('flow_run_id', name=op.f('uq_job_flow_run_id')),
    sa.UniqueConstraint('type', 'idempotency_key', name=op.f('uq_job_type_idempotency_key'))
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_job_final_status_created', ['final_status', 'created_at'], unique=False)
        batch_op.create_index('ix_job_type_created', ['type', 'created_at'], unique=False)
        batch_op.create_index('ix_job_undispatched', ['next_attempt_at'], unique=False, postgresql_where=sa.text('flow_run_id IS NULL'), sqlite_where=sa.text('flow_run_id IS NULL'))



def downgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('ix_job_undispatched', postgresql_where=sa.text('flow_run_id IS NULL'), sqlite_where=sa.text('flow_run_id IS NULL'))
        batch_op.drop_index('ix_job_type_created')
        batch_op.drop_index('ix_job_final_status_created')
        batch_op.drop_index(batch_op.f('ix_job_created_at'))

    op.drop_table('job')
