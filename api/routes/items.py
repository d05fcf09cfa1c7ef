"""Item routes: issue, record events, read state, history and custody at a time. Thin: parse, call
the Ledger, shape the answer."""

from __future__ import annotations

import base64
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.deps import FleetDep, LedgerDep, PastDep, ReadScopeDep
from api.schemas import (
    Body,
    CorrectionIn,
    CustodyOut,
    DisposalIn,
    EntryOut,
    EvidenceEntriesOut,
    HistoryOut,
    InspectionIn,
    ItemIn,
    ItemOut,
    ItemRecordedOut,
    LossIn,
    PagingDep,
    ProvedEntryOut,
    ReceiptIn,
    RecoveryIn,
    RouteOptions,
    SightingIn,
    TransferIn,
)
from api.submissions import WriteDep
from ledger.application import Ledger, Recorded, lists
from ledger.domain import Action
from ledger.domain.replay import CustodyState
from ledger.integrity import decode_entry
from ledger.readmodels import custody_at
from ledger.store import LogRow
from ledger.verification import stream_bundle

router = APIRouter(prefix="/v1/items", tags=["items"])
CREATED: RouteOptions = {"status_code": 201, "response_model": ItemRecordedOut}


@router.post("", **CREATED)
def issue(body: ItemIn, write: WriteDep) -> ItemRecordedOut:
    recorded = write.ledger.issue(
        serial=body.serial,
        manufacturer=body.manufacturer,
        model=body.model,
        category=body.category,
        agreement=body.agreement,
        recipient=body.recipient,
        occurred_at=body.occurred_at,
        registry_serial=body.registry_serial,
        details=body.details(),
        via=write.via(Action.ISSUE),
        actor=write.actor,
    )
    return ItemRecordedOut.of(recorded)


@dataclass(frozen=True)
class ItemEvent:
    """An event recorded on an item: `POST /v1/items/{item_id}/<path>` with a body whose fields
    (less its `signature`) are, name for name, the keyword arguments of the Ledger method named
    as the action."""

    path: str
    action: Action
    body: type[Body]
    description: str = ""


ITEM_EVENTS = (
    ItemEvent("transfers", Action.TRANSFER, TransferIn),
    ItemEvent("receipts", Action.RECEIVE, ReceiptIn, "The holder confirms the item is in hand."),
    ItemEvent("inspections", Action.INSPECT, InspectionIn),
    ItemEvent("losses", Action.REPORT_LOST, LossIn),
    ItemEvent("recoveries", Action.RECOVER, RecoveryIn),
    ItemEvent("sightings", Action.SIGHT, SightingIn),
    ItemEvent("disposals", Action.DISPOSE, DisposalIn),
    ItemEvent("corrections", Action.CORRECT, CorrectionIn),
)


def _event_route(event: ItemEvent) -> Callable[..., ItemRecordedOut]:
    taken = inspect.signature(getattr(Ledger, event.action.value)).parameters
    if untaken := set(event.body.model_fields) - {"signature"} - set(taken):
        raise TypeError(f"Ledger.{event.action.value} takes no {sorted(untaken)}")

    def record_event(item_id: UUID, body: Body, write: WriteDep) -> ItemRecordedOut:
        record: Callable[..., Recorded] = getattr(write.ledger, event.action.value)
        recorded = record(
            item_id,
            **body.model_dump(exclude={"signature"}),
            via=write.via(event.action, item_id),
            actor=write.actor,
        )
        return ItemRecordedOut.of(recorded)

    record_event.__annotations__["body"] = event.body  # the model FastAPI parses and documents
    return record_event


for _event in ITEM_EVENTS:
    router.add_api_route(
        f"/{{item_id}}/{_event.path}",
        _event_route(_event),
        methods=["POST"],
        name=_event.action.value,
        description=_event.description,
        **CREATED,
    )


@router.get("/{item_id}", response_model=ItemOut)
def item_state(item_id: UUID, ledger: LedgerDep, scope: ReadScopeDep) -> ItemOut:
    item = ledger.item(scope.require_item(item_id))
    return ItemOut.model_validate(item, from_attributes=True)


@router.get("/{item_id}/history", response_model=HistoryOut)
def history(
    item_id: UUID,
    ledger: LedgerDep,
    scope: ReadScopeDep,
    paging: PagingDep,
) -> HistoryOut:
    """The item's entries, oldest first, `limit` a page (docs/api.md, "Paging")."""
    page = lists.history(ledger, scope.require_item(item_id), **paging)
    return HistoryOut(
        item_id=item_id, entries=[_entry_out(ledger, row) for row in page.items], next=page.next
    )


def _entry_out(ledger: Ledger, row: LogRow) -> EntryOut:
    body = decode_entry(row.entry)
    return EntryOut(
        log_index=row.log_index,
        version=row.aggregate_version,
        type=body["type"],
        occurred_at=body["occurred_at"],
        recorded_at=body["recorded_at"],
        leaf_hash=row.leaf_hash.hex(),
        entry=base64.b64encode(row.entry).decode("ascii"),
        receipt=ledger.tlog.receipt_of(row),
    )


@router.get("/{item_id}/custody", response_model=CustodyOut)
async def custody(
    item_id: UUID,
    ledger: LedgerDep,
    fleet: FleetDep,
    scope: ReadScopeDep,
    past: PastDep,
) -> CustodyOut:
    """Holder and status at field time `at` as known at `known_at`, and the entries the answer
    rests on: from the read models when they have applied every entry of the item, else (or with
    `exact=true`) from the replay, the reference; both answer the same."""

    # `async`, the store read in one hop to the thread pool: a plain `def` route takes a second
    # hop for FastAPI's check of the answer against CustodyOut (docs/performance.md, "Read models").
    def read() -> CustodyState:
        scope.require_item(item_id, at=past.at)
        return custody_at(
            ledger, fleet, item_id, at=past.at, known_at=past.known_at, exact=past.exact
        )

    state = await run_in_threadpool(read)
    return CustodyOut.model_validate(state, from_attributes=True)


@router.get("/{item_id}/evidence")
def evidence(item_id: UUID, ledger: LedgerDep, scope: ReadScopeDep) -> StreamingResponse:
    """The evidence bundle (docs/verification.md, section 7), one document to download and check
    offline with `custody verify-evidence FILE --vkey ...`; its entries a page at a time, with
    the same proofs: `/v1/items/{id}/evidence/entries`."""
    bundle = ledger.evidence(scope.require_item(item_id))
    return StreamingResponse(
        stream_bundle(bundle),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="evidence-{item_id}.json"'},
    )


@router.get("/{item_id}/evidence/entries", response_model=EvidenceEntriesOut)
def evidence_entries(
    item_id: UUID,
    ledger: LedgerDep,
    scope: ReadScopeDep,
    paging: PagingDep,
) -> EvidenceEntriesOut:
    """The bundle's `entries` a page at a time: each entry with its inclusion proof to the
    signed checkpoint of the first page (every page of one paging keeps it), as the bundle
    holds them (docs/verification.md, section 7)."""
    page = lists.evidence_entries(ledger, scope.require_item(item_id), **paging)
    return EvidenceEntriesOut(
        item_id=item_id,
        checkpoint=page.checkpoint,
        size=page.size,
        entries=[ProvedEntryOut.model_validate(e) for e in page.entries.items],
        next=page.entries.next,
    )
