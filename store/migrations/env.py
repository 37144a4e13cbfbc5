"""Alembic environment: runs migrations on the URL set by store.db.alembic_config."""

from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, create_engine, pool
from sqlalchemy.types import TypeEngine

from store.models import Base, Vector

config = context.config
target_metadata = Base.metadata


def compare_type(_context: MigrationContext, _inspected_column: Column[Any], _metadata_column: Column[Any],
                 _inspected_type: TypeEngine[Any], metadata_type: TypeEngine[Any]) -> bool | None:
    """Vector is REAL[] on PostgreSQL and JSON on SQLite by design; compare everything else as usual."""
    return False if isinstance(metadata_type, Vector) else None


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no sqlalchemy.url in the Alembic config: run migrations through store.db.migrate")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=compare_type,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
