"""Shared fixtures: one Prefect API for the session, real databases (SQLite and PostgreSQL), profiles."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# A test run writes nothing into the default homes (~/.nightshift, ~/.prefect): unless set, both live
# in a folder of this session, removed at its end. Embedding model exports (half a minute each) are
# kept across sessions beside pytest's own cache, in this checkout.
DEFAULT_HOME = Path.home() / ".nightshift"
if "NIGHTSHIFT_TEST_SESSION_FOLDER" not in os.environ:  # this module is imported twice (as a plugin, by tests)
    os.environ["NIGHTSHIFT_TEST_SESSION_FOLDER"] = tempfile.mkdtemp(prefix="nightshift-tests-")
SESSION_FOLDER = Path(os.environ["NIGHTSHIFT_TEST_SESSION_FOLDER"])
os.environ.setdefault("NIGHTSHIFT_HOME", str(SESSION_FOLDER / "home"))
os.environ.setdefault("PREFECT_HOME", str(SESSION_FOLDER / "prefect"))
os.environ.setdefault("NIGHTSHIFT_MODELS", str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "nightshift-models"))


def tree_state(folder: Path) -> tuple[bool, float]:
    """Whether `folder` exists, and the newest change time of it or anything in it."""
    if not folder.exists():
        return False, 0.0
    newest = folder.stat().st_mtime
    for path in folder.rglob("*"):
        try:
            newest = max(newest, path.lstat().st_mtime)
        except FileNotFoundError:
            pass
    return True, newest


SESSION_STARTED = time.time()
DEFAULT_HOME_BEFORE = tree_state(DEFAULT_HOME)

import pytest
import sqlalchemy as sa
from chat_server import chat_server  # noqa: F401  (fixture for every test module)

PG_ADMIN_URL = os.environ.get("NIGHTSHIFT_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """A real Prefect API (temporary server on SQLite) for every test that runs flows or blocks."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this run's own, dropped at the end."""
    name = f"nightshift_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required for the data-layer tests: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        from store.db import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'nightshift.db'}"


@pytest.fixture(scope="session")
def database_urls(sqlite_url: str, postgres_url: str) -> dict[str, str]:
    """Both backends, migrated to head."""
    from store.db import migrate

    urls = {"sqlite": sqlite_url, "postgres": postgres_url}
    for url in urls.values():
        migrate(url)
    return urls


def clean_database(url: str) -> None:
    """Empty every application table (tests start from nothing, flows commit for real)."""
    from store.db import get_engine
    from store.models import Base

    engine = get_engine(url)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(sa.text(f'DELETE FROM "{table}"'))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, database_urls: dict[str, str]) -> str:
    """An empty, migrated database on each backend."""
    url = database_urls[request.param]
    clean_database(url)
    return url


@pytest.fixture(scope="session")
def test_profiles(prefect_api: None, database_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Profiles "test-sqlite" and "test-postgres" on the session's Prefect API (embedded blocks otherwise)."""
    from blocks.profile import embedded_profile
    from deployments.operations.bootstrap import register_block_types, save_profile

    register_block_types()
    names = {}
    for backend, url in database_urls.items():
        home = tmp_path_factory.mktemp(f"home-{backend}")
        names[backend] = f"test-{backend}"
        save_profile(embedded_profile(home, database_url=url), names[backend], overwrite=True)
    return names


@pytest.fixture(params=["sqlite", "postgres"])
def profile(request: pytest.FixtureRequest, test_profiles: dict[str, str], database_urls: dict[str, str],
            monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The active profile for flows (NIGHTSHIFT_PROFILE), on an empty database of each backend."""
    from blocks.profile import clear_profile_cache, load_profile

    monkeypatch.setenv("NIGHTSHIFT_PROFILE", test_profiles[request.param])
    clear_profile_cache()
    clean_database(database_urls[request.param])
    yield load_profile()
    clear_profile_cache()


def swap_profile(profile, monkeypatch: pytest.MonkeyPatch, suffix: str, **parts):  # type: ignore[no-untyped-def]
    """Save the profile with some blocks replaced (e.g. llm=…, mailer=…) as "<name>-<suffix>" and make it the
    active one for the rest of the test (the `profile` fixture clears the cache again at its end)."""
    from blocks.profile import clear_profile_cache
    from deployments.operations.bootstrap import save_profile

    name = f"{profile._block_document_name}-{suffix}"
    swapped = profile.model_copy(update=parts)
    swapped._block_document_id = None
    save_profile(swapped, name, overwrite=True)
    monkeypatch.setenv("NIGHTSHIFT_PROFILE", name)
    clear_profile_cache()
    return swapped


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if anything in it created or changed the default home; remove the session folder."""
    shutil.rmtree(SESSION_FOLDER, ignore_errors=True)
    existed, newest = tree_state(DEFAULT_HOME)
    if (existed and not DEFAULT_HOME_BEFORE[0]) or (existed and newest > max(DEFAULT_HOME_BEFORE[1], SESSION_STARTED)):
        message = f"FAILED: this test run wrote into {DEFAULT_HOME} (the default NIGHTSHIFT_HOME)"
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.ensure_newline()
            reporter.write_line(message, red=True)
        else:
            print(message)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
