"""Find items by serial: exact (in the normal form) or by a partial serial, ranked
(docs/identity.md, docs/api.md).

A pattern is a serial as read with `?` for one unreadable character and `*` for any run of them;
its readable parts are taken to the normal form one by one. An item matches if its serial's form
contains the pattern; candidates are ranked: the pattern's form itself first (exact), then forms the
pattern matches whole, then forms it matches inside; within each, fewer unknown characters first
(the form's length less the pattern's readable characters), then by form and log index. Pages hold
at most `PAGE` candidates; `next` is the cursor of the page after.

Each candidate carries the item's holder and status now and, if asked, at a field time, and the
last independently verified inspection (result verified by a method other than the holder's own
self_report). The index is `ledger/store/serials.py`; holder and status come from the read models
(ledger/readmodels/custody.py), or from the replay for an item whose entries they have not all
applied yet: a search never catches them up. A partner sees only the items its own units or it
hold now (`visible_holders`), checked on each candidate.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.application.ledger import Ledger
from ledger.domain.access import Action, Actor
from ledger.domain.errors import InvalidInput, NotFound
from ledger.domain.ids import MAX_TEXT, check_marking, marking_form
from ledger.domain.items import InspectionMethod, InspectionResult, Item
from ledger.domain.paging import Key, checked_limit, page_of, position
from ledger.domain.parties import Party
from ledger.domain.times import format_time
from ledger.domain.tokens import Role
from ledger.readmodels.custody import custody_at, holder_now
from ledger.readmodels.models import SUMMARY_TABLE, Fleet
from ledger.store.serial_search import SerialQuery, ranked
from ledger.store.serials import COLUMNS, Marking

PAGE = 50
MAX_PATTERN = 64
WILDCARDS = "?*"
EXACT, WHOLE, PARTIAL = "exact", "whole", "partial"
_TIERS = (EXACT, WHOLE, PARTIAL)


@dataclass(frozen=True)
class Pattern:
    """A serial as read: readable parts in the normal form, `?` and `*` between them."""

    parts: tuple[str, ...]
    """Alternating: readable form, wildcard run, readable form ... (wildcard runs as typed)."""

    @classmethod
    def parse(cls, text: str) -> Pattern:
        check_marking(text, field="pattern", max_length=MAX_PATTERN)
        parts: list[str] = []
        run = ""
        for ch in text.strip():
            if ch in WILDCARDS:
                if run:
                    parts.append(_readable(run))
                    run = ""
                parts.append(ch)
            else:
                run += ch
        if run:
            parts.append(_readable(run))
        return cls(tuple(p for p in parts if p))

    @property
    def literal(self) -> str:
        return "".join(p for p in self.parts if p not in WILDCARDS)


def _readable(run: str) -> str:
    """A readable part in the normal form; a part of punctuation only is nothing."""
    try:
        return marking_form(run, field="pattern", max_length=MAX_PATTERN)
    except InvalidInput as error:
        if "no letter or digit" in error.message:
            return ""
        raise


@dataclass(frozen=True)
class Filters:
    manufacturer: str | None = None
    model: str | None = None
    category: str | None = None
    calibre: str | None = None
    lot: str | None = None

    def columns(self) -> dict[str, str]:
        """The index's columns (ledger/store/serials.py) to equal, in the normal form."""
        found = {}
        for name, column, value in (
            ("manufacturer", "manufacturer_form", self.manufacturer),
            ("model", "model_form", self.model),
            ("calibre", "calibre", self.calibre),
            ("lot", "lot", self.lot),
        ):
            if value is not None:
                found[column] = marking_form(value, field=name, max_length=MAX_TEXT)
        if self.category is not None:
            found["category"] = self.category
        return found


@dataclass(frozen=True)
class Candidate:
    item_id: UUID
    serial: str
    normalised_serial: str
    manufacturer_form: str
    model_form: str
    category: str
    match: str
    unknowns: int
    holder: str
    status: str
    at: dict[str, str] | None
    last_verified_inspection: dict[str, str] | None


@dataclass(frozen=True)
class Found:
    candidates: list[Candidate]
    next: str | None


def find_serial(
    ledger: Ledger, fleet: Fleet, serial: str, *, filters: Filters, actor: Actor
) -> list[Candidate]:
    """The items whose serial has this normal form (and the filters): the first page."""
    return serial_page(ledger, fleet, serial, filters=filters, actor=actor).candidates


def serial_page(
    ledger: Ledger,
    fleet: Fleet,
    serial: str,
    *,
    filters: Filters,
    actor: Actor,
    cursor: str | None = None,
    limit: int = PAGE,
) -> Found:
    """A page of the items whose serial has this normal form (and the filters)."""
    pattern = Pattern((marking_form(serial),))
    return search(
        ledger,
        fleet,
        pattern,
        filters=filters,
        actor=actor,
        cursor=cursor,
        limit=limit,
        exact_only=True,
    )


def resolve_item(
    ledger: Ledger, fleet: Fleet, serial: str, *, manufacturer: str, model: str, actor: Actor
) -> UUID:
    """The one item with this marking (serial, manufacturer and model in the normal form)."""
    filters = Filters(manufacturer=manufacturer, model=model)
    found = find_serial(ledger, fleet, serial, filters=filters, actor=actor)
    return one_item(found, f"{manufacturer} {model} serial {serial!r}")


def one_item(found: list[Candidate], what: str) -> UUID:
    if not found:
        raise NotFound(f"no item {what} (docs/identity.md: compared in the normal form)")
    if len(found) > 1:  # look-alikes issued before the normal form
        ids = ", ".join(str(c.item_id) for c in found)
        raise InvalidInput(f"{what} names {len(found)} items: {ids}; give the item id")
    return found[0].item_id


def search(
    ledger: Ledger,
    fleet: Fleet,
    pattern: Pattern,
    *,
    filters: Filters,
    actor: Actor,
    at: datetime | None = None,
    cursor: str | None = None,
    limit: int = PAGE,
    exact_only: bool = False,
) -> Found:
    """One page of ranked candidates for `pattern` (this module's docstring); `exact_only`:
    only items whose serial's form is the pattern's."""
    actor.require(Action.READ)
    if not pattern.literal:
        raise InvalidInput("a pattern needs at least one readable letter or digit")
    ledger.log_store.ensure_serials()
    query = SerialQuery(
        pattern.parts,
        SUMMARY_TABLE,
        exact_only=exact_only,
        filters=filters.columns(),
        holders=visible_holders(ledger, actor),
        after=_after(cursor),
        limit=checked_limit(limit) + 1,
    )
    page = page_of("search", ranked(ledger.log_store.serials, query), _key, limit)
    found = [_candidate(ledger, fleet, row, pattern, at) for row in page.items]
    holders = visible_holders(ledger, actor)
    if holders is not None:  # the SQL filter read the views as they are: check each candidate
        found = [c for c in found if c.holder in holders]
    return Found(found, page.next)


def visible_holders(ledger: Ledger, actor: Actor) -> list[str] | None:
    """Whose items this actor may find: None for all; a partner, its own and its units' (as
    they hold them now). The one place of this rule, for a central scope module to take over."""
    if actor.role is not Role.PARTNER:
        return None
    return visible_holders_of(ledger, actor.party)


def visible_holders_of(ledger: Ledger, party: str) -> list[str]:
    """The party and its units: whose holdings it answers for."""
    return [party, *_units_of(ledger, party)]


def _units_of(ledger: Ledger, party: str) -> list[str]:
    notifications = ledger.recorder.select_notifications(
        start=None, limit=1_000_000, topics=[Party.Registered.TOPIC]
    )
    units = []
    for n in notifications:
        found: object = ledger.repository.get(UUID(str(n.originator_id)))
        if isinstance(found, Party) and found.parent == party:
            units.append(found.party_id)
    return units


def _candidate(
    ledger: Ledger, fleet: Fleet, row: Any, pattern: Pattern, at: datetime | None
) -> Candidate:
    marking = Marking(*(row[c] for c in COLUMNS))
    item_id = UUID(marking.item_id)
    holder, status = holder_now(ledger, fleet, item_id)
    then = None
    if at is not None:
        with suppress(NotFound):  # not issued by then
            held = custody_at(ledger, fleet, item_id, at=at)
            then = {"at": format_time(at), "holder": held.holder, "status": held.status.value}
    return Candidate(
        item_id=UUID(marking.item_id),
        serial=marking.serial,
        normalised_serial=marking.serial_form,
        manufacturer_form=marking.manufacturer_form,
        model_form=marking.model_form,
        category=marking.category,
        match=_TIERS[int(row["tier"])],
        unknowns=len(marking.serial_form) - len(pattern.literal),
        holder=holder,
        status=status.value,
        at=then,
        last_verified_inspection=_last_verified(ledger, marking.item_id),
    )


def _last_verified(ledger: Ledger, item_id: str) -> dict[str, Any] | None:
    """The newest inspection that found the item as it must be, by a method other than the
    holder's self_report."""
    for fact in reversed(ledger.facts(item_id)):
        if (
            fact.kind == Item.Inspected.__name__
            and fact.fields.get("result") == InspectionResult.VERIFIED.value
            and fact.fields.get("method") != InspectionMethod.SELF_REPORT.value
        ):
            return {
                "occurred_at": format_time(fact.occurred_at),
                "inspector": str(fact.fields.get("inspector")),
                "method": str(fact.fields.get("method")),
                "log_index": fact.log_index,
            }
    return None


def _after(cursor: str | None) -> tuple[int, int, str, int] | None:
    """The (tier, size, serial form, log index) a search cursor names."""
    key = position("search", cursor, (int, int, str, int))
    return None if key is None else (int(key[0]), int(key[1]), str(key[2]), int(key[3]))


def _key(row: Any) -> Key:
    return int(row["tier"]), int(row["size"]), str(row["serial_form"]), int(row["log_index"])
