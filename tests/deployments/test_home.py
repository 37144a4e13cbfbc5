"""A test run keeps its files in a folder of its own: the default home (~/.nightshift) is never touched."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import DEFAULT_HOME, SESSION_FOLDER, tree_state
from prefect.settings import PREFECT_HOME

from blocks.embedder import SentenceTransformerEmbedder
from blocks.settings import get_settings
from deployments.operations.bootstrap import bootstrap


def test_the_homes_of_a_test_run_are_not_the_defaults() -> None:
    home = get_settings().home
    assert home.resolve() != DEFAULT_HOME.resolve()
    assert Path(PREFECT_HOME.value()).resolve() != (Path.home() / ".prefect").resolve()
    if os.environ["NIGHTSHIFT_HOME"] == str(SESSION_FOLDER / "home"):  # not set by whoever started the run
        assert home.is_relative_to(SESSION_FOLDER) and Path(PREFECT_HOME.value()).is_relative_to(SESSION_FOLDER)
    assert not SentenceTransformerEmbedder().export_path().is_relative_to(DEFAULT_HOME)


def test_bootstrap_with_the_default_home_writes_into_the_runs_folder(prefect_api) -> None:  # type: ignore[no-untyped-def]
    before = tree_state(DEFAULT_HOME)
    profile = bootstrap("default-home-test")  # no home given: the embedded default's own
    database = Path(profile.database.engine().url.database)
    assert database == get_settings().home.resolve() / "nightshift.db" and database.is_file()
    assert not database.is_relative_to(DEFAULT_HOME)
    assert tree_state(DEFAULT_HOME) == before
