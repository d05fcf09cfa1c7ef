"""Parties (suppliers, recipient units, inspectors, oversight bodies, investigators, the operator)
and end-use agreements. Both are aggregates, so the registry itself is in the log."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from eventsourcing.domain import Aggregate

from ledger.domain.errors import AlreadyExists, InvalidTime, NotFound, Unauthenticated
from ledger.domain.events import LedgerAggregate, Report, Reported, Signature
from ledger.domain.ids import agreement_uuid, party_uuid
from ledger.domain.times import aware_utc, format_time


class PartyKind(StrEnum):
    OPERATOR = "operator"
    SUPPLIER = "supplier"
    RECIPIENT = "recipient"
    INSPECTOR = "inspector"
    OVERSIGHT = "oversight"
    INVESTIGATOR = "investigator"


@dataclass(frozen=True)
class PartyKey:
    key_id: str
    public_key: str
    valid_from: datetime
    revoked_at: datetime | None
    endorsement: str = "operator"
    """"rotation" (endorsed by an active key of the party) or "operator"
    (ledger/integrity/endorsements.py);
    keys registered before endorsements existed are "operator"."""
    endorsed_by: str | None = None
    registered_by: str = ""
    confirmed_at: datetime | None = None
    """When the party confirmed an operator-registered key with a signature by it."""

    def active(self, at: datetime) -> bool:
        return self.revoked_at is None or self.revoked_at > at

    @property
    def party_endorsed(self) -> bool:
        """The party's own signature is on the key: a rotation, or a confirmation."""
        return self.endorsement == "rotation" or self.confirmed_at is not None


class Party(LedgerAggregate):
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
            party.keys = {}

    class KeyRegistered(Reported):
        """A public key the party signs its submissions with, valid from `occurred_at`."""

        TOPIC = "custody:Party.KeyRegistered"
        key_id: str
        public_key: str
        proof: str | None = None
        """The new key's signature over the registration message (proof of possession)."""
        endorsement: str | None = None
        """"rotation" or "operator"; None in entries from before endorsements (= "operator")."""
        endorsed_by: str | None = None
        endorsement_signature: str | None = None

        def apply(self, party: Party) -> None:
            party.keys[self.key_id] = PartyKey(
                self.key_id,
                self.public_key,
                self.occurred_at,
                None,
                self.endorsement or "operator",
                self.endorsed_by,
                self.actor,
            )

    class KeyConfirmed(Reported):
        """The party confirms an operator-registered key: a signature by the key over the
        confirmation message (ledger/integrity/endorsements.py), recorded with the party's own
        token."""

        TOPIC = "custody:Party.KeyConfirmed"
        key_id: str
        confirmation: str

        def apply(self, party: Party) -> None:
            key = party.keys[self.key_id]
            party.keys[self.key_id] = replace(key, confirmed_at=self.occurred_at)

    class KeyRevoked(Reported):
        """The key stops being valid at `occurred_at`, which may be earlier than the recording
        (a compromise found later): signatures recorded after that time are refused."""

        TOPIC = "custody:Party.KeyRevoked"
        key_id: str
        reason: str

        def apply(self, party: Party) -> None:
            key = party.keys[self.key_id]
            party.keys[self.key_id] = replace(key, revoked_at=self.occurred_at)

    party_id: str
    name: str
    kind: PartyKind
    parent: str | None
    registered_at: datetime
    keys: dict[str, PartyKey]

    def __init__(self) -> None:
        """State is assigned by Registered.apply."""

    def register_key(
        self,
        *,
        key_id: str,
        public_key: str,
        now: datetime,
        actor: str,
        proof: str | None = None,
        endorsement: str | None = None,
        endorsed_by: str | None = None,
        endorsement_signature: str | None = None,
    ) -> None:
        """`proof` of possession, how the key is `endorsement`-endorsed, and by which key with
        which signature (ledger/integrity/endorsements.py; the Ledger checks the signatures
        before)."""
        if key_id in self.keys:
            raise AlreadyExists(f"key {key_id} of party {self.party_id} is registered already")
        self._trigger_reported(
            self.KeyRegistered,
            Report.unsigned(actor, now),
            key_id=key_id,
            public_key=public_key,
            proof=proof,
            endorsement=endorsement,
            endorsed_by=endorsed_by,
            endorsement_signature=endorsement_signature,
        )

    def active_keys(self, at: datetime) -> list[PartyKey]:
        return [k for k in self.keys.values() if k.active(at)]

    def confirm_key(self, *, key_id: str, confirmation: str, now: datetime, actor: str) -> None:
        key = self.valid_key(key_id, at=now)
        if key.party_endorsed:
            raise AlreadyExists(f"key {key_id} of party {self.party_id} is endorsed already")
        self._trigger_reported(
            self.KeyConfirmed, Report.unsigned(actor, now), key_id=key_id, confirmation=confirmation
        )

    def revoke_key(
        self, *, key_id: str, revoked_at: datetime, reason: str, now: datetime, actor: str
    ) -> None:
        key = self.keys.get(key_id)
        if key is None:
            raise NotFound(f"party {self.party_id} has no key {key_id}")
        if key.revoked_at is not None:
            raise AlreadyExists(
                f"key {key_id} was revoked already, at {format_time(key.revoked_at)}"
            )
        moment = aware_utc(revoked_at, field="revoked_at")
        if moment > now:
            raise InvalidTime(
                f"revoked_at {format_time(moment)} is in the future (now is {format_time(now)}):"
                " a revocation takes effect when it is recorded or earlier, never later"
            )
        revoked = Report(moment, actor, None, now)
        self._trigger_reported(self.KeyRevoked, revoked, key_id=key_id, reason=reason)

    def valid_key(self, key_id: str, *, at: datetime) -> PartyKey:
        """The key, if it was registered and not revoked at `at`; else Unauthenticated."""
        key = self.keys.get(key_id)
        if key is None:
            raise Unauthenticated(f"party {self.party_id} has no key {key_id}")
        if key.revoked_at is not None and key.revoked_at <= at:
            raise Unauthenticated(
                f"key {key_id} of party {self.party_id} was revoked at "
                f"{format_time(key.revoked_at)}"
            )
        return key

    @classmethod
    def register(
        cls,
        *,
        party_id: str,
        name: str,
        kind: str,
        parent: str | None,
        now: datetime,
        actor: str,
        signature: Signature,
    ) -> Party:
        return cls._create_reported(
            cls.Registered,
            party_uuid(party_id),
            Report(now, actor, signature, now),
            party_id=party_id,
            name=name,
            kind=kind,
            parent=parent,
        )


class Agreement(LedgerAggregate):
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
    def conclude(
        cls,
        *,
        agreement_id: str,
        supplier: str,
        programme: str,
        authorized_holders: list[str],
        retransfer_requires_consent: bool,
        areas: list[str],
        now: datetime,
        actor: str,
        signature: Signature,
    ) -> Agreement:
        return cls._create_reported(
            cls.Concluded,
            agreement_uuid(agreement_id),
            Report(now, actor, signature, now),
            agreement_id=agreement_id,
            supplier=supplier,
            programme=programme,
            authorized_holders=authorized_holders,
            retransfer_requires_consent=retransfer_requires_consent,
            areas=areas,
        )
