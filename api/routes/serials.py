"""Finding items by serial: `GET /v1/items?serial=` (exact, in the normal form) and
`GET /v1/items/search?q=` (a partial serial, ranked), from the index of identities
(ledger/store/serials.py, ledger/readmodels/search.py; docs/identity.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

import ledger.readmodels as readmodels
from api.deps import ActorDep, LedgerDep, Paging, fleet_of, paging_query
from api.schemas import (
    Paged,
    Time,
)
from ledger.domain import Category, aware_utc
from ledger.readmodels import SERIAL_PAGE, Candidate, Filters, Found, Pattern, serial_page

router = APIRouter(prefix="/v1/items", tags=["items"])
SerialPagingDep = Annotated[Paging, Depends(paging_query(SERIAL_PAGE))]
Marking = Annotated[str | None, Query(min_length=1, max_length=200)]


class CandidateOut(BaseModel):
    item_id: UUID
    serial: str
    normalised_serial: str
    category: str
    match: str
    unknowns: int
    holder: str
    status: str
    at: dict[str, str] | None
    last_verified_inspection: dict[str, Any] | None


class CandidatesOut(Paged):
    items: list[CandidateOut]


@router.get("", response_model=CandidatesOut)
def by_serial(
    request: Request,
    ledger: LedgerDep,
    actor: ActorDep,
    paging: SerialPagingDep,
    serial: Annotated[str, Query(min_length=1, max_length=64, description="a serial as marked")],
    manufacturer: Marking = None,
    model: Marking = None,
) -> CandidatesOut:
    """Items whose serial has the normal form of `serial` (docs/identity.md), look-alikes
    included; `manufacturer` and `model` narrow it (in the normal form too)."""
    filters = Filters(manufacturer=manufacturer, model=model)
    found = serial_page(
        ledger,
        fleet_of(request, ledger),
        serial,
        filters=filters,
        actor=actor,
        **paging,
    )
    return CandidatesOut(items=[candidate_out(c) for c in found.candidates], next=found.next)


@router.get("/search", response_model=CandidatesOut)
def search_serials(
    request: Request,
    ledger: LedgerDep,
    actor: ActorDep,
    paging: SerialPagingDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=64,
            description="a serial as read: `?` for one unreadable character, `*` for any run",
        ),
    ],
    manufacturer: Marking = None,
    model: Marking = None,
    category: Annotated[Category | None, Query()] = None,
    calibre: Marking = None,
    lot: Marking = None,
    at: Annotated[Time | None, Query(description="also holder and status at this time")] = None,
) -> CandidatesOut:
    """Ranked candidates: the exact form first, then whole matches, then matches inside a longer
    serial; fewer unknown characters first. `limit` a page (50 by default); `next` is the cursor of
    the next."""
    filters = Filters(
        manufacturer=manufacturer,
        model=model,
        category=category.value if category else None,
        calibre=calibre,
        lot=lot,
    )
    found: Found = readmodels.search_serials(
        ledger,
        fleet_of(request, ledger),
        Pattern.parse(q),
        filters=filters,
        actor=actor,
        at=_aware(at),
        **paging,
    )
    return CandidatesOut(items=[candidate_out(c) for c in found.candidates], next=found.next)


def _aware(at: datetime | None) -> datetime | None:
    return None if at is None else aware_utc(at, field="at")


def candidate_out(candidate: Candidate) -> CandidateOut:
    return CandidateOut.model_validate(candidate, from_attributes=True)
