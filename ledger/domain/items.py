"""The Item aggregate: one supplied weapon, launcher, vehicle, device or ammunition lot.

Command methods check the custody rules and decide; each event's `apply` only assigns state, because
it runs again on every replay (and, for `custody_at`, in field-time order, where it must not judge).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain.errors import InvalidTime, ItemDisposed, ItemLost, ItemNotLost, NotTheHolder
from ledger.domain.events import LedgerAggregate, Report, Reported
from ledger.domain.times import format_time, not_in_future


class Status(StrEnum):
    IN_CUSTODY = "in_custody"
    LOST = "lost"
    DISPOSED = "disposed"


class Category(StrEnum):
    RIFLE = "rifle"
    PISTOL = "pistol"
    MACHINE_GUN = "machine_gun"
    LAUNCHER = "launcher"
    MORTAR = "mortar"
    VEHICLE = "vehicle"
    NIGHT_VISION = "night_vision"
    AMMUNITION_LOT = "ammunition_lot"
    OTHER = "other"


class InspectionMethod(StrEnum):
    PHYSICAL = "physical"
    SERIAL_READ = "serial_read"
    PHOTO = "photo"
    SELF_REPORT = "self_report"


class InspectionResult(StrEnum):
    VERIFIED = "verified"
    SERIAL_MISMATCH = "serial_mismatch"
    NOT_PRESENTED = "not_presented"
    DAMAGED = "damaged"
    LOCATION_MISMATCH = "location_mismatch"


class LossCircumstances(StrEnum):
    LOST = "lost"
    STOLEN = "stolen"
    CAPTURED = "captured"
    MISSING = "missing"
    DESTROYED_IN_ACTION = "destroyed_in_action"


class DisposalMethod(StrEnum):
    DESTROYED = "destroyed"
    DEMILITARISED = "demilitarised"


class Item(LedgerAggregate):
    TOPIC = "custody:Item"

    class Event(Reported):
        pass

    class Created(Event, Aggregate.Created):
        TOPIC = "custody:Item.Created"  # the library's base; items are created by Issued

    class Issued(Created):
        TOPIC = "custody:Item.Issued"
        serial: str
        normalised_serial: str
        registry_serial: bool
        manufacturer: str
        model: str
        category: str
        agreement: str
        programme: str
        supplier: str
        recipient: str
        details: dict[str, Any]

        def apply(self, item: Item) -> None:
            item.serial, item.normalised_serial = self.serial, self.normalised_serial
            item.registry_serial = self.registry_serial
            item.manufacturer, item.model, item.category = (
                self.manufacturer,
                self.model,
                self.category,
            )
            item.agreement, item.programme, item.supplier = (
                self.agreement,
                self.programme,
                self.supplier,
            )
            item.details = dict(self.details)
            item.holder, item.status = self.recipient, Status.IN_CUSTODY
            item.issued_at = self.occurred_at
            item.last_inspection = None
            item.last_receipt = None
            item.loss = None
            item.daily = {}

    class Transferred(Event):
        TOPIC = "custody:Item.Transferred"
        from_holder: str
        to: str
        authority: str | None

        def apply(self, item: Item) -> None:
            item.holder = self.to

    class Received(Event):
        """The holder confirms it has the item in hand (after an issue or a transfer)."""

        TOPIC = "custody:Item.Received"
        location: str | None
        condition: str | None

        def apply(self, item: Item) -> None:
            item.last_receipt = format_time(self.occurred_at)

    class Inspected(Event):
        TOPIC = "custody:Item.Inspected"
        inspector: str
        method: str
        result: str
        observed_serial: str | None
        location: str | None

        def apply(self, item: Item) -> None:
            item.last_inspection = {
                "result": self.result,
                "method": self.method,
                "inspector": self.inspector,
                "occurred_at": format_time(self.occurred_at),
            }
            item.count_daily(self)

    class ReportedLost(Event):
        TOPIC = "custody:Item.ReportedLost"
        circumstances: str
        discovered_at: datetime

        def apply(self, item: Item) -> None:
            item.status = Status.LOST
            item.loss = {
                "circumstances": self.circumstances,
                "occurred_at": format_time(self.occurred_at),
                "discovered_at": format_time(self.discovered_at),
            }

    class Recovered(Event):
        TOPIC = "custody:Item.Recovered"
        by: str
        location: str | None
        condition: str | None

        def apply(self, item: Item) -> None:
            item.status, item.holder, item.loss = Status.IN_CUSTODY, self.by, None

    class Sighted(Event):
        TOPIC = "custody:Item.Sighted"
        observer: str
        held_by: str | None
        location: str
        serial_as_read: str | None
        evidence: list[str]

        def apply(self, item: Item) -> None:
            item.count_daily(self)  # a sighting documents, it does not change custody

    class Disposed(Event):
        TOPIC = "custody:Item.Disposed"
        method: str
        certificate: str | None
        witnesses: list[str]

        def apply(self, item: Item) -> None:
            item.status = Status.DISPOSED

    class Corrected(Event):
        TOPIC = "custody:Item.Corrected"
        entry: int
        reason: str

        def apply(self, item: Item) -> None:
            pass  # history is never edited; the correction stands beside the entry it names

    # Attributes assigned by the events above.
    serial: str
    normalised_serial: str
    registry_serial: bool
    manufacturer: str
    model: str
    category: str
    agreement: str
    programme: str
    supplier: str
    details: dict[str, Any]
    holder: str
    status: Status
    issued_at: datetime
    last_inspection: dict[str, str] | None
    last_receipt: str | None
    loss: dict[str, str] | None
    daily: dict[str, tuple[str, int]]
    """"<event>:<actor>" -> (the UTC day of its last recording, how many that day): the bounds of
    ledger/domain/bounds.py."""

    def __init__(self) -> None:
        """State is assigned by Issued.apply, which the library calls right after this."""

    @classmethod
    def issue(
        cls,
        *,
        item_id: UUID,
        serial: str,
        normalised_serial: str,
        registry_serial: bool,
        manufacturer: str,
        model: str,
        category: str,
        agreement: str,
        programme: str,
        supplier: str,
        recipient: str,
        details: dict[str, Any],
        report: Report,
    ) -> Item:
        return cls._create_reported(
            cls.Issued,
            item_id,
            report.checked(),
            serial=serial,
            normalised_serial=normalised_serial,
            registry_serial=registry_serial,
            manufacturer=manufacturer,
            model=model,
            category=category,
            agreement=agreement,
            programme=programme,
            supplier=supplier,
            recipient=recipient,
            details=details,
        )

    def transfer(
        self,
        *,
        to: str,
        from_holder: str | None,
        authority: str | None,
        report: Report,
    ) -> None:
        self._require_in_custody("transfer")
        if from_holder is not None and from_holder != self.holder:
            raise NotTheHolder(f"item is held by {self.holder}, not by {from_holder}")
        if to == self.holder:
            raise NotTheHolder(f"item is already held by {to}")
        self._record(
            self.Transferred,
            report,
            from_holder=self.holder,
            to=to,
            authority=authority,
        )

    def receive(
        self,
        *,
        location: str | None,
        condition: str | None,
        report: Report,
    ) -> None:
        self._require_in_custody("confirm receipt of")
        self._record(
            self.Received,
            report,
            location=location,
            condition=condition,
        )

    def inspect(
        self,
        *,
        inspector: str,
        result: str,
        method: str,
        observed_serial: str | None,
        location: str | None,
        report: Report,
    ) -> None:
        self._require_in_custody("inspect")
        self._record(
            self.Inspected,
            report,
            inspector=inspector,
            result=result,
            method=method,
            observed_serial=observed_serial,
            location=location,
        )

    def report_lost(
        self,
        *,
        circumstances: str,
        discovered_at: datetime | None,
        report: Report,
    ) -> None:
        self._require_in_custody("report lost")
        occurred = self._field_time(report.occurred_at, report.now)
        discovered = self._field_time(discovered_at or occurred, report.now, field="discovered_at")
        if discovered < occurred:
            raise InvalidTime(
                f"discovered_at {format_time(discovered)} is before occurred_at "
                f"{format_time(occurred)}"
            )
        self._record(
            self.ReportedLost,
            report,
            discovered_at=discovered,
            circumstances=circumstances,
        )

    def recover(
        self,
        *,
        by: str,
        location: str | None,
        condition: str | None,
        report: Report,
    ) -> None:
        self._require_not_disposed("recover")
        if self.status is not Status.LOST:
            raise ItemNotLost(f"item is {self.status.value}, not lost: there is nothing to recover")
        self._record(
            self.Recovered,
            report,
            by=by,
            location=location,
            condition=condition,
        )

    def sight(
        self,
        *,
        observer: str,
        held_by: str | None,
        location: str,
        serial_as_read: str | None,
        evidence: list[str],
        report: Report,
    ) -> None:
        # reality is recorded even after loss or disposal
        self._record(
            self.Sighted,
            report,
            observer=observer,
            held_by=held_by,
            location=location,
            serial_as_read=serial_as_read,
            evidence=evidence,
        )

    def dispose(
        self,
        *,
        method: str,
        certificate: str | None,
        witnesses: list[str],
        report: Report,
    ) -> None:
        self._require_in_custody("dispose of")
        self._record(
            self.Disposed,
            report,
            method=method,
            certificate=certificate,
            witnesses=witnesses,
        )

    def correct(
        self,
        *,
        entry: int,
        reason: str,
        report: Report,
    ) -> None:
        self._record(
            self.Corrected,
            report,
            entry=entry,
            reason=reason,
        )

    def count_daily(self, event: Item.Event) -> None:
        """Count the event among its actor's recordings of its kind that UTC day."""
        key, day = f"{type(event).__name__}:{event.actor}", event.timestamp.date().isoformat()
        last, count = self.daily.get(key, ("", 0))
        self.daily[key] = (day, count + 1 if last == day else 1)

    def recorded_today(self, kind: str, actor: str, now: datetime) -> int:
        """How many `kind` events `actor` recorded of this item on `now`'s UTC day."""
        last, count = self.daily.get(f"{kind}:{actor}", ("", 0))
        return count if last == now.date().isoformat() else 0

    def _record(self, event_class: type[Item.Event], report: Report, **fields: Any) -> None:
        """Trigger the event, its field time checked (not in the future, not before the issue);
        `fields` are the event's own, named by the public command that calls this."""
        occurred = self._field_time(report.occurred_at, report.now)
        self._trigger_reported(event_class, replace(report, occurred_at=occurred), **fields)

    def _field_time(self, value: datetime, now: datetime, field: str = "occurred_at") -> datetime:
        moment = not_in_future(value, now=now, field=field)
        if moment < self.issued_at:
            raise InvalidTime(
                f"{field} {format_time(moment)} is before the item was issued "
                f"({format_time(self.issued_at)})"
            )
        return moment

    def _require_not_disposed(self, action: str) -> None:
        if self.status is Status.DISPOSED:
            raise ItemDisposed(f"cannot {action} an item that was disposed of")

    def _require_in_custody(self, action: str) -> None:
        self._require_not_disposed(action)
        if self.status is Status.LOST:
            raise ItemLost(
                f"cannot {action} an item that is reported lost; record a recovery first"
            )
