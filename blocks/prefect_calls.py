"""Prefect calls made from synchronous code.

Many of Prefect's functions (`Block.load`, `run_deployment`, `create_progress_artifact`…) run
synchronously when called from synchronous code and hand back a coroutine when called on an event
loop; their return type says both. `sync_result` tells the type checker which one a synchronous
caller holds, and tells a caller on an event loop what to do instead of leaving it an un-awaited
coroutine.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def sync_result(value: T | Coroutine[Any, Any, T], call: str) -> T:
    """`value`, the result of the Prefect call `call` made from synchronous code."""
    if isinstance(value, Coroutine):
        value.close()
        raise RuntimeError(f"{call} was called on an event loop: call it from a thread (anyio.to_thread.run_sync)")
    return value
