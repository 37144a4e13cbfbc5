"""Chunked fan-out: chunks side by side, outcomes in item order, failed chunks reported, nothing left running."""

from __future__ import annotations

import threading
import time

import pytest
from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner

from tasks.fanout import chunked, fan_out, raise_for_failures, side_by_side

FINISHED: list[int] = []
_lock = threading.Lock()


@task(retries=0)
def double(chunk: list[int], fail_on: int | None = None, delay: float = 0.0) -> list[int]:
    time.sleep(delay)
    if fail_on in chunk:
        raise ValueError(f"chunk with {fail_on} failed")
    with _lock:
        FINISHED.extend(chunk)
    return [2 * n for n in chunk]


@flow(task_runner=ThreadPoolTaskRunner(max_workers=4))
def double_all(items: list[int], chunk_size: int, fail_on: int | None = None, keep_going: bool = False) -> list[int]:
    def failed(chunk: list[int], state) -> list[int]:  # type: ignore[no-untyped-def]
        assert "chunk with" in (state.message or "")
        return [-n for n in chunk]

    return fan_out(double, items, chunk_size, fail_on, on_failed_chunk=failed if keep_going else None)


@flow(task_runner=ThreadPoolTaskRunner(max_workers=4))
def slow_first(items: list[int]) -> list[int]:
    """The first chunk fails at once; the others are still running when it does."""
    return side_by_side(
        lambda chunk: double.submit(chunk, fail_on=items[0], delay=0.0 if items[0] in chunk else 1.0),
        chunked(items, 2),
    )


def test_chunked_keeps_order_and_refuses_an_empty_chunk_size() -> None:
    assert chunked(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert chunked([], 5) == []
    with pytest.raises(ValueError, match="chunk size must be at least 1, got 0"):
        chunked([1, 2], 0)


def test_outcomes_come_in_item_order(prefect_api: None) -> None:
    assert double_all(list(range(1, 12)), 3) == [2 * n for n in range(1, 12)]
    assert double_all([], 3) == []


def test_a_failed_chunk_gives_the_outcomes_the_flow_chooses(prefect_api: None) -> None:
    assert double_all(list(range(1, 8)), 3, fail_on=5, keep_going=True) == [2, 4, 6, -4, -5, -6, 14]


def test_a_failed_chunk_raises_only_after_every_chunk_finished(prefect_api: None) -> None:
    FINISHED.clear()
    with pytest.raises(ValueError, match="chunk with 1 failed"):
        slow_first([1, 2, 3, 4, 5, 6])
    assert sorted(FINISHED) == [3, 4, 5, 6]  # the slow chunks were waited for, not left behind


def test_failures_are_counted_and_named() -> None:
    class Failed(RuntimeError):
        pass

    outcomes = [{"id": i, "ok": i % 3 != 0} for i in range(1, 31)]
    with pytest.raises(Failed, match=r"^10 of 30 rows failed: row 3; row 6; row 9$"):
        raise_for_failures(outcomes, lambda o: not o["ok"], lambda o: f"row {o['id']}", Failed, "rows failed", shown=3)
    raise_for_failures(outcomes, lambda o: False, str, Failed, "rows failed")  # nothing failed: no error
