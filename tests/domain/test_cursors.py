"""Cursors and limits of every list (ledger/domain/paging.py): a cursor names a key of one list
asked one question, and anything else is refused with InvalidInput, which the API answers 422."""

from __future__ import annotations

import base64

import pytest

from ledger.domain.errors import InvalidInput
from ledger.domain.paging import MAX_LIMIT, checked_limit, cursor_for, page_after, position

GOOD = cursor_for("history", (7,), bound="item-a")


def _decoded(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


def _encoded(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bit_flips(cursor: str) -> list[str]:
    raw = _decoded(cursor)
    return [
        _encoded(raw[:i] + bytes([raw[i] ^ (1 << bit)]) + raw[i + 1 :])
        for i in range(len(raw))
        for bit in range(8)
    ]


def test_a_cursor_names_the_key_it_was_made_for() -> None:
    assert position("history", GOOD, (int,), bound="item-a") == (7,)


def test_no_cursor_is_the_first_page() -> None:
    assert position("history", None, (int,)) is None


@pytest.mark.parametrize("edited", _bit_flips(GOOD))
def test_a_cursor_with_any_one_bit_flipped_is_refused(edited: str) -> None:
    """The check: 12 bytes of SHA-256 over the payload (`_checked_payload`)."""
    with pytest.raises(InvalidInput, match=r"is not one this history gave"):
        position("history", edited, (int,), bound="item-a")


@pytest.mark.parametrize(
    ("cursor", "why"),
    [
        (GOOD[:-1], "truncated"),
        (GOOD + "A", "a character added"),
        (GOOD[:-1] + ("B" if GOOD[-1] != "B" else "C"), "last character changed"),
        ("", "empty"),
        ("not-a-cursor", "made up"),
        ("é" * 10, "not ASCII"),
        ("A" * 401, "over 400 characters"),
        (_encoded(b'["history","item-a",8]' + bytes(12)), "the key changed, check not redone"),
    ],
)
def test_a_cursor_that_was_tampered_with_is_refused(cursor: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=r"^cursor '.*' is not one this history gave$"):
        position("history", cursor, (int,), bound="item-a")


def test_a_cursor_of_another_list_is_refused() -> None:
    """`position` compares the listing named in the payload."""
    with pytest.raises(InvalidInput, match="is not one this token list gave"):
        position("token list", GOOD, (int,), bound="item-a")


def test_a_cursor_given_for_another_item_is_refused() -> None:
    """`position` compares the bound: a history cursor of item a does not page item b."""
    with pytest.raises(InvalidInput, match="is not one this history gave"):
        position("history", GOOD, (int,), bound="item-b")


def test_a_cursor_whose_key_has_another_shape_is_refused() -> None:
    """The shape check: a str where an int belongs, or a key of another length."""
    for shape in [(str,), (int, int), (bool,)]:
        with pytest.raises(InvalidInput, match="is not one this history gave"):
            position("history", GOOD, shape, bound="item-a")


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1, True])
def test_a_limit_out_of_bounds_is_refused(limit: int) -> None:
    with pytest.raises(InvalidInput, match=f"^limit must be between 1 and {MAX_LIMIT}, got "):
        checked_limit(limit)


def test_a_limit_within_bounds_is_taken() -> None:
    assert [checked_limit(n) for n in (1, MAX_LIMIT)] == [1, MAX_LIMIT]


def test_pages_of_a_computed_list_cover_it_once_in_key_order_and_end_with_no_next() -> None:
    rows = ["d", "a", "c", "b", "e"]
    seen, cursor, pages = [], None, 0

    while True:
        page = page_after("letters", rows, lambda r: (r,), cursor=cursor, limit=2, shape=(str,))
        seen += page.items
        pages += 1
        if page.next is None:
            break
        cursor = page.next

    assert (seen, pages) == (["a", "b", "c", "d", "e"], 3)


def test_a_row_added_before_the_cursor_is_not_doubled_and_one_after_it_is_seen() -> None:
    rows = ["b", "d", "f"]
    first = page_after("letters", rows, lambda r: (r,), cursor=None, limit=1, shape=(str,))

    rows += ["a", "e"]  # a write between pages: "a" sorts before the cursor, "e" after it
    rest = page_after("letters", rows, lambda r: (r,), cursor=first.next, limit=10, shape=(str,))

    assert (first.items, rest.items, rest.next) == (["b"], ["d", "e", "f"], None)
