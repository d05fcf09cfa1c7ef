"""The registry as lists: every party and every agreement, in the order they were registered, so
that a new user can discover the ids to use (`custody parties`, `custody agreements`; the API
pages them, ledger/application/lists.py). Everyone may read them (ledger/application/scope.py:
party and agreement entries are public to every role)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ledger.application import lists
from ledger.application.ledger import Ledger
from ledger.domain.paging import MAX_LIMIT, Page
from ledger.domain.parties import Agreement, Party

T = TypeVar("T")


def parties(ledger: Ledger) -> list[Party]:
    return _every(lambda cursor: lists.parties(ledger, cursor=cursor, limit=MAX_LIMIT))


def agreements(ledger: Ledger) -> list[Agreement]:
    return _every(lambda cursor: lists.agreements(ledger, cursor=cursor, limit=MAX_LIMIT))


def _every(page_at: Callable[[str | None], Page[T]]) -> list[T]:
    """Every row of a paged list, page after page."""
    page = page_at(None)
    found = list(page.items)
    while page.next is not None:
        page = page_at(page.next)
        found += page.items
    return found
