"""Flags: a policy finding put on record (`Raised`) and its resolution (`Resolved`: who, why), so
oversight itself is audited. A flag's id is its finding's id, so raising the same finding twice
records it once."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain.errors import AlreadyExists
from ledger.domain.events import LedgerAggregate, Report, Reported
from ledger.domain.times import format_time


class Flag(LedgerAggregate):
    TOPIC = "custody:Flag"

    class Created(Reported, Aggregate.Created):
        TOPIC = "custody:Flag.Created"

    class Raised(Created):
        TOPIC = "custody:Flag.Raised"
        rule: str
        item_id: str
        severity: str
        since: datetime
        evidence: list[int]
        detail: str

        def apply(self, flag: Flag) -> None:
            flag.rule, flag.item_id, flag.severity = self.rule, UUID(self.item_id), self.severity
            flag.since, flag.evidence, flag.detail = self.since, list(self.evidence), self.detail
            flag.raised_by, flag.resolution = self.actor, None

    class Resolved(Reported):
        TOPIC = "custody:Flag.Resolved"
        reason: str

        def apply(self, flag: Flag) -> None:
            flag.resolution = {
                "by": self.actor,
                "reason": self.reason,
                "at": format_time(self.occurred_at),
            }

    rule: str
    item_id: UUID
    severity: str
    since: datetime
    evidence: list[int]
    detail: str
    raised_by: str
    resolution: dict[str, str] | None

    def __init__(self) -> None:
        """State is assigned by Raised.apply."""

    @classmethod
    def raise_(
        cls,
        *,
        flag_id: UUID,
        now: datetime,
        actor: str,
        rule: str,
        item_id: str,
        severity: str,
        since: datetime,
        evidence: list[int],
        detail: str,
    ) -> Flag:
        return cls._create_reported(
            cls.Raised,
            flag_id,
            Report.unsigned(actor, now),
            rule=rule,
            item_id=item_id,
            severity=severity,
            since=since,
            evidence=evidence,
            detail=detail,
        )

    def resolve(self, *, reason: str, now: datetime, actor: str) -> None:
        if self.resolution is not None:
            raise AlreadyExists(f"flag {self.id} was resolved already, by {self.resolution['by']}")
        self._trigger_reported(self.Resolved, Report.unsigned(actor, now), reason=reason)
