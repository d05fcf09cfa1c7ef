"""A tiny programme for tests: a supplier, three units, an inspector, an agreement, and helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from ledger.application.ledger import Ledger
from ledger.domain.access import Actor
from ledger.domain.tokens import Role
from tests.conftest import Clock

ADMIN = Actor("operator", Role.ADMIN)
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
    ledger.conclude_agreement(
        agreement_id="eua-1",
        supplier="supplier",
        programme="Programme One",
        authorized_holders=["force", *UNITS],
        actor=ADMIN,
    )


def issue(ledger: Ledger, serial: str = "AK-0001", *, days_ago: float = 30, **extra: Any) -> UUID:
    fields: dict[str, Any] = {
        "manufacturer": "Maker",
        "model": "M1",
        "category": "rifle",
        "agreement": "eua-1",
        "recipient": "unit-1",
    } | extra
    return ledger.issue(
        serial=serial, occurred_at=ago(ledger, days=days_ago), actor=ADMIN, **fields
    ).id


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
