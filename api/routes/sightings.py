"""Sightings not yet matched to an item: record one, list them with candidate items from the
serial search, match one to an item (ledger/domain/sightings.py, docs/investigations.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.deps import ActorDep, LedgerDep, fleet_of
from api.routes.serials import CandidateOut, candidate_out
from api.schemas import (
    RECEIPT,
    Body,
    ItemRecordedOut,
    Paged,
    PagingDep,
    PartyId,
    Serial,
    Sha256Hex,
    Signature,
    Text,
    Time,
)
from api.submissions import WriteDep
from ledger.application import Ledger, lists
from ledger.domain import Action, Actor, InvalidInput, NotFound, Sighting
from ledger.readmodels import (
    Filters,
    Fleet,
    Pattern,
    holder_now,
    search_serials,
    visible_holders,
)

router = APIRouter(prefix="/v1/sightings", tags=["sightings"])
CANDIDATES = 5


class SightingReportIn(Body):
    observer: PartyId
    location: Text
    occurred_at: Time
    serial_as_read: Serial | None = Field(
        default=None, description="as read: `?` for each unreadable character"
    )
    manufacturer: Text | None = None
    model: Text | None = None
    lot: Serial | None = None
    held_by: Text | None = None
    evidence: Annotated[list[Sha256Hex], Field(default_factory=list, max_length=50)]
    signature: Signature | None = None


class SightingRecordedOut(BaseModel):
    sighting_id: UUID
    log_index: int
    receipt: str = Field(description=RECEIPT)


class MatchIn(Body):
    item_id: UUID


class SightingOut(BaseModel):
    sighting_id: UUID
    status: Literal["unmatched", "matched"]
    observer: str
    location: str
    seen_at: datetime
    held_by: str | None
    serial_as_read: str | None
    manufacturer: str | None
    model: str | None
    lot: str | None
    evidence: list[str]
    item_id: str | None
    candidates: list[CandidateOut]


class SightingsOut(Paged):
    sightings: list[SightingOut]


@router.post("", status_code=201, response_model=SightingRecordedOut)
def record(body: SightingReportIn, write: WriteDep) -> SightingRecordedOut:
    recorded = write.ledger.record_sighting(
        **body.model_dump(exclude={"signature"}),  # the report's fields, name for name
        via=write.via(Action.SIGHT),
        actor=write.actor,
    )
    return SightingRecordedOut(
        sighting_id=recorded.id, log_index=recorded.log_index, receipt=recorded.receipt
    )


@router.get("", response_model=SightingsOut)
def listing(
    request: Request,
    ledger: LedgerDep,
    actor: ActorDep,
    paging: PagingDep,
    status: Annotated[Literal["unmatched", "matched", "all"], Query()] = "unmatched",
) -> SightingsOut:
    """Sightings by status, oldest first, `limit` a page (fewer if most are filtered out; docs/
    api.md, "Paging"); an unmatched one with up to five candidate items from the serial search.
    A partner sees only sightings matched to items it or its units hold."""
    actor.require(Action.READ)
    fleet = fleet_of(request, ledger)
    holders = visible_holders(ledger, actor)
    page = lists.sightings(
        ledger,
        lambda seen: _listed(ledger, seen, status, holders, fleet),
        **paging,
    )
    return SightingsOut(
        sightings=[_sighting_out(ledger, fleet, seen, actor) for seen in page.items],
        next=page.next,
    )


@router.post("/{sighting_id}/match", status_code=201, response_model=ItemRecordedOut)
def match(sighting_id: UUID, body: MatchIn, ledger: LedgerDep, actor: ActorDep) -> ItemRecordedOut:
    """The item gets a `Sighted` entry naming this sighting's entry; the usual findings apply."""
    recorded = ledger.match_sighting(sighting_id, item=body.item_id, actor=actor)
    return ItemRecordedOut.of(recorded)


def _listed(
    ledger: Ledger, seen: Sighting, status: str, holders: list[str] | None, fleet: Fleet
) -> bool:
    if status != "all" and seen.status != status:
        return False
    if holders is None:
        return True
    if seen.item_id is None:
        return False
    try:
        holder, _ = holder_now(ledger, fleet, UUID(seen.item_id))
    except NotFound:
        return False
    return holder in holders


def _sighting_out(ledger: Ledger, fleet: Fleet, seen: Sighting, actor: Actor) -> SightingOut:
    return SightingOut(
        sighting_id=seen.id,
        status="unmatched" if seen.item_id is None else "matched",
        observer=seen.observer,
        location=seen.location,
        seen_at=seen.seen_at,
        held_by=seen.held_by,
        serial_as_read=seen.serial_as_read,
        manufacturer=seen.manufacturer,
        model=seen.model,
        lot=seen.lot,
        evidence=seen.evidence,
        item_id=seen.item_id,
        candidates=_candidates(ledger, fleet, seen, actor) if seen.item_id is None else [],
    )


def _candidates(ledger: Ledger, fleet: Fleet, seen: Sighting, actor: Actor) -> list[CandidateOut]:
    read = seen.serial_as_read or seen.lot
    if read is None:
        return []
    try:
        pattern = Pattern.parse(read)
        filters = Filters(manufacturer=seen.manufacturer, model=seen.model)
        found = search_serials(
            ledger, fleet, pattern, filters=filters, actor=actor, limit=CANDIDATES
        )
    except InvalidInput:
        return []  # nothing readable enough to search by
    return [candidate_out(c) for c in found.candidates]
