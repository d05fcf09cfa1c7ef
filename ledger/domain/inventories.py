"""The Inventory aggregate: a serial-number inventory of a recipient, as counted (the reconciliation
with the book is ledger/readmodels/reconciliation.py).

`Recorded` (recipient, site, method, manufacturer and model if the count was of one model, how many
serials, the SHA-256 of their JSON list), the counted serials as marked in `Counted` entries of at
most `SERIALS_PER_ENTRY` each (so entries stay small), and `Reconciled` with the four counts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain.events import LedgerAggregate, Report, Reported

SERIALS_PER_ENTRY = 500
ON_BOOK, NOT_COUNTED, ELSEWHERE, UNKNOWN = "on_book", "not_counted", "held_elsewhere", "unknown"


class Inventory(LedgerAggregate):
    TOPIC = "custody:Inventory"

    class Event(Reported):
        pass

    class Created(Event, Aggregate.Created):
        TOPIC = "custody:Inventory.Created"

    class Recorded(Created):
        TOPIC = "custody:Inventory.Recorded"
        recipient: str
        site: str | None
        method: str
        manufacturer: str | None
        model: str | None
        counted: int
        serials_sha256: str

        def apply(self, inventory: Inventory) -> None:
            inventory.recipient, inventory.site = self.recipient, self.site
            inventory.method, inventory.counted = self.method, self.counted
            inventory.serials = []
            inventory.reconciled = {}

    class Counted(Event):
        TOPIC = "custody:Inventory.Counted"
        serials: list[str]

        def apply(self, inventory: Inventory) -> None:
            inventory.serials.extend(self.serials)

    class Reconciled(Event):
        TOPIC = "custody:Inventory.Reconciled"
        on_book: int
        not_counted: int
        held_elsewhere: int
        unknown: int

        def apply(self, inventory: Inventory) -> None:
            inventory.reconciled = {
                ON_BOOK: self.on_book,
                NOT_COUNTED: self.not_counted,
                ELSEWHERE: self.held_elsewhere,
                UNKNOWN: self.unknown,
            }

    recipient: str
    site: str | None
    method: str
    counted: int
    serials: list[str]
    reconciled: dict[str, int]

    def __init__(self) -> None:
        """State is assigned by Recorded.apply, which the library calls right after this."""

    @classmethod
    def record(
        cls,
        *,
        inventory_id: UUID,
        serials: Sequence[str],
        counts: dict[str, int],
        now: datetime,
        recipient: str,
        site: str | None,
        method: str,
        manufacturer: str | None,
        model: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> Inventory:
        report = Report(occurred_at, actor, None, now)
        digest = hashlib.sha256(json.dumps(list(serials), ensure_ascii=False).encode()).hexdigest()
        inventory = cls._create_reported(
            cls.Recorded,
            inventory_id,
            report,
            counted=len(serials),
            serials_sha256=digest,
            recipient=recipient,
            site=site,
            method=method,
            manufacturer=manufacturer,
            model=model,
        )
        for start in range(0, len(serials), SERIALS_PER_ENTRY):
            chunk = list(serials[start : start + SERIALS_PER_ENTRY])
            inventory._trigger_reported(cls.Counted, report, serials=chunk)
        inventory._trigger_reported(
            cls.Reconciled,
            report,
            on_book=counts[ON_BOOK],
            not_counted=counts[NOT_COUNTED],
            held_elsewhere=counts[ELSEWHERE],
            unknown=counts[UNKNOWN],
        )
        return inventory
