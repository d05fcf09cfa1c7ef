"""Parties (suppliers, recipient units, inspectors, oversight bodies, investigators, the operator)
and end-use agreements. Both are aggregates, so the registry itself is in the log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate

from ledger.events import Reported
from ledger.ids import agreement_uuid, party_uuid


class PartyKind(StrEnum):
    OPERATOR = "operator"
    SUPPLIER = "supplier"
    RECIPIENT = "recipient"
    INSPECTOR = "inspector"
    OVERSIGHT = "oversight"
    INVESTIGATOR = "investigator"


class Party(Aggregate):
    TOPIC = "custody:Party"

    class Created(Reported, Aggregate.Created):
        TOPIC = "custody:Party.Created"

    class Registered(Created):
        TOPIC = "custody:Party.Registered"
        party_id: str
        name: str
        kind: str
        parent: str | None

        def apply(self, party: Party) -> None:
            party.party_id, party.name, party.parent = self.party_id, self.name, self.parent
            party.kind = PartyKind(self.kind)
            party.registered_at = self.occurred_at

    party_id: str
    name: str
    kind: PartyKind
    parent: str | None
    registered_at: datetime

    def __init__(self) -> None:
        """State is assigned by Registered.apply."""

    @classmethod
    def register(cls, *, party_id: str, now: datetime, **fields: Any) -> Party:
        return cls._create(
            cls.Registered,
            id=party_uuid(party_id),
            timestamp=now,
            party_id=party_id,
            occurred_at=now,
            **fields,
        )


class Agreement(Aggregate):
    """An end-use agreement: which parties may hold the items of a programme, and on what terms."""

    TOPIC = "custody:Agreement"

    class Created(Reported, Aggregate.Created):
        TOPIC = "custody:Agreement.Created"

    class Concluded(Created):
        TOPIC = "custody:Agreement.Concluded"
        agreement_id: str
        supplier: str
        programme: str
        authorized_holders: list[str]
        retransfer_requires_consent: bool
        areas: list[str]

        def apply(self, agreement: Agreement) -> None:
            agreement.agreement_id, agreement.supplier = self.agreement_id, self.supplier
            agreement.programme = self.programme
            agreement.authorized_holders = list(self.authorized_holders)
            agreement.retransfer_requires_consent = self.retransfer_requires_consent
            agreement.areas = list(self.areas)

    agreement_id: str
    supplier: str
    programme: str
    authorized_holders: list[str]
    retransfer_requires_consent: bool
    areas: list[str]

    def __init__(self) -> None:
        """State is assigned by Concluded.apply."""

    @classmethod
    def conclude(cls, *, agreement_id: str, now: datetime, **fields: Any) -> Agreement:
        return cls._create(
            cls.Concluded,
            id=agreement_uuid(agreement_id),
            timestamp=now,
            agreement_id=agreement_id,
            occurred_at=now,
            **fields,
        )
