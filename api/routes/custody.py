"""Fleet-wide custody: what a party held at a time, from the read models
(ledger/readmodels/models.py),
which catch up with the log before they answer. Per-item replay (`/v1/items/{id}/custody`) stays
the reference (docs/readmodels.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.deps import LedgerDep, ReadScopeDep, fleet_of
from api.schemas import PartyIdQuery, Time
from ledger.domain import aware_utc

router = APIRouter(prefix="/v1/custody", tags=["custody"])


class HeldItemOut(BaseModel):
    item_id: UUID
    serial: str
    category: str
    status: str


class HoldingsOut(BaseModel):
    holder: str
    at: datetime
    known_at: datetime | None
    items: list[HeldItemOut]


@router.get("", response_model=HoldingsOut)
def holdings(
    request: Request,
    ledger: LedgerDep,
    scope: ReadScopeDep,
    holder: PartyIdQuery,
    at: Annotated[Time, Query(description="field time, RFC 3339 with a zone")],
    known_at: Annotated[
        Time | None, Query(description="recording time; default: everything recorded so far")
    ] = None,
) -> HoldingsOut:
    """Every item whose last holder at field time `at` was `holder` (as known at `known_at`),
    with its status then: `in_custody`, `lost` or `disposed`. A partner asks for itself or one
    of its units only."""
    scope.require_holder(holder)
    at, known_at = aware_utc(at, field="at"), _aware(known_at)
    ledger.party(holder)
    held = fleet_of(request, ledger).holdings(holder, at=at, known_at=known_at)
    items = [
        HeldItemOut(item_id=h.item_id, serial=h.serial, category=h.category, status=h.status)
        for h in held
    ]
    return HoldingsOut(holder=holder, at=at, known_at=known_at, items=items)


def _aware(known_at: datetime | None) -> datetime | None:
    return None if known_at is None else aware_utc(known_at, field="known_at")
