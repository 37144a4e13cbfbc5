"""Requests waiting together are served by one batch; each caller gets its own answer or error."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from deployments.api import runs
from deployments.api.runs import Coalescing, JobAcceptor, JobReader


class Doubling(Coalescing[int, int]):
    """Doubles numbers, one batch at a time; a negative number is refused, zero fails the whole batch."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[int]] = []

    async def double(self, number: int) -> int:
        return await self._submit(number)

    async def _batch(self, requests: list[int]) -> Sequence[int | Exception]:
        self.batches.append(requests)
        await asyncio.sleep(0.01)  # requests arriving meanwhile wait for the next batch
        if 0 in requests:
            raise RuntimeError("the batch failed")
        return [ValueError(f"negative: {n}") if n < 0 else 2 * n for n in requests]


async def _settled(calls: list[Any]) -> list[Any]:
    return await asyncio.gather(*calls, return_exceptions=True)


def test_requests_waiting_together_share_one_batch_and_get_their_own_answers() -> None:
    async def run() -> tuple[list[Any], list[Any], list[list[int]]]:
        doubling = Doubling()
        first = await _settled([doubling.double(n) for n in (1, 2, -3, 4)])
        pending = [asyncio.ensure_future(doubling.double(n)) for n in (5, 6)]
        await asyncio.sleep(0.001)  # the batch of 5 and 6 is under way; 7 and 8 come during it
        later = await _settled([*pending, doubling.double(7), doubling.double(8)])
        return first, later, doubling.batches

    first, later, batches = asyncio.run(run())
    assert first[:2] == [2, 4] and first[3] == 8
    assert isinstance(first[2], ValueError) and str(first[2]) == "negative: -3"
    assert later == [10, 12, 14, 16]
    assert batches == [[1, 2, -3, 4], [5, 6], [7, 8]]


def test_a_failing_batch_gives_each_of_its_callers_the_error_and_the_next_batch_still_runs() -> None:
    async def run() -> tuple[list[Any], list[Any]]:
        doubling = Doubling()
        failed = await _settled([doubling.double(n) for n in (3, 0)])
        return failed, await _settled([doubling.double(4)])

    failed, after = asyncio.run(run())
    assert [str(error) for error in failed] == ["the batch failed"] * 2
    assert after == [8]


@pytest.fixture
def fake_ledger(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """A ledger in memory, called as `in_database` and `from_database` would (no session needed)."""
    calls = SimpleNamespace(accept_many=[], accept=[], get_many=[])

    def accept_many(_session: None, jobs: list[dict[str, Any]]) -> list[tuple[str, bool]]:
        calls.accept_many.append([job["name"] for job in jobs])
        if any(job["name"] == "bad" for job in jobs):
            raise RuntimeError("constraint failed")  # the group's transaction is rolled back
        return [(job["name"], True) for job in jobs]

    def accept(_session: None, job: dict[str, Any]) -> tuple[str, bool]:
        calls.accept.append(job["name"])
        if job["name"] == "bad":
            raise RuntimeError(f"cannot store {job['name']}")
        return job["name"], True

    def get_many(_session: None, job_ids: list[str]) -> dict[str, str]:
        calls.get_many.append(job_ids)
        return {job_id: f"record {job_id}" for job_id in job_ids if job_id != "missing"}

    async def in_memory(work: Any, *args: Any) -> Any:
        return work(None, *args)

    monkeypatch.setattr(runs, "ledger", SimpleNamespace(accept_many=accept_many, accept=accept, get_many=get_many))
    monkeypatch.setattr(runs, "in_database", in_memory)
    monkeypatch.setattr(runs, "from_database", in_memory)
    return calls


def test_a_group_that_cannot_be_stored_is_stored_one_by_one(fake_ledger: SimpleNamespace) -> None:
    async def run() -> list[Any]:
        acceptor = JobAcceptor()
        return await _settled([acceptor.accept({"name": name}) for name in ("a", "bad", "c")])

    stored = asyncio.run(run())
    assert stored[0] == ("a", True) and stored[2] == ("c", True)
    assert isinstance(stored[1], RuntimeError) and str(stored[1]) == "cannot store bad"
    assert fake_ledger.accept_many == [["a", "bad", "c"]]
    assert fake_ledger.accept == ["a", "bad", "c"]


def test_reads_of_one_job_waiting_together_share_one_query(fake_ledger: SimpleNamespace) -> None:
    async def run() -> list[Any]:
        reader = JobReader()
        return await _settled([reader.get(job_id) for job_id in ("j1", "j2", "j1", "missing")])

    assert asyncio.run(run()) == ["record j1", "record j2", "record j1", None]
    assert fake_ledger.get_many == [["j1", "j2", "missing"]]
