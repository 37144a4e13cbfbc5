"""Chunked fan-out: one task run per chunk of the work, side by side, and a report of what failed.

A flow never runs one task per row (each task run costs Prefect 10-30 ms): it hands a list of ids to
`fan_out`, which submits the step once per chunk, waits for every chunk, and returns the outcomes in
the order of the items. `raise_for_failures` then turns the failed outcomes into one error that names
them, after the flow has published its report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from prefect.client.schemas.objects import State
from prefect.futures import wait

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


def chunked(items: Sequence[Item], size: int) -> list[list[Item]]:
    """`items` in consecutive chunks of at most `size`, in order."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def fan_out(
    step: Any,
    items: Sequence[Item],
    chunk_size: int,
    *args: Any,
    on_failed_chunk: Callable[[list[Item], State], list[Outcome]] | None = None,
    on_chunk_done: Callable[[int, int], None] | None = None,
    **kwargs: Any,
) -> list[Outcome]:
    """Run the task `step(chunk, *args, **kwargs)` on every chunk of `items` side by side; return all outcomes.

    Each chunk's outcomes are read in order. A chunk whose run failed (after its retries) raises its
    error once every chunk has finished, unless `on_failed_chunk(chunk, state)` gives outcomes for it
    (for instance one failed outcome per item). `on_chunk_done(items_done, items_total)` is called as
    each chunk's outcomes are read, for a progress bar.
    """
    chunks = chunked(items, chunk_size)
    futures = [step.submit(chunk, *args, **kwargs) for chunk in chunks]
    try:
        outcomes: list[Outcome] = []
        done = 0
        for chunk, future in zip(chunks, futures, strict=True):
            future.wait()
            state = future.state
            if on_failed_chunk is not None and not state.is_completed():
                outcomes += on_failed_chunk(chunk, state)
            else:
                outcomes += future.result()
            done += len(chunk)
            if on_chunk_done is not None:
                on_chunk_done(done, len(items))
        return outcomes
    finally:  # no chunk left running when the flow goes on (or fails)
        wait(futures)


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
