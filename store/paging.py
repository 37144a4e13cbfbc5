"""Keyset paging: lists read page by page (id > last id seen), stopping with an error instead of looping."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

MAX_PAGES = 1_000_000


class PagingError(RuntimeError):
    """A keyset page did not move past the last id: stop rather than loop forever."""


def keyset_pages(fetch: Callable[[int], Sequence[int]], page_size: int) -> Iterator[list[int]]:
    """Pages of ids from `fetch(after_id)` (ascending ids > after_id, at most page_size) until exhausted."""
    after = 0
    for _ in range(MAX_PAGES):
        page = list(fetch(after))
        if not page:
            return
        if page[0] <= after or page != sorted(page):
            raise PagingError(f"keyset page after id {after} does not advance ({page[:3]}…): fix the query order")
        yield page
        if len(page) < page_size:
            return
        after = page[-1]
    raise PagingError(f"more than {MAX_PAGES} pages: stopping")
