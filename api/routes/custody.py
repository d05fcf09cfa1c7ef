"""Fleet-wide custody: what a party held at a time, from the read models
(ledger/readmodels/custody.py) as they are, with the log size they reflect; `exact=true` replays
the items they have not caught up with (docs/readmodels.md)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import FleetDep, LedgerDep, PastDep, ReadScopeDep
from api.schemas import Paged, PagingDep, PartyIdQuery
from ledger.domain import aware_utc
from ledger.readmodels import holdings_page

router = APIRouter(prefix="/v1/custody", tags=["custody"])


class HeldItemOut(BaseModel):
    item_id: UUID
    serial: str
    category: str
    status: str


class HoldingsOut(Paged):
    holder: str
    at: datetime
    known_at: datetime | None
    items: list[HeldItemOut]
    as_of_log_size: int = Field(
        description="the answer reflects the log's first `as_of_log_size` entries (at least)"
    )


@router.get("", response_model=HoldingsOut)
def holdings(
    ledger: LedgerDep,
    fleet: FleetDep,
    scope: ReadScopeDep,
    holder: PartyIdQuery,
    past: PastDep,
    paging: PagingDep,
) -> HoldingsOut:
    """Every item whose last holder at field time `at` was `holder` (as known at `known_at`),
    with its status then: `in_custody`, `lost` or `disposed`; by serial, `limit` a page. A
    partner asks for itself or one of its units only. From the read models as they are
    (`as_of_log_size`); `exact=true` also replays the items with entries they have not applied
    yet."""
    scope.require_holder(holder)
    at, known_at = aware_utc(past.at, field="at"), _aware(past.known_at)
    ledger.party(holder)
    page, size = holdings_page(
        ledger, fleet, holder, at=at, known_at=known_at, exact=past.exact, **paging
    )
    items = [
        HeldItemOut(item_id=h.item_id, serial=h.serial, category=h.category, status=h.status)
        for h in page.items
    ]
    return HoldingsOut(
        holder=holder,
        at=at,
        known_at=known_at,
        items=items,
        next=page.next,
        as_of_log_size=size,
    )


def _aware(known_at: datetime | None) -> datetime | None:
    return None if known_at is None else aware_utc(known_at, field="known_at")
