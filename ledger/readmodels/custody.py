"""Custody questions answered from the read models, or from the reference replay
(ledger/domain/replay.py) when the read models cannot answer exactly or exactness is asked for
(docs/readmodels.md, "Reads never catch up").

- `custody_at`: one item at a time. The views answer when they have applied every entry of the
  item (then they are exact for it, however far behind they are on other items); otherwise, or
  with `exact`, the replay answers. Both give the same holder, status and entries.
- `holdings`: what a holder held. From the views as they are, with the log size they reflect
  (`as_of_log_size`); with `exact`, the items with entries the views have not applied yet are
  replayed instead, so the answer reflects the whole log as it was read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from ledger.application.ledger import Ledger
from ledger.domain.errors import NotFound
from ledger.domain.items import Status
from ledger.domain.paging import Page, checked_limit, page_of, position
from ledger.domain.replay import CustodyState, not_issued
from ledger.domain.times import aware_utc
from ledger.readmodels.models import Fleet, Holding, Holdings, NotApplied, holding_key

AFTER_EVERYTHING = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
"""A field time after every event (times are refused beyond the year 9999)."""


def custody_at(
    ledger: Ledger,
    fleet: Fleet,
    item: UUID,
    *,
    at: datetime,
    known_at: datetime | None = None,
    exact: bool = False,
) -> CustodyState:
    """Holder and status of the item at field time `at`, as known at `known_at`, with the log
    entries the answer rests on. NotFound as the replay says it."""
    if not exact:
        try:
            found = fleet.views.custody_at(item, at=at, known_at=known_at)
        except NotApplied:
            return ledger.custody_at(item, at=at, known_at=known_at)
        if found is None:
            raise NotFound(not_issued(item, aware_utc(at, field="at"), _aware(known_at)))
        return found
    return ledger.custody_at(item, at=at, known_at=known_at)  # the reference, and its refusals


def _aware(known_at: datetime | None) -> datetime | None:
    return None if known_at is None else aware_utc(known_at, field="known_at")


def holder_now(ledger: Ledger, fleet: Fleet, item: UUID) -> tuple[str, Status]:
    """The item's holder and status after every entry, in field-time order (`item_summary`'s):
    from the views when they have applied every entry of the item, else from the replay."""
    if fleet.views.applied_all_of(item):
        summary = fleet.views.summary(item)
        if summary is not None:
            return summary.holder, summary.status
    state = ledger.custody_at(item, at=AFTER_EVERYTHING)
    return state.holder, state.status


def holdings(
    ledger: Ledger,
    fleet: Fleet,
    holder: str,
    *,
    at: datetime,
    known_at: datetime | None = None,
    exact: bool = False,
) -> Holdings:
    """The items whose last holder at field time `at` (as known at `known_at`) was `holder`."""
    if not exact:
        return fleet.holdings_as_of(holder, at=at, known_at=known_at)
    size = ledger.log_store.log_size()
    behind = _written_after(ledger, fleet.position(), size)
    held = [h for h in fleet.holdings(holder, at=at, known_at=known_at) if h.item_id not in behind]
    held += [h for i in behind if (h := _replayed(ledger, i, holder, at, known_at)) is not None]
    return Holdings(sorted(held, key=holding_key), size)


def holdings_page(
    ledger: Ledger,
    fleet: Fleet,
    holder: str,
    *,
    at: datetime,
    known_at: datetime | None = None,
    exact: bool = False,
    cursor: str | None = None,
    limit: int,
) -> tuple[Page[Holding], int]:
    """A page of `holdings` in (serial, item id) order, with the log size it reflects: from the
    views as they are, or with `exact` from `holdings(exact=True)`, cut at the cursor."""
    if not exact:
        return fleet.holdings_page(holder, at=at, known_at=known_at, cursor=cursor, limit=limit)
    after = position("custody list", cursor, (str, str), bound=holder)
    held = holdings(ledger, fleet, holder, at=at, known_at=known_at, exact=True)
    rows = [h for h in held.items if after is None or holding_key(h) > after]
    rows = rows[: checked_limit(limit) + 1]
    page = page_of("custody list", rows, holding_key, limit, bound=holder)
    return page, held.as_of_log_size


def _written_after(ledger: Ledger, position: int, size: int) -> set[UUID]:
    """The aggregates with entries in [position, size): parties and tokens too."""
    return {aggregate for _, aggregate, _, _ in ledger.log_store.head_rows(position, size)}


def _replayed(
    ledger: Ledger, aggregate: UUID, holder: str, at: datetime, known_at: datetime | None
) -> Holding | None:
    try:
        state = ledger.custody_at(aggregate, at=at, known_at=known_at)
    except NotFound:  # not an item, or not issued by then
        return None
    if state.holder != holder:
        return None
    item = ledger.item(aggregate)
    return Holding(aggregate, item.serial, item.category, state.holder, state.status)
