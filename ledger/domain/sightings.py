"""The Sighting aggregate: what a third party saw when no item of the ledger matches it yet
(docs/investigations.md).

A sighting is recorded with the markings as read (serial with `?` for what was unreadable,
manufacturer, model, lot), the place, the time, who held the weapon and the SHA-256 of the photos.
It is its own aggregate in the log, so it is on record, and provably so, before anyone decides
what it is. Matching it to an item records two entries in one transaction: the item's `Sighted`
(whose `evidence` starts with the SHA-256 of the sighting's `Recorded` entry bytes: the item's
record names the sighting's exact entry) and the sighting's `Matched` (naming the item).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain.errors import AlreadyExists
from ledger.domain.events import LedgerAggregate, Report, Reported


class Sighting(LedgerAggregate):
    TOPIC = "custody:Sighting"

    class Event(Reported):
        pass

    class Created(Event, Aggregate.Created):
        TOPIC = "custody:Sighting.Created"

    class Recorded(Created):
        TOPIC = "custody:Sighting.Recorded"
        observer: str
        location: str
        held_by: str | None
        serial_as_read: str | None
        manufacturer: str | None
        model: str | None
        lot: str | None
        evidence: list[str]

        def apply(self, sighting: Sighting) -> None:
            sighting.observer, sighting.location = self.observer, self.location
            sighting.held_by, sighting.serial_as_read = self.held_by, self.serial_as_read
            sighting.manufacturer, sighting.model = self.manufacturer, self.model
            sighting.lot, sighting.evidence = self.lot, list(self.evidence)
            sighting.seen_at, sighting.recorded_by = self.occurred_at, self.actor
            sighting.item_id = None

    class Matched(Event):
        TOPIC = "custody:Sighting.Matched"
        item_id: str

        def apply(self, sighting: Sighting) -> None:
            sighting.item_id = self.item_id

    observer: str
    location: str
    held_by: str | None
    serial_as_read: str | None
    manufacturer: str | None
    model: str | None
    lot: str | None
    evidence: list[str]
    seen_at: datetime
    recorded_by: str
    item_id: str | None

    def __init__(self) -> None:
        """State is assigned by Recorded.apply, which the library calls right after this."""

    @classmethod
    def record(
        cls,
        *,
        sighting_id: UUID,
        observer: str,
        location: str,
        held_by: str | None,
        serial_as_read: str | None,
        manufacturer: str | None,
        model: str | None,
        lot: str | None,
        evidence: list[str],
        report: Report,
    ) -> Sighting:
        return cls._create_reported(
            cls.Recorded,
            sighting_id,
            report.checked(),
            observer=observer,
            location=location,
            held_by=held_by,
            serial_as_read=serial_as_read,
            manufacturer=manufacturer,
            model=model,
            lot=lot,
            evidence=evidence,
        )

    def match(self, *, item_id: UUID, now: datetime, actor: str) -> None:
        if self.item_id is not None:
            raise AlreadyExists(f"sighting {self.id} is matched to item {self.item_id} already")
        self._trigger_reported(self.Matched, Report.unsigned(actor, now), item_id=str(item_id))

    @property
    def status(self) -> str:
        return "unmatched" if self.item_id is None else "matched"
