"""Pages of a list: a bounded `limit` and an opaque cursor (docs/api.md, "Paging").

A cursor names a position by a key that never moves: a log index, a notification id, an
aggregate version, or a (sort key, id) pair; never an offset. An entry written while a client
pages lands after the key it was given (log order) or at its own key, so no entry of the list is
lost or doubled between pages.

The cursor is base64url of the JSON `[listing, bound, key...]` and a check of 12 bytes of its
SHA-256: an edited cursor (one bit), one of another list, or one given for another question (an
item, a holder, a tree size: `bound`) is refused with InvalidInput. The check is no secret: a
client that forges a well-formed cursor only chooses where its page starts; every page is read
through the caller's scope like the first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ledger.domain.errors import InvalidInput

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
CHECK_BYTES = 12
MAX_CURSOR = 400
"""Characters of a cursor at most (the query parameter's bound too)."""

T = TypeVar("T")
Key = tuple[int | str, ...]


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and the cursor of the next (None on the last page)."""

    items: list[T]
    next: str | None


def checked_limit(limit: int) -> int:
    """`limit` if 1 <= limit <= MAX_LIMIT, else InvalidInput."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, got {limit!r}")
    return limit


def cursor_for(listing: str, key: Key, *, bound: str = "") -> str:
    """The cursor of the position after `key` in `listing` (asked about `bound`)."""
    payload = json.dumps([listing, bound, *key], separators=(",", ":")).encode("utf-8")
    return _b64(payload + hashlib.sha256(payload).digest()[:CHECK_BYTES])


def position(
    listing: str, cursor: str | None, shape: Sequence[type], *, bound: str = ""
) -> Key | None:
    """The key a cursor of `listing` names (None for the first page); InvalidInput for a cursor
    this list did not give for this question, or whose key is not of `shape` (int or str)."""
    if cursor is None:
        return None
    payload = _checked_payload(cursor, listing)
    try:
        found = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise _refused(cursor, listing) from None
    if not isinstance(found, list) or found[:2] != [listing, bound]:
        raise _refused(cursor, listing)
    key = tuple(found[2:])
    if len(key) != len(shape) or not all(_of(v, kind) for v, kind in zip(key, shape, strict=True)):
        raise _refused(cursor, listing)
    return key


def page_after(
    listing: str,
    rows: Iterable[T],
    key: Callable[[T], Key],
    *,
    cursor: str | None,
    limit: int,
    shape: Sequence[type],
    bound: str = "",
) -> Page[T]:
    """A page of a list computed whole (findings, the report): the rows after the cursor's key,
    in key order. Keys must be unique and must not change while the client pages."""
    after = position(listing, cursor, shape, bound=bound)
    ordered = sorted((r for r in rows if after is None or key(r) > after), key=key)
    return page_of(listing, ordered[: checked_limit(limit) + 1], key, limit, bound=bound)


def page_of(
    listing: str, rows: Sequence[T], key: Callable[[T], Key], limit: int, *, bound: str = ""
) -> Page[T]:
    """A page of `rows`, read as up to `limit` + 1 in key order: one more means a next page."""
    if len(rows) <= limit:
        return Page(list(rows), None)
    return Page(list(rows[:limit]), cursor_for(listing, key(rows[limit - 1]), bound=bound))


def _checked_payload(cursor: str, listing: str) -> bytes:
    if len(cursor) > MAX_CURSOR or not cursor.isascii():
        raise _refused(cursor, listing)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise _refused(cursor, listing) from None
    payload, check = raw[:-CHECK_BYTES], raw[-CHECK_BYTES:]
    if _b64(raw) != cursor or hashlib.sha256(payload).digest()[:CHECK_BYTES] != check:
        raise _refused(cursor, listing)  # not canonical base64, or edited
    return payload


def _of(value: object, kind: type) -> bool:
    return type(value) is kind  # bool is no int here


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _refused(cursor: str, listing: str) -> InvalidInput:
    return InvalidInput(f"cursor {cursor[:80]!r} is not one this {listing} gave")
