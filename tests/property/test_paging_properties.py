"""Keyset pages (ledger/domain/paging.py `page_after`) against any interleaving of writes: rows
are added and removed between pages at random. Every row there from the first page to the last
is given exactly once; nothing is given twice; nothing is given that was never there."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.paging import page_after

Writes = list[tuple[list[int], list[int]]]
"""Before each page: keys added and keys removed."""


def _walk(start: set[int], writes: Writes, limit: int) -> tuple[list[int], set[int], set[int]]:
    """The keys given over the whole walk, the keys there throughout, and every key ever there."""
    rows, ever, cursor, given_keys = set(start), set(start), None, []
    throughout = set(start)
    for step in range(10_000):
        added, removed = writes[step] if step < len(writes) else ([], [])
        rows = (rows | set(added)) - set(removed)
        ever |= rows
        throughout &= rows
        page = page_after("rows", rows, lambda r: (r,), cursor=cursor, limit=limit, shape=(int,))
        given_keys += page.items
        if page.next is None:
            return given_keys, throughout, ever
        cursor = page.next
    raise AssertionError("the walk did not end")


keys = st.integers(min_value=0, max_value=200)


@settings(max_examples=300, deadline=None)
@given(
    start=st.sets(keys, max_size=60),
    writes=st.lists(st.tuples(st.lists(keys, max_size=5), st.lists(keys, max_size=5)), max_size=30),
    limit=st.integers(min_value=1, max_value=7),
)
def test_no_row_is_lost_or_doubled_whatever_is_written_between_pages(
    start: set[int], writes: Writes, limit: int
) -> None:
    given_keys, throughout, ever = _walk(start, writes, limit)

    assert len(given_keys) == len(set(given_keys))
    assert throughout <= set(given_keys) <= ever
    assert given_keys == sorted(given_keys)
