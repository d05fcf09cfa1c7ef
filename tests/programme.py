"""A tiny programme for tests: a supplier, three units, an inspector, an agreement, and helpers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from ledger.application.ledger import Ledger, Recorded
from ledger.domain.access import Actor
from ledger.domain.tokens import Role
from ledger.integrity.submissions import Submitted
from tests.conftest import Clock

ADMIN = Actor("operator", Role.ADMIN)
INSPECTOR = Actor("inspectorate", Role.INSPECTOR)
INVESTIGATOR = Actor("investigator", Role.INVESTIGATOR)
UNITS = ("unit-1", "unit-2", "unit-3")


def register(ledger: Ledger) -> None:
    ledger.bootstrap()
    register_parties(ledger)


def register_parties(ledger: Ledger) -> None:
    """The parties and the agreement, on a ledger already initialised (`custody init`)."""
    ledger.register_party(party_id="supplier", name="Supplier", kind="supplier", actor=ADMIN)
    ledger.register_party(party_id="force", name="Partner force", kind="recipient", actor=ADMIN)
    for unit in UNITS:
        ledger.register_party(
            party_id=unit, name=unit, kind="recipient", parent="force", actor=ADMIN
        )
    ledger.register_party(
        party_id="outsider", name="Not in the agreement", kind="recipient", actor=ADMIN
    )
    ledger.register_party(
        party_id="inspectorate", name="Inspectorate", kind="inspector", actor=ADMIN
    )
    ledger.register_party(
        party_id="investigator", name="Investigator", kind="investigator", actor=ADMIN
    )
    conclude_agreement(ledger, "eua-1", "Programme One", ["force", *UNITS])


def conclude_agreement(
    ledger: Ledger,
    agreement_id: str,
    programme: str,
    holders: Sequence[str],
    *,
    supplier: str = "supplier",
) -> None:
    """An agreement of `supplier` (the programme's own unless said) for `holders`, concluded by the
    operator: eua-1, "Programme One", in `register_parties`; tests add eua-2, "Programme Two"."""
    ledger.conclude_agreement(
        agreement_id=agreement_id,
        supplier=supplier,
        programme=programme,
        authorized_holders=list(holders),
        actor=ADMIN,
    )


RIFLE: dict[str, Any] = {
    "manufacturer": "Maker",
    "model": "M1",
    "category": "rifle",
    "agreement": "eua-1",
    "recipient": "unit-1",
}
"""What the programme's rifles are, and who they are issued to, unless a test says otherwise."""


def issue(ledger: Ledger, serial: str = "AK-0001", *, days_ago: float = 30, **extra: Any) -> UUID:
    fields = RIFLE | extra
    return ledger.issue(
        serial=serial, occurred_at=ago(ledger, days=days_ago), actor=ADMIN, **fields
    ).id


def rifle_request(occurred_at: str = "2026-01-10T08:00:00Z") -> dict[str, Any]:
    """The body of `POST /v1/items` that issues the programme's first rifle, AK-0001, to unit-1."""
    return {"serial": "AK-0001", **RIFLE, "occurred_at": occurred_at}


def issue_transfer_inspect(
    ledger: Ledger, serial: str, *, via: Submitted | None = None, **extra: Any
) -> UUID:
    """An item issued 30 days ago to unit-1, transferred to unit-2 20 days ago (`via` a signed
    submission if given), and inspected and verified by the inspectorate 10 days ago."""
    item = issue(ledger, serial, **extra)
    ledger.transfer(item, to="unit-2", occurred_at=ago(ledger, days=20), actor=ADMIN, via=via)
    inspect(ledger, item, ago(ledger, days=10))
    return item


def inspect(
    ledger: Ledger, item: UUID | str, occurred_at: datetime, *, actor: Actor = ADMIN, **fields: Any
) -> Recorded:
    """The inspectorate's physical inspection, verified, that the operator records, unless `actor`
    or `fields` (result, method, inspector, observed_serial ...) say otherwise; `inspector=None`
    names nobody, so the inspection is the actor's own."""
    fields = {"result": "verified", "method": "physical", "inspector": "inspectorate"} | fields
    return ledger.inspect(item, occurred_at=occurred_at, actor=actor, **fields)


def sight(
    ledger: Ledger, item: UUID | str, occurred_at: datetime, *, actor: Actor = ADMIN, **fields: Any
) -> Recorded:
    """The investigator's sighting at the market, that the operator records, unless `actor` or
    `fields` (observer, location, held_by, serial_as_read, evidence) say otherwise."""
    fields = {"observer": "investigator", "location": "market"} | fields
    return ledger.sight(item, occurred_at=occurred_at, actor=actor, **fields)


def record_sighting(
    ledger: Ledger,
    serial_as_read: str,
    occurred_at: datetime,
    *,
    actor: Actor = ADMIN,
    **fields: Any,
) -> Recorded:
    """The investigator's sighting at the market of a weapon known only by the serial read off it,
    that the operator records, unless `actor` or `fields` (observer, location, held_by, evidence
    ...) say otherwise."""
    fields = {"observer": "investigator", "location": "market"} | fields
    return ledger.record_sighting(
        serial_as_read=serial_as_read, occurred_at=occurred_at, actor=actor, **fields
    )


def ago(ledger: Ledger, **delta: float) -> datetime:
    return ledger.clock() - timedelta(**delta)


# A month of field time for the dashboard's tests: day n of March 2026, recorded an hour later.
APR_2 = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)


def mar(day: int) -> datetime:
    return datetime(2026, 3, day, 8, 0, tzinfo=UTC)


def recorded(clock: Clock, moment: datetime) -> datetime:
    """Field time `moment`, recorded an hour later."""
    clock.now = moment + timedelta(hours=1)
    return moment


def issue_rifles(
    ledger: Ledger, clock: Clock, recipients: dict[str, str], *, day: int
) -> dict[str, UUID]:
    """Rifles by serial, each issued to its recipient on `day` March 2026 (recorded an hour
    later)."""
    return {
        serial: ledger.issue(
            **RIFLE | {"serial": serial, "recipient": recipient},
            occurred_at=recorded(clock, mar(day)),
            actor=ADMIN,
        ).id
        for serial, recipient in recipients.items()
    }


def transfer_inspect_and_lose(ledger: Ledger, clock: Clock, item: UUID) -> None:
    """March for the dashboards' first rifle: to unit-2 on the 5th, inspected and verified by the
    inspectorate on the 8th, stolen on the 20th."""
    ledger.transfer(item, to="unit-2", occurred_at=recorded(clock, mar(5)), actor=ADMIN)
    inspect_on(ledger, clock, item, day=8, result="verified")
    ledger.report_lost(
        item, circumstances="stolen", occurred_at=recorded(clock, mar(20)), actor=ADMIN
    )


def inspect_on(ledger: Ledger, clock: Clock, item: UUID, *, day: int, result: str) -> None:
    """A physical inspection by the inspectorate on `day` March 2026, recorded an hour later."""
    inspect(ledger, item, recorded(clock, mar(day)), result=result)
