"""Trace requests: to the supplier or exporter of an item (or of a sighting not yet matched), due in
the policy's `trace_answer_days`; the addressee's answer; the list by status, an overdue one with
its `trace_unanswered` finding (ledger/domain/traces.py, policies/traces.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ActorDep, LedgerDep, PagingDep
from api.routes.reports import PolicyDep
from api.schemas import (
    RECEIPT,
    Body,
    LongText,
    Paged,
    PartyId,
    RecordedOut,
    Sha256Hex,
    Time,
)
from ledger.application import Ledger, lists
from ledger.domain import Action, Actor, Role, Trace, TraceStatus
from policies.traces import trace_unanswered

router = APIRouter(prefix="/v1/traces", tags=["traces"])
SEE_ALL = frozenset({Role.ADMIN, Role.INVESTIGATOR, Role.OVERSIGHT, Role.INSPECTOR})


class TraceIn(Body):
    item_id: UUID | None = None
    sighting_id: UUID | None = None
    addressee: PartyId
    question: LongText
    occurred_at: Time | None = Field(default=None, description="when it was sent; default now")


class TraceRecordedOut(BaseModel):
    trace_id: UUID
    log_index: int
    due_at: datetime
    receipt: str = Field(description=RECEIPT)


class AnswerIn(Body):
    answer: Annotated[str, Field(min_length=1, max_length=4000)]
    documents: Annotated[list[Sha256Hex], Field(default_factory=list, max_length=50)]


class TraceOut(BaseModel):
    trace_id: UUID
    status: TraceStatus
    item_id: str | None
    sighting_id: str | None
    addressee: str
    question: str
    requested_by: str
    requested_at: datetime
    due_at: datetime
    answer: dict[str, Any] | None
    finding: dict[str, Any] | None


class TracesOut(Paged):
    traces: list[TraceOut]


@router.post("", status_code=201, response_model=TraceRecordedOut)
def request_trace(
    body: TraceIn, ledger: LedgerDep, actor: ActorDep, policy: PolicyDep
) -> TraceRecordedOut:
    """Investigators and oversight; due in `trace_answer_days` (policy file; 28 by default)."""
    recorded = ledger.request_trace(
        item=body.item_id,
        sighting=body.sighting_id,
        addressee=body.addressee,
        question=body.question,
        answer_days=policy.trace_answer_days,
        occurred_at=body.occurred_at,
        actor=actor,
    )
    due = ledger.trace(recorded.id).due_at
    return TraceRecordedOut(
        trace_id=recorded.id, log_index=recorded.log_index, due_at=due, receipt=recorded.receipt
    )


@router.post("/{trace_id}/answers", status_code=201, response_model=RecordedOut)
def answer(trace_id: UUID, body: AnswerIn, ledger: LedgerDep, actor: ActorDep) -> RecordedOut:
    """By the addressee party (or an admin for it)."""
    recorded = ledger.answer_trace(
        trace_id, answer=body.answer, documents=body.documents, actor=actor
    )
    return RecordedOut.of(recorded)


@router.get("", response_model=TracesOut)
def listing(
    ledger: LedgerDep,
    actor: ActorDep,
    paging: PagingDep,
    status: Annotated[Literal["open", "overdue", "answered", "all"], Query()] = "all",
) -> TracesOut:
    """Traces by status as of now, in the order requested, `limit` a page (fewer if most are
    filtered out). Investigators, oversight, inspectors and admins see all; another party, the
    traces addressed to it."""
    actor.require(Action.READ)
    now = ledger.clock()

    def listed(trace: Trace) -> bool:
        return may_see_trace(trace, actor) and status in ("all", trace.status(now))

    page = lists.traces(ledger, listed, **paging)
    return TracesOut(traces=[_out(ledger, t, now) for t in page.items], next=page.next)


def may_see_trace(trace: Trace, actor: Actor) -> bool:
    return actor.role in SEE_ALL or trace.addressee == actor.party


def _out(ledger: Ledger, trace: Trace, now: datetime) -> TraceOut:
    finding = trace_unanswered(ledger.log_store, trace, now)
    return TraceOut(
        trace_id=trace.id,
        status=trace.status(now),
        item_id=trace.item_id,
        sighting_id=trace.sighting_id,
        addressee=trace.addressee,
        question=trace.question,
        requested_by=trace.requested_by,
        requested_at=trace.requested_at,
        due_at=trace.due_at,
        answer=trace.answer,
        finding=None
        if finding is None
        else {
            "rule": finding.rule,
            "severity": finding.severity.value,
            "since": finding.since,
            "evidence": list(finding.evidence),
            "detail": finding.detail,
        },
    )
