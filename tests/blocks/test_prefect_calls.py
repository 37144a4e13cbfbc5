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
