"""The base of every event the ledger records: when it happened, who reported it, and how signed;
and of every aggregate, which records its events with those four facts of a report."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Self
from uuid import UUID

from eventsourcing.domain import Aggregate, CanInitAggregate, CanMutateAggregate

from ledger.domain.times import not_in_future

Signature = dict[str, str] | None
"""A signed submission's signature as an entry keeps it, or None for an unsigned write."""


class Reported(Aggregate.Event):
    """`occurred_at` is field time (given by the reporter); the library's `timestamp` is the
    recording time.

    `actor` is the party id of whoever recorded the event; `signature` is their signature over the
    submission, if they signed it (base64), else None.
    """

    occurred_at: datetime
    actor: str
    signature: dict[str, str] | None


@dataclass(frozen=True)
class Report:
    """What every event is recorded with besides its own fields: its field time, who reported
    it, their signature (or None), and the recording time `now`."""

    occurred_at: datetime
    actor: str
    signature: Signature
    now: datetime

    @classmethod
    def unsigned(cls, actor: str, now: datetime) -> Report:
        """An unsigned report of something that happens as it is recorded (a registration, a
        resolution, a nonce): its field time is `now`."""
        return cls(occurred_at=now, actor=actor, signature=None, now=now)

    def event_fields(self) -> dict[str, Any]:
        """The keyword arguments an event recorded with this report takes besides its own."""
        return {
            "timestamp": self.now,
            "occurred_at": self.occurred_at,
            "actor": self.actor,
            "signature": self.signature,
        }

    def checked(self) -> Report:
        """The report, its field time refused if it is in the future (and made UTC)."""
        moment = not_in_future(self.occurred_at, now=self.now, field="occurred_at")
        return replace(self, occurred_at=moment)


class LedgerAggregate(Aggregate):
    """The base of the ledger's aggregates. Each names its own TOPIC and its events' (the
    library requires it of every event class an aggregate defines, `Created` too); what they
    share is how an event is recorded from a `Report`. The commands that call these name every
    field of the event in their own signatures."""

    @classmethod
    def _create_reported(
        cls,
        event_class: type[CanInitAggregate[UUID]],
        aggregate_id: UUID,
        report: Report,
        /,
        **fields: Any,
    ) -> Self:
        return cls._create(event_class, id=aggregate_id, **report.event_fields(), **fields)

    def _trigger_reported(
        self, event_class: type[CanMutateAggregate[UUID]], report: Report, /, **fields: Any
    ) -> None:
        self.trigger_event(event_class, **report.event_fields(), **fields)
