"""The finding `trace_unanswered`: a trace request (ledger/domain/traces.py) not answered by its
due time,
about the item it names (for a trace about a sighting not yet matched: the sighting's id)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from uuid import UUID

from ledger.application import Ledger
from ledger.domain import Trace
from ledger.store import LogStore
from policies.findings import Finding, Severity


def trace_findings(ledger: Ledger, as_of: datetime, items: Collection[UUID]) -> list[Finding]:
    """The `trace_unanswered` findings as of `as_of` of the traces about these items (the flags
    and their scan list them beside the item's own findings)."""
    found = []
    for trace in ledger.traces():
        if trace.item_id is not None and UUID(trace.item_id) in items:
            finding = trace_unanswered(ledger.log_store, trace, as_of)
            if finding is not None:
                found.append(finding)
    return found


def trace_unanswered(store: LogStore, trace: Trace, as_of: datetime) -> Finding | None:
    """The finding if the trace was due before `as_of` and not answered by then; else None."""
    answered = trace.answer is not None and datetime.fromisoformat(trace.answer["answered_at"])
    if as_of <= trace.due_at or (answered and answered <= as_of):
        return None
    subject = trace.item_id or trace.sighting_id
    return Finding(
        "trace_unanswered",
        UUID(str(subject)),
        Severity.MEDIUM,
        trace.due_at,
        (store.log_indexes_of(trace.id)[1],),
        f"trace to {trace.addressee} unanswered since {trace.due_at.date()}: {trace.question}",
    )
