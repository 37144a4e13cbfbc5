"""Chunked fan-out: one task run per chunk of the work, side by side, and a report of what failed.

A flow never runs one task per row (each task run costs Prefect 10-30 ms): it hands a list of ids to
`fan_out`, which submits the step once per chunk, waits for every chunk, and returns the outcomes in
the order of the items (`side_by_side` does the same for units that are not lists, such as page
ranges). `report_then_raise` publishes the flow's report of the outcomes and only then turns the failed
ones into one error that names them (`raise_for_failures`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from prefect import Task
from prefect.client.schemas.objects import State
from prefect.futures import PrefectFuture, wait

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")
Unit = TypeVar("Unit")
Result = TypeVar("Result")


def chunked(items: Sequence[Item], size: int) -> list[list[Item]]:
    """`items` in consecutive chunks of at most `size`, in order."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def side_by_side(
    submit: Callable[[Unit], PrefectFuture[Result]],
    units: Sequence[Unit],
    on_failed: Callable[[Unit, State], Result] | None = None,
    on_done: Callable[[Unit], object] | None = None,
) -> list[Result]:
    """Submit one task run per unit (`submit(unit)` returns its future); return their results in order.

    A unit whose run failed (after its retries) raises its error, unless `on_failed(unit, state)` gives
    its result. `on_done(unit)` is called as each result is read (a progress bar). Every run has
    finished before this returns or raises: nothing is left running behind the flow.
    """
    futures = [submit(unit) for unit in units]
    try:
        results: list[Result] = []
        for unit, future in zip(units, futures, strict=True):
            future.wait()
            if on_failed is not None and not future.state.is_completed():
                results.append(on_failed(unit, future.state))
            else:
                results.append(future.result())
            if on_done is not None:
                on_done(unit)
        return results
    finally:
        wait(futures)


def fan_out(
    step: Task[..., list[Outcome]],
    items: Sequence[Item],
    chunk_size: int,
    *args: Any,
    on_failed_chunk: Callable[[list[Item], State], list[Outcome]] | None = None,
    **kwargs: Any,
) -> list[Outcome]:
    """Run the task `step(chunk, *args, **kwargs)` on every chunk of `items` side by side; return all outcomes.

    The outcomes come in the order of the items. A chunk whose run failed raises its error once every
    chunk has finished, unless `on_failed_chunk(chunk, state)` gives outcomes for it (for instance one
    failed outcome per item).
    """
    per_chunk = side_by_side(
        lambda chunk: step.submit(chunk, *args, **kwargs), chunked(items, chunk_size), on_failed=on_failed_chunk
    )
    return [outcome for outcomes in per_chunk for outcome in outcomes]


def raise_for_failures(
    outcomes: Sequence[Outcome],
    failed: Callable[[Outcome], bool],
    describe: Callable[[Outcome], str],
    error: type[Exception],
    what: str,
    shown: int = 10,
) -> None:
    """Raise `error` naming the first `shown` failed outcomes: "3 of 40 <what>: <describe(o)>; …"."""
    failures = [outcome for outcome in outcomes if failed(outcome)]
    if failures:
        details = "; ".join(describe(outcome) for outcome in failures[:shown])
        raise error(f"{len(failures)} of {len(outcomes)} {what}: {details}")


def report_then_raise(
    outcomes: list[Outcome],
    report: Callable[[list[Outcome]], object],
    check: Callable[[list[Outcome]], object],
) -> list[Outcome]:
    """`report(outcomes)`, then `check(outcomes)`, which raises for the failed ones; the outcomes.

    The report is published before the run fails, so the operator reads what failed and what went through.
    """
    report(outcomes)
    check(outcomes)
    return outcomes
