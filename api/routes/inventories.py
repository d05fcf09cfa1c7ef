"""Serial-number inventories: `POST /v1/inventories` records a count and answers its
reconciliation with the book, as JSON or (`Accept: text/csv`) CSV
(ledger/readmodels/reconciliation.py)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import ActorDep, LedgerDep, fleet_of
from api.schemas import RECEIPT, Body, InspectionMethodName, PartyId, Serial, Text, Time
from ledger.readmodels import Count, Reconciliation, take_inventory

router = APIRouter(prefix="/v1/inventories", tags=["inventories"])
CSV_COLUMNS = ("status", "serial", "item_id", "holder")


class InventoryIn(Body):
    recipient: PartyId
    occurred_at: Time
    method: InspectionMethodName
    serials: Annotated[list[Serial], Field(min_length=1, max_length=100_000)]
    site: Text | None = None
    manufacturer: Text | None = None
    model: Text | None = None


class LineOut(BaseModel):
    serial: str
    item_id: UUID | None
    holder: str | None


class InventoryOut(BaseModel):
    inventory_id: UUID
    log_index: int
    receipt: str = Field(description=RECEIPT)
    recipient: str
    occurred_at: datetime
    counts: dict[str, int]
    on_book: list[LineOut]
    not_counted: list[LineOut]
    held_elsewhere: list[LineOut]
    unknown: list[LineOut]


@router.post("", status_code=201, response_model=InventoryOut)
def record(
    request: Request, body: InventoryIn, ledger: LedgerDep, actor: ActorDep
) -> InventoryOut | Response:
    """Record the count, an inspection of every item of the book (verified if counted, else
    not_presented), and answer the reconciliation: counted and on the book, on the book and not
    counted, counted but held by another party, counted and unknown to the ledger."""
    count = Count(**body.model_dump())  # the request, field for field
    done = take_inventory(ledger, fleet_of(request, ledger), count, actor=actor)
    if "text/csv" in request.headers.get("accept", ""):
        return Response(_csv(done), status_code=201, media_type="text/csv; charset=utf-8")
    lines = {status: done.of(status) for status in done.counts()}  # on_book, not_counted, ...
    return InventoryOut.model_validate(
        {**vars(done), "counts": done.counts(), **lines}, from_attributes=True
    )


def _csv(done: Reconciliation) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in done.lines:
        writer.writerow((line.status, line.serial, line.item_id or "", line.holder or ""))
    return text.getvalue()
