"""sync_result: the value of a Prefect call made from synchronous code, a clear error on an event loop."""

from __future__ import annotations

import asyncio
import warnings

import pytest

from blocks.prefect_calls import sync_result


def test_a_value_is_returned_as_it_is() -> None:
    profile = {"name": "local"}
    assert sync_result(profile, "load") is profile


def test_a_coroutine_is_closed_and_refused_with_what_to_do() -> None:
    async def load() -> str:
        return "never read"

    coroutine = load()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an un-awaited coroutine would warn when collected
        with pytest.raises(RuntimeError, match=r"load_profile\(\) was called on an event loop: call it from a thread"):
            sync_result(coroutine, "load_profile()")
    assert coroutine.cr_frame is None  # closed: nothing left to run or to warn about
    with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
        asyncio.run(coroutine)


def test_load_profile_works_on_a_thread_that_runs_an_event_loop(test_profiles: dict[str, str]) -> None:
    """As in a notebook cell: synchronous code on a thread whose event loop is running."""
    from blocks.profile import NightshiftProfile, clear_profile_cache, load_profile

    async def in_a_cell() -> NightshiftProfile:
        clear_profile_cache()
        return load_profile(test_profiles["sqlite"])

    try:
        profile = asyncio.run(in_a_cell())
    finally:
        clear_profile_cache()
    assert isinstance(profile, NightshiftProfile)
    assert profile.database.url.get_secret_value().startswith("sqlite:///")
