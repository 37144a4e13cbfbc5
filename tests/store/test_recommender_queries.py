"""The recommender's publication reads and writes, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.orm.exc import StaleDataError

from store import recommender as queries
from store.db import session_scope
from store.models import Publication


def _publications(url: str, bodies: list[str | None]) -> list[int]:
    with session_scope(url) as session:
        rows = [Publication(title=f"publication {i}", body=body) for i, body in enumerate(bodies)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def test_bodies_read_and_replaced_in_bulk(db_url: str) -> None:
    ids = _publications(db_url, ["first body", None, "third body"])
    with session_scope(db_url) as session:
        assert queries.publication_bodies(session, ids) == {ids[0]: "first body", ids[1]: "", ids[2]: "third body"}
        assert queries.publication_bodies(session, [max(ids) + 100]) == {}
    with session_scope(db_url) as session:
        queries.set_publication_bodies(session, {ids[0]: "revised", ids[1]: "now with a body"})
        queries.set_publication_bodies(session, {})
    with session_scope(db_url) as session:
        assert queries.publication_bodies(session, ids) == {
            ids[0]: "revised",
            ids[1]: "now with a body",
            ids[2]: "third body",
        }
        assert dict(queries.publication_texts(session))[ids[0]] == "publication 0\nrevised"


def test_bodies_of_more_publications_than_one_in_query_holds(db_url: str) -> None:
    ids = _publications(db_url, [f"body {i}" for i in range(queries.IN_CHUNK + 7)])
    with session_scope(db_url) as session:
        bodies = queries.publication_bodies(session, ids)
    assert len(bodies) == len(ids) and bodies[ids[-1]] == f"body {len(ids) - 1}"


def test_setting_the_body_of_a_missing_publication_fails(db_url: str) -> None:
    """A bench that revises a publication that is not there hears of it, rather than measuring nothing."""
    with pytest.raises(StaleDataError, match="expected to update 1 row"), session_scope(db_url) as session:
        queries.set_publication_bodies(session, {-1: "no such publication"})
