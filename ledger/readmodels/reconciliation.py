"""Serial-number inventories reconciled with the book: the serials counted in an arms room
(docs/api.md, docs/identity.md).

`take_inventory` compares the counted serials (in the normal form) with what the recipient and its
units held, in custody, at the inventory's time (the read models), and records in one transaction:

- the `Inventory` aggregate (ledger/domain/inventories.py): what was counted, and the four counts;
- for every counted item on the book, an `Inspected` (result verified, the inventory's method,
  `observed_serial` as counted, location the site);
- for every item on the book that was not counted, an `Inspected` with result not_presented: the
  usual finding (docs/policies.md).

Counted serials held by another party per the ledger, and those unknown to it, are answered, and
on record in the inventory's `Counted` entries, but write nothing to any item. An item on the book
then but lost or disposed of since is answered and gets no inspection (it cannot be inspected now).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from ledger.application.ledger import Ledger
from ledger.domain.access import Action, Actor
from ledger.domain.errors import InvalidInput
from ledger.domain.ids import MAX_TEXT, marking_form
from ledger.domain.inventories import ELSEWHERE, NOT_COUNTED, ON_BOOK, UNKNOWN
from ledger.domain.items import InspectionMethod, Status
from ledger.domain.times import not_in_future
from ledger.readmodels.models import Fleet
from ledger.readmodels.search import visible_holders_of
from ledger.store.serials import Marking

MAX_SERIALS = 100_000


@dataclass(frozen=True)
class Line:
    """One line of the reconciliation: a counted serial, or an item of the book not counted."""

    status: str
    serial: str
    item_id: UUID | None = None
    holder: str | None = None


@dataclass
class Reconciliation:
    inventory_id: UUID
    recipient: str
    occurred_at: datetime
    lines: list[Line] = field(default_factory=list)
    log_index: int = -1
    receipt: str = ""
    """The receipt of the inventory's last entry, at `log_index` (ledger/integrity/receipts.py)."""

    def of(self, status: str) -> list[Line]:
        return [line for line in self.lines if line.status == status]

    def counts(self) -> dict[str, int]:
        return {s: len(self.of(s)) for s in (ON_BOOK, NOT_COUNTED, ELSEWHERE, UNKNOWN)}


@dataclass(frozen=True)
class Count:
    """What was counted, and where: the inventory's request."""

    recipient: str
    occurred_at: datetime
    method: str
    serials: Sequence[str]
    site: str | None = None
    manufacturer: str | None = None
    model: str | None = None


def take_inventory(ledger: Ledger, fleet: Fleet, count: Count, *, actor: Actor) -> Reconciliation:
    """Reconcile the count with the book and record it all in one transaction (module docstring)."""
    _check(ledger, count, actor)
    at = not_in_future(count.occurred_at, now=ledger.clock(), field="occurred_at")
    ledger.log_store.ensure_serials()
    fleet.catch_up()  # a write: the book it records against must be every entry so far
    book = _book(ledger, fleet, count, at)
    reconciliation = _reconcile(ledger, fleet, count, at, book)
    with ledger.batch() as batch:
        recorded = ledger.record_inventory(
            recipient=count.recipient,
            site=count.site,
            method=count.method,
            manufacturer=count.manufacturer,
            model=count.model,
            serials=[line.serial for line in reconciliation.lines if line.status != NOT_COUNTED],
            counts=reconciliation.counts(),
            occurred_at=at,
            actor=actor,
        )
        reconciliation.inventory_id = recorded.id
        _inspect(ledger, fleet, count, at, reconciliation, actor)
    appended = batch.receipt.newest(reconciliation.inventory_id)
    reconciliation.log_index, reconciliation.receipt = (
        appended.log_index,
        ledger.tlog.note_of(appended),
    )
    return reconciliation


def _check(ledger: Ledger, count: Count, actor: Actor) -> None:
    actor.require(Action.COUNT)
    ledger.party(count.recipient)
    try:
        InspectionMethod(count.method)
    except ValueError:
        allowed = ", ".join(m.value for m in InspectionMethod)
        raise InvalidInput(f"method {count.method!r} is not one of: {allowed}") from None
    if not count.serials:
        raise InvalidInput("an inventory needs the serials counted")
    if len(count.serials) > MAX_SERIALS:
        raise InvalidInput(f"an inventory holds at most {MAX_SERIALS} serials; split it")


Book = dict[str, tuple[Marking, str]]
"""item id -> (its marking, its holder then)"""


def _book(ledger: Ledger, fleet: Fleet, count: Count, at: datetime) -> Book:
    """The items the recipient and its units held in custody at `at` (of the model, if given)."""
    held = {
        str(h.item_id): h.holder
        for holder in visible_holders_of(ledger, count.recipient)
        for h in fleet.views.holdings(holder, at=at)
        if h.status is Status.IN_CUSTODY
    }
    markings = ledger.log_store.serials.of_items(list(held))
    return {m.item_id: (m, held[m.item_id]) for m in markings if _of_model(m, count)}


def _of_model(marking: Marking, count: Count) -> bool:
    if count.manufacturer is not None and marking.manufacturer_form != _form(count.manufacturer):
        return False
    return count.model is None or marking.model_form == _form(count.model)


def _form(name: str) -> str:
    return marking_form(name, field="name", max_length=MAX_TEXT)


def _reconcile(
    ledger: Ledger, fleet: Fleet, count: Count, at: datetime, book: Book
) -> Reconciliation:
    counted: dict[str, str] = {}
    for number, serial in enumerate(count.serials, start=1):
        try:
            counted.setdefault(marking_form(serial), serial.strip())
        except InvalidInput as error:
            raise InvalidInput(f"serial {number} of the count: {error.message}") from None
    known: dict[str, list[Marking]] = {}
    for marking in ledger.log_store.serials.by_serials(list(counted)):
        if _of_model(marking, count):
            known.setdefault(marking.serial_form, []).append(marking)
    reconciliation = Reconciliation(UUID(int=0), count.recipient, at)
    found: set[str] = set()
    for form, serial in counted.items():
        reconciliation.lines.append(_line(fleet, serial, known.get(form, []), book, found, at))
    for item_id, (marking, holder) in book.items():
        if item_id not in found:
            reconciliation.lines.append(Line(NOT_COUNTED, marking.serial, UUID(item_id), holder))
    return reconciliation


def _line(
    fleet: Fleet,
    serial: str,
    candidates: list[Marking],
    book: Book,
    found: set[str],
    at: datetime,
) -> Line:
    mine = [m.item_id for m in candidates if m.item_id in book]
    if mine:
        found.add(mine[0])
        return Line(ON_BOOK, serial, UUID(mine[0]), book[mine[0]][1])
    if candidates:
        held = fleet.views.interval_at(candidates[0].item_id, at=at)
        holder = held[0] if held is not None else None
        return Line(ELSEWHERE, serial, UUID(candidates[0].item_id), holder)
    return Line(UNKNOWN, serial)


def _inspect(
    ledger: Ledger,
    fleet: Fleet,
    count: Count,
    at: datetime,
    reconciliation: Reconciliation,
    actor: Actor,
) -> None:
    for line in reconciliation.lines:
        if line.status not in (ON_BOOK, NOT_COUNTED) or line.item_id is None:
            continue
        summary = fleet.views.summary(line.item_id)
        if summary is None or summary.status is not Status.IN_CUSTODY:
            continue  # lost or disposed of since: answered, not inspected
        ledger.inventory_inspection(
            line.item_id,
            result="verified" if line.status == ON_BOOK else "not_presented",
            method=count.method,
            observed_serial=line.serial if line.status == ON_BOOK else None,
            location=count.site,
            occurred_at=at,
            actor=actor,
        )
