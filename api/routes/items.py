"""Item routes: issue, record events, read state, history and custody at a time. Thin: parse, call
the Ledger, shape the answer."""

from __future__ import annotations

import base64
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.deps import ExactQuery, FleetDep, LedgerDep, ReadScopeDep
from api.schemas import (
    CorrectionIn,
    Cursor,
    CustodyOut,
    DisposalIn,
    EntryOut,
    EvidenceEntriesOut,
    HistoryOut,
    InspectionIn,
    ItemIn,
    ItemOut,
    ItemRecordedOut,
    Limit,
    LossIn,
    ProvedEntryOut,
    ReceiptIn,
    RecoveryIn,
    RouteOptions,
    SightingIn,
    Time,
    TransferIn,
)
from api.submissions import WriteDep
from ledger.application import Ledger, Recorded, lists
from ledger.domain import DEFAULT_LIMIT, Action, Item
from ledger.domain.replay import CustodyState
from ledger.integrity import decode_entry
from ledger.readmodels import custody_at
from ledger.store import LogRow
from ledger.verification import stream_bundle

router = APIRouter(prefix="/v1/items", tags=["items"])
CREATED: RouteOptions = {"status_code": 201, "response_model": ItemRecordedOut}


def _recorded(recorded: Recorded) -> ItemRecordedOut:
    return ItemRecordedOut(
        item_id=recorded.id,
        version=recorded.version,
        log_index=recorded.log_index,
        receipt=recorded.receipt,
    )


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
    return _recorded(recorded)


@router.post("/{item_id}/transfers", **CREATED)
def transfer(item_id: UUID, body: TransferIn, write: WriteDep) -> ItemRecordedOut:
    recorded = write.ledger.transfer(
        item_id,
        to=body.to,
        occurred_at=body.occurred_at,
        authority=body.authority,
        from_holder=body.from_holder,
        via=write.via(Action.TRANSFER, item_id),
        actor=write.actor,
    )
    return _recorded(recorded)


@router.post("/{item_id}/receipts", **CREATED)
def receive(item_id: UUID, body: ReceiptIn, write: WriteDep) -> ItemRecordedOut:
    """The holder confirms the item is in hand."""
    recorded = write.ledger.receive(
        item_id,
        occurred_at=body.occurred_at,
        location=body.location,
        condition=body.condition,
        via=write.via(Action.RECEIVE, item_id),
        actor=write.actor,
    )
    return _recorded(recorded)


@router.post("/{item_id}/inspections", **CREATED)
def inspect(item_id: UUID, body: InspectionIn, write: WriteDep) -> ItemRecordedOut:
    recorded = write.ledger.inspect(
        item_id,
        result=body.result,
        method=body.method,
        occurred_at=body.occurred_at,
        inspector=body.inspector,
        observed_serial=body.observed_serial,
        location=body.location,
        via=write.via(Action.INSPECT, item_id),
        actor=write.actor,
    )
    return _recorded(recorded)


@router.post("/{item_id}/losses", **CREATED)
def report_lost(item_id: UUID, body: LossIn, write: WriteDep) -> ItemRecordedOut:
    recorded = write.ledger.report_lost(
        item_id,
        circumstances=body.circumstances,
        occurred_at=body.occurred_at,
        discovered_at=body.discovered_at,
        via=write.via(Action.REPORT_LOST, item_id),
        actor=write.actor,
    )
    return _recorded(recorded)


@router.post("/{item_id}/recoveries", **CREATED)
def recover(item_id: UUID, body: RecoveryIn, write: WriteDep) -> ItemRecordedOut:
    recorded = write.ledger.recover(
        item_id,
        by=body.by,
        occurred_at=body.occurred_at,
        location=body.location,
        condition=body.condition,
        via=write.via(Action.RECOVER, item_id),
        actor=write.actor,
    )
    return _recorded(recorded)


@router.post("/{item_id}/sightings", **CREATED)
def sight(item_id: UUID, body: SightingIn, write: WriteDep) -> ItemRecordedOut:
    recorded = write.ledger.sight(
        item_id,
        observer=body.observer,
        location=body.location,
        occurred_at=body.occurred_at,
        held_by=body.held_by,
        serial_as_read=body.serial_as_read,
        evidence=body.evidence,
        via=write.via(Action.SIGHT, item_id),
        actor=write.actor,
    )
    return _recorded(recorded)


@router.post("/{item_id}/disposals", **CREATED)
def dispose(item_id: UUID, body: DisposalIn, write: WriteDep) -> ItemRecordedOut:
    recorded = write.ledger.dispose(
        item_id,
        method=body.method,
        occurred_at=body.occurred_at,
        certificate=body.certificate,
        witnesses=body.witnesses,
        via=write.via(Action.DISPOSE, item_id),
        actor=write.actor,
    )
    return _recorded(recorded)


@router.post("/{item_id}/corrections", **CREATED)
def correct(item_id: UUID, body: CorrectionIn, write: WriteDep) -> ItemRecordedOut:
    recorded = write.ledger.correct(
        item_id,
        entry=body.entry,
        reason=body.reason,
        occurred_at=body.occurred_at,
        via=write.via(Action.CORRECT, item_id),
        actor=write.actor,
    )
    return _recorded(recorded)


@router.get("/{item_id}", response_model=ItemOut)
def item_state(item_id: UUID, ledger: LedgerDep, scope: ReadScopeDep) -> ItemOut:
    return _item_out(ledger.item(scope.require_item(item_id)))


@router.get("/{item_id}/history", response_model=HistoryOut)
def history(
    item_id: UUID,
    ledger: LedgerDep,
    scope: ReadScopeDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> HistoryOut:
    """The item's entries, oldest first, `limit` a page (docs/api.md, "Paging")."""
    page = lists.history(ledger, scope.require_item(item_id), cursor=cursor, limit=limit)
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
    at: Annotated[Time, Query(description="field time, RFC 3339 with a zone")],
    known_at: Annotated[
        Time | None, Query(description="recording time; default: everything recorded so far")
    ] = None,
    exact: ExactQuery = False,
) -> CustodyOut:
    """Holder and status at field time `at` as known at `known_at`, and the entries the answer
    rests on: from the read models when they have applied every entry of the item, else (or with
    `exact=true`) from the replay, the reference; both answer the same."""

    # `async`, the store read in one hop to the thread pool: a plain `def` route takes a second
    # hop for FastAPI's check of the answer against CustodyOut (docs/performance.md, "Read models").
    def read() -> CustodyState:
        scope.require_item(item_id, at=at)
        return custody_at(ledger, fleet, item_id, at=at, known_at=known_at, exact=exact)

    state = await run_in_threadpool(read)
    return CustodyOut(
        item_id=state.item_id,
        at=state.at,
        known_at=state.known_at,
        holder=state.holder,
        status=state.status.value,
        last_event_at=state.last_event_at,
        log_indexes=list(state.log_indexes),
    )


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
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> EvidenceEntriesOut:
    """The bundle's `entries` a page at a time: each entry with its inclusion proof to the
    signed checkpoint of the first page (every page of one paging keeps it), as the bundle
    holds them (docs/verification.md, section 7)."""
    page = lists.evidence_entries(ledger, scope.require_item(item_id), cursor=cursor, limit=limit)
    return EvidenceEntriesOut(
        item_id=item_id,
        checkpoint=page.checkpoint,
        size=page.size,
        entries=[ProvedEntryOut.model_validate(e) for e in page.entries.items],
        next=page.entries.next,
    )


def _item_out(item: Item) -> ItemOut:
    return ItemOut(
        item_id=item.id,
        version=item.version,
        serial=item.serial,
        normalised_serial=item.normalised_serial,
        registry_serial=item.registry_serial,
        manufacturer=item.manufacturer,
        model=item.model,
        category=item.category,
        agreement=item.agreement,
        programme=item.programme,
        supplier=item.supplier,
        holder=item.holder,
        status=item.status.value,
        issued_at=item.issued_at,
        last_inspection=item.last_inspection,
        loss=item.loss,
        details=item.details,
    )
