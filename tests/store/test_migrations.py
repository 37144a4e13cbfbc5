"""The Alembic migrations build the models' schema on both backends, and go down and up again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from store.db import alembic_config, get_engine, migrate
from store.models import Base


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migrations_match_models_and_round_trip(backend: str, database_urls: dict[str, str]) -> None:
    url = database_urls[backend]
    config = alembic_config(url)
    command.check(config)  # raises when the models and the migrated schema differ
    command.downgrade(config, "base")
    assert set(sa.inspect(get_engine(url)).get_table_names()) == {"alembic_version"}
    migrate(url)
    migrate(url)  # idempotent
    tables = set(sa.inspect(get_engine(url)).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_todo_dedup_key_is_unique_per_execution(backend: str, database_urls: dict[str, str]) -> None:
    unique = {
        tuple(c["column_names"])
        for c in sa.inspect(get_engine(database_urls[backend])).get_unique_constraints("todo")
    }
    assert ("task_execution_id", "dedup_key") in unique
