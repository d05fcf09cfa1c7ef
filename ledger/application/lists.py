"""The Ledger's lists a page at a time (ledger/domain/paging.py; docs/api.md, "Paging"): an
item's history and its evidence entries, log entries, tokens, parties, agreements, traces and
sightings. Each page is keyed on something that never moves (an aggregate version, a log index,
a notification id), so writes made while a client pages lose or double nothing.

The lists of aggregates follow the notifications of their creating event: a filtered list (a
partner's tokens, traces by status) reads at most `SCAN` notifications a page, so a page may hold
fewer than `limit` items and still have a `next`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.application.ledger import Ledger, TokenInfo
from ledger.application.transparency import check_entry_range
from ledger.domain.access import Action, Actor
from ledger.domain.errors import InvalidInput, NotFound
from ledger.domain.fields import item_uuid
from ledger.domain.items import Item
from ledger.domain.paging import Key, Page, checked_limit, cursor_for, page_of, position
from ledger.domain.parties import Agreement, Party
from ledger.domain.sightings import Sighting
from ledger.domain.tokens import Role, Token
from ledger.domain.traces import Trace
from ledger.integrity.checkpoints import parse_checkpoint
from ledger.integrity.entries import decode_entry
from ledger.integrity.notes import open_note
from ledger.store.log import LogRow
from ledger.verification.headproofs import proved_entries

A = TypeVar("A", bound=Aggregate)
SCAN = 2001
"""Notifications read for one page at most: enough for a full page of MAX_LIMIT and its next."""


@dataclass(frozen=True)
class EvidencePage:
    """A page of an item's entries, each with its inclusion proof to the signed `checkpoint`
    (tree size `size`); every page of one paging is proved to the same checkpoint."""

    item_id: UUID
    checkpoint: str
    size: int
    entries: Page[dict[str, Any]]


def history(ledger: Ledger, item: UUID | str, *, cursor: str | None, limit: int) -> Page[LogRow]:
    """The item's entries oldest first, after the cursor's version."""
    item_id = _item_id(ledger, item)
    after = position("history", cursor, (int,), bound=str(item_id))
    rows = _entries_after(ledger, item_id, after, limit)
    return page_of("history", rows, _version, limit, bound=str(item_id))


def evidence_entries(
    ledger: Ledger, item: UUID | str, *, cursor: str | None, limit: int
) -> EvidencePage:
    """The item's entries with inclusion proofs to the latest checkpoint (signed now if the log
    grew; later pages keep the first page's)."""
    item_id = _item_id(ledger, item)
    after = position("evidence", cursor, (int, int), bound=str(item_id))
    size, note = _checkpoint(ledger) if after is None else _checkpoint_at(ledger, int(after[0]))
    version = None if after is None else after[1:]
    rows = [r for r in _entries_after(ledger, item_id, version, limit) if r.log_index < size]
    page = page_of("evidence", rows, _at_size(size), limit, bound=str(item_id))
    proved = proved_entries(ledger.log_store, page.items, size)
    return EvidencePage(item_id, note, size, Page(proved, page.next))


def log_entries(
    ledger: Ledger, *, start: int, end: int, cursor: str | None, limit: int
) -> Page[LogRow]:
    """Entries with start <= log_index < end (at most MAX_ENTRIES_PAGE apart), `limit` a page."""
    bound = f"{start}:{end}"
    after = position("log range", cursor, (int,), bound=bound)
    first = start if after is None else max(start, int(after[0]) + 1)
    last = min(end, first + checked_limit(limit) + 1)
    check_entry_range(start, end)
    rows = ledger.tlog.log_entries(first, last) if first < end else []
    return page_of("log range", rows, lambda r: (r.log_index,), limit, bound=bound)


def tokens(ledger: Ledger, *, actor: Actor, cursor: str | None, limit: int) -> Page[TokenInfo]:
    """The tokens an admin may see (all), or a party its own; in the order granted."""
    actor.require(Action.READ)

    def info(token: Token) -> TokenInfo | None:
        if actor.role is not Role.ADMIN and token.party != actor.party:
            return None
        return TokenInfo(token.id, token.party, token.role, token.revoked)

    return _created(ledger, "token list", Token.Granted.TOPIC, _as(Token, info), cursor, limit)


def parties(ledger: Ledger, *, cursor: str | None, limit: int) -> Page[Party]:
    """Every party, in the order registered."""
    return _created(ledger, "party list", Party.Registered.TOPIC, _as(Party), cursor, limit)


def agreements(ledger: Ledger, *, cursor: str | None, limit: int) -> Page[Agreement]:
    """Every end-use agreement, in the order concluded."""
    return _created(
        ledger, "agreement list", Agreement.Concluded.TOPIC, _as(Agreement), cursor, limit
    )


def traces(
    ledger: Ledger, keep: Callable[[Trace], bool], *, cursor: str | None, limit: int
) -> Page[Trace]:
    """The traces `keep` takes, in the order requested."""
    return _created(
        ledger, "trace list", Trace.Requested.TOPIC, _as(Trace, _kept(keep)), cursor, limit
    )


def sightings(
    ledger: Ledger, keep: Callable[[Sighting], bool], *, cursor: str | None, limit: int
) -> Page[Sighting]:
    """The sightings `keep` takes, in the order recorded."""
    load = _as(Sighting, _kept(keep))
    return _created(ledger, "sighting list", Sighting.Recorded.TOPIC, load, cursor, limit)


def _item_id(ledger: Ledger, item: UUID | str) -> UUID:
    """The id of an item (its first entry is an issue): NotFound otherwise, without replaying."""
    item_id = item_uuid(item)
    first = ledger.log_store.log_entries_after(item_id, 0, 1)
    if not first or decode_entry(first[0].entry)["type"] != Item.Issued.TOPIC:
        raise NotFound(f"item {item} not found")
    return item_id


def _entries_after(
    ledger: Ledger, item_id: UUID, after: tuple[Any, ...] | None, limit: int
) -> list[LogRow]:
    version = 0 if after is None else int(after[0])
    return ledger.log_store.log_entries_after(item_id, version, checked_limit(limit) + 1)


def _version(row: LogRow) -> tuple[int]:
    return (row.aggregate_version,)


def _at_size(size: int) -> Callable[[LogRow], Key]:
    return lambda row: (size, row.aggregate_version)


def _checkpoint(ledger: Ledger) -> tuple[int, str]:
    note = ledger.tlog.checkpoint()
    return parse_checkpoint(open_note(note, [ledger.tlog.verifier()]).text).size, note


def _checkpoint_at(ledger: Ledger, size: int) -> tuple[int, str]:
    note = ledger.log_store.checkpoint_at(size)
    if note is None:
        raise InvalidInput(f"no checkpoint of size {size} is stored")
    return size, note


def _kept(keep: Callable[[A], bool]) -> Callable[[A], A | None]:
    return lambda found: found if keep(found) else None


def _as(kind: type[A], view: Callable[[A], Any] | None = None) -> Callable[[object], Any]:
    """Loads of `kind` seen through `view` (None: left out of the page)."""

    def load(found: object) -> Any:
        if not isinstance(found, kind):
            return None
        return found if view is None else view(found)

    return load


def _created(
    ledger: Ledger,
    listing: str,
    topic: str,
    load: Callable[[object], Any],
    cursor: str | None,
    limit: int,
) -> Page[Any]:
    """A page of the aggregates created by `topic` events, after the cursor's notification id:
    those `load` answers (not None) for, as it answers them."""
    after = position(listing, cursor, (int,))
    start, kept, scanned = None if after is None else int(after[0]), [], 0
    checked_limit(limit)
    while scanned < SCAN and (batch := _notifications(ledger, topic, start, SCAN - scanned, limit)):
        for n in batch:
            found = load(ledger.repository.get(UUID(str(n.originator_id))))
            kept += [] if found is None else [(n.id, found)]
            if len(kept) > limit:
                return _page_of_kept(listing, kept, limit)
        start, scanned = batch[-1].id, scanned + len(batch)
    found = [f for _, f in kept]
    if scanned < SCAN or start is None:
        return Page(found, None)
    return Page(found, cursor_for(listing, (start,)))  # more may follow: the next page starts here


def _notifications(
    ledger: Ledger, topic: str, start: int | None, left: int, limit: int
) -> list[Any]:
    return list(
        ledger.recorder.select_notifications(
            start=start, limit=min(left, limit + 1), topics=[topic], inclusive_of_start=False
        )
    )


def _page_of_kept(listing: str, kept: list[tuple[int, Any]], limit: int) -> Page[Any]:
    page = page_of(listing, kept, lambda k: (k[0],), limit)
    return Page([f for _, f in page.items], page.next)
