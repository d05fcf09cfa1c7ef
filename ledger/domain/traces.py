"""The Trace aggregate: a trace request to the supplier or exporter of an item (or of a sighting
not yet matched), with all its markings, and the answer (docs/investigations.md).

`Requested` names the item or the sighting, the addressee party, the question and when the answer
is due (the request's time plus the policy's `trace_answer_days`, 28 by default); `Answered`
holds the addressee's answer and the SHA-256 of its documents. A trace not answered by its due
time is overdue: the finding `trace_unanswered` (policies/traces.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain.errors import AlreadyExists
from ledger.domain.events import LedgerAggregate, Report, Reported, Signature
from ledger.domain.times import not_in_future

TraceStatus = Literal["open", "overdue", "answered"]
OPEN: Final = "open"
OVERDUE: Final = "overdue"
ANSWERED: Final = "answered"


class Trace(LedgerAggregate):
    TOPIC = "custody:Trace"

    class Event(Reported):
        pass

    class Created(Event, Aggregate.Created):
        TOPIC = "custody:Trace.Created"

    class Requested(Created):
        TOPIC = "custody:Trace.Requested"
        item_id: str | None
        sighting_id: str | None
        addressee: str
        question: str
        due_at: datetime

        def apply(self, trace: Trace) -> None:
            trace.item_id, trace.sighting_id = self.item_id, self.sighting_id
            trace.addressee, trace.question = self.addressee, self.question
            trace.due_at, trace.requested_at = self.due_at, self.occurred_at
            trace.requested_by = self.actor
            trace.answer = None

    class Answered(Event):
        TOPIC = "custody:Trace.Answered"
        answer: str
        documents: list[str]

        def apply(self, trace: Trace) -> None:
            trace.answer = {
                "answer": self.answer,
                "documents": list(self.documents),
                "answered_at": self.occurred_at.isoformat(),
                "by": self.actor,
            }

    item_id: str | None
    sighting_id: str | None
    addressee: str
    question: str
    due_at: datetime
    requested_at: datetime
    requested_by: str
    answer: dict[str, Any] | None

    def __init__(self) -> None:
        """State is assigned by Requested.apply, which the library calls right after this."""

    @classmethod
    def request(
        cls,
        *,
        trace_id: UUID,
        now: datetime,
        answer_days: int,
        occurred_at: datetime | None,
        item_id: str | None,
        sighting_id: str | None,
        addressee: str,
        question: str,
        actor: str,
        signature: Signature,
    ) -> Trace:
        """Requested at `occurred_at` (when it was sent; default now), due `answer_days` later."""
        sent = (
            now if occurred_at is None else not_in_future(occurred_at, now=now, field="occurred_at")
        )
        return cls._create_reported(
            cls.Requested,
            trace_id,
            Report(sent, actor, signature, now),
            due_at=sent + timedelta(days=answer_days),
            item_id=item_id,
            sighting_id=sighting_id,
            addressee=addressee,
            question=question,
        )

    def answer_with(self, *, answer: str, documents: list[str], now: datetime, actor: str) -> None:
        if self.answer is not None:
            raise AlreadyExists(f"trace {self.id} was answered already")
        self._trigger_reported(
            self.Answered, Report.unsigned(actor, now), answer=answer, documents=documents
        )

    def status(self, now: datetime) -> TraceStatus:
        if self.answer is not None:
            return ANSWERED
        return OVERDUE if now > self.due_at else OPEN
