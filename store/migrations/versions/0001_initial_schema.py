"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 04:49:19.198747
"""

from alembic import op
import sqlalchemy as sa
import store.models


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('publication',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('abstract', sa.Text(), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('updated_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publication'))
    )
    op.create_table('recommender_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('artifact_uri', sa.Text(), nullable=False),
    sa.Column('checksum', sa.String(length=128), nullable=False),
    sa.Column('model_name', sa.String(length=200), nullable=False),
    sa.Column('dim', sa.Integer(), nullable=False),
    sa.Column('n_items', sa.Integer(), nullable=False),
    sa.Column('n_sentences', sa.Integer(), nullable=False),
    sa.Column('is_current', sa.Boolean(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recommender_version'))
    )
    with op.batch_alter_table('recommender_version', schema=None) as batch_op:
        batch_op.create_index('uq_recommender_version_current', ['is_current'], unique=True, postgresql_where=sa.text('is_current'), sqlite_where=sa.text('is_current'))

    op.create_table('task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('definition', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task')),
    sa.UniqueConstraint('name', name=op.f('uq_task_name'))
    )
    op.create_table('user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('language_code', sa.String(length=16), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('goal', sa.Text(), nullable=True),
    sa.Column('company_description', sa.Text(), nullable=True),
    sa.Column('todo_email_opt_in', sa.Boolean(), server_default='1', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user')),
    sa.UniqueConstraint('email', name=op.f('uq_user_email'))
    )
    op.create_table('collection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('updated_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_user_id'], ['user.id'], name=op.f('fk_collection_owner_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_collection'))
    )
    with op.batch_alter_table('collection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_collection_owner_user_id'), ['owner_user_id'], unique=False)

    op.create_table('event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('dedup_key', sa.String(length=255), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_event_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event')),
    sa.UniqueConstraint('dedup_key', name=op.f('uq_event_dedup_key'))
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_user_id'), ['user_id'], unique=False)

    op.create_table('task_execution',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('created_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('previous_execution_id', sa.Integer(), nullable=True),
    sa.Column('todos_extracted_at', store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('todos_extracted_from_version', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['previous_execution_id'], ['task_execution.id'], name=op.f('fk_task_execution_previous_execution_id_task_execution'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_task_execution_task_id_task')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_task_execution_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_execution'))
    )
    with op.batch_alter_table('task_execution', schema=None) as batch_op:
        batch_op.create_index('ix_task_execution_user_ended', ['user_id', 'ended_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_execution_user_id'), ['user_id'], unique=False)

    op.create_table('document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('source_uri', sa.Text(), nullable=True),
    sa.Column('collection_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', store.models.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('webpage', 'text', 'pdf')", name=op.f('ck_document_kind')),
    sa.CheckConstraint("status IN ('pending', 'ready', 'failed')", name=op.f('ck_document_status')),
    sa.ForeignKeyConstraint(['collection_id'], ['collection.id'], name=op.f('fk_document_collection_id_collection'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_user_id'], ['user.id'], name=op.f('fk_document_owner_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document'))
    )
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_owner_user_id'), ['owner_user_id'], unique=False)

    op.create_table('message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_execution_id', sa.Integer(), nullable=False),
    sa.Column('sender', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('sent_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("sender IN ('user', 'assistant')", name=op.f('ck_message_sender')),
    sa.ForeignKeyConstraint(['task_execution_id'], ['task_execution.id'], name=op.f('fk_message_task_execution_id_task_execution'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message'))
    )
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index('ix_message_execution_sent', ['task_execution_id', 'sent_at'], unique=False)

    op.create_table('produced_text_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_execution_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['task_execution_id'], ['task_execution.id'], name=op.f('fk_produced_text_version_task_execution_id_task_execution'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_produced_text_version'))
    )
    with op.batch_alter_table('produced_text_version', schema=None) as batch_op:
        batch_op.create_index('ix_produced_text_version_execution_created', ['task_execution_id', 'created_at'], unique=False)

    op.create_table('source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('collection_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=500), nullable=False),
    sa.Column('object_key', sa.String(length=1000), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('ingested_at', store.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['collection_id'], ['collection.id'], name=op.f('fk_source_collection_id_collection'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source'))
    )
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_collection_id'), ['collection_id'], unique=False)

    op.create_table('todo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_execution_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('dedup_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_by_user_at', store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_by_system_at', store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deletion_reason', sa.Text(), nullable=True),
    sa.Column('source_run_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['task_execution_id'], ['task_execution.id'], name=op.f('fk_todo_task_execution_id_task_execution'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_todo_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_todo')),
    sa.UniqueConstraint('task_execution_id', 'dedup_key', name=op.f('uq_todo_task_execution_id_dedup_key'))
    )
    with op.batch_alter_table('todo', schema=None) as batch_op:
        batch_op.create_index('ix_todo_user_open', ['user_id', 'completed_at', 'deleted_by_user_at', 'deleted_by_system_at'], unique=False)

    op.create_table('document_chunk',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('embedding_model', sa.String(length=200), nullable=True),
    sa.Column('embedding', store.models.Vector(), nullable=True),
    sa.Column('created_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], name=op.f('fk_document_chunk_document_id_document'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_chunk')),
    sa.UniqueConstraint('document_id', 'position', name=op.f('uq_document_chunk_document_id_position'))
    )
    op.create_table('todo_scheduling',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('todo_id', sa.Integer(), nullable=False),
    sa.Column('scheduled_for', sa.Date(), nullable=False),
    sa.Column('created_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('justification', sa.Text(), nullable=True),
    sa.Column('source_run_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['todo_id'], ['todo.id'], name=op.f('fk_todo_scheduling_todo_id_todo'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_todo_scheduling'))
    )
    with op.batch_alter_table('todo_scheduling', schema=None) as batch_op:
        batch_op.create_index('ix_todo_scheduling_todo_created', ['todo_id', 'created_at', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('todo_scheduling', schema=None) as batch_op:
        batch_op.drop_index('ix_todo_scheduling_todo_created')

    op.drop_table('todo_scheduling')
    op.drop_table('document_chunk')
    with op.batch_alter_table('todo', schema=None) as batch_op:
        batch_op.drop_index('ix_todo_user_open')

    op.drop_table('todo')
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_collection_id'))

    op.drop_table('source')
    with op.batch_alter_table('produced_text_version', schema=None) as batch_op:
        batch_op.drop_index('ix_produced_text_version_execution_created')

    op.drop_table('produced_text_version')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_execution_sent')

    op.drop_table('message')
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_owner_user_id'))

    op.drop_table('document')
    with op.batch_alter_table('task_execution', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_execution_user_id'))
        batch_op.drop_index('ix_task_execution_user_ended')

    op.drop_table('task_execution')
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_user_id'))

    op.drop_table('event')
    with op.batch_alter_table('collection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_collection_owner_user_id'))

    op.drop_table('collection')
    op.drop_table('user')
    op.drop_table('task')
    with op.batch_alter_table('recommender_version', schema=None) as batch_op:
        batch_op.drop_index('uq_recommender_version_current', postgresql_where=sa.text('is_current'), sqlite_where=sa.text('is_current'))

    op.drop_table('recommender_version')
    op.drop_table('publication')
