"""The `Ledger` application: one short method per use case (get, check, call, save).

The ledger never reads the clock: it is given a `clock` (api/ and the CLI pass the system clock,
tests a fixed one). Every write takes the acting party as `actor=` and returns a `Recorded` with the
entry's log index.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Mapper, OperationalError, PersistenceError

from ledger import merkle
from ledger.access import Action, Actor
from ledger.checkpoints import Checkpoint, sign_checkpoint, verify_checkpoint
from ledger.config import DEFAULT_DB, DEFAULT_ORIGIN, persistence_env
from ledger.errors import (
    AlreadyExists,
    Conflict,
    CustodyError,
    DuplicateItem,
    IntegrityFailure,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from ledger.ids import (
    agreement_uuid,
    check_party_id,
    clean_text,
    item_id,
    normalise_serial,
    parse_item_id,
    party_uuid,
    token_uuid,
)
from ledger.items import (
    Category,
    DisposalMethod,
    InspectionMethod,
    InspectionResult,
    Item,
    LossCircumstances,
)
from ledger.log import LogMapper, LogRow, LogStore, Receipt
from ledger.parties import Agreement, Party, PartyKind
from ledger.replay import CustodyState, custody_at
from ledger.signing import Signer, Verifier
from ledger.tokens import Role, Token, new_token, token_hash
from ledger.verify import Progress, Verified, verify_store

Clock = Callable[[], datetime]
OPERATOR = "operator"
MAX_ENTRIES_PAGE = 1000
A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class Recorded:
    """What a write answers: the aggregate it changed, its new version and the entry's log index."""

    id: UUID
    version: int
    log_index: int


class Ledger(Application[UUID]):
    name = "Custody"

    def __init__(
        self,
        *,
        clock: Clock,
        db: str = DEFAULT_DB,
        origin: str = DEFAULT_ORIGIN,
        create_tables: bool = False,
        signer: Signer | None = None,
    ) -> None:
        self.clock = clock
        self.origin = clean_text(origin, field="origin")
        self.signer = signer
        super().__init__(env=persistence_env(db, create_tables=create_tables))
        if not isinstance(self.recorder, LogStore):
            raise TypeError("APPLICATION_RECORDER_TOPIC must name a log store (ledger/log.py)")
        self.log_store: LogStore = self.recorder

    def construct_mapper(self) -> Mapper[UUID]:
        transcoder = self.construct_transcoder()
        return LogMapper(transcoder, origin=self.origin)  # type: ignore[arg-type]

    def bootstrap(self) -> str:
        """First run: register the operator party and return its first admin token (shown once)."""
        operator = Actor(OPERATOR, Role.ADMIN)
        try:
            self.register_party(
                party_id=OPERATOR, name="Ledger operator", kind="operator", actor=operator
            )
        except AlreadyExists:
            raise AlreadyExists("this ledger is initialised already") from None
        token, _ = self.grant_token(party=OPERATOR, role=Role.ADMIN.value, actor=operator)
        return token

    def is_initialised(self) -> bool:
        try:
            self.party(OPERATOR)
        except (NotFound, PersistenceError):
            return False  # PersistenceError: the tables do not exist
        return True

    # Parties, agreements, tokens ---------------------------------------------------------------

    def register_party(
        self, *, party_id: str, name: str, kind: str, parent: str | None = None, actor: Actor
    ) -> Recorded:
        actor.require(Action.REGISTER_PARTY)
        if parent is not None:
            self.party(parent)
        party = Party.register(
            party_id=check_party_id(party_id),
            name=clean_text(name, field="name"),
            kind=_member(PartyKind, kind, "kind").value,
            parent=parent,
            now=self.clock(),
            actor=actor.party,
            signature=None,
        )
        return self._create(party, AlreadyExists(f"party {party_id} is registered already"))

    def conclude_agreement(
        self,
        *,
        agreement_id: str,
        supplier: str,
        programme: str,
        authorized_holders: Sequence[str],
        retransfer_requires_consent: bool = True,
        areas: Sequence[str] = (),
        actor: Actor,
    ) -> Recorded:
        actor.require(Action.CONCLUDE_AGREEMENT)
        for party in (supplier, *authorized_holders):
            self.party(party)
        agreement = Agreement.conclude(
            agreement_id=check_party_id(agreement_id, field="agreement id"),
            supplier=supplier,
            programme=clean_text(programme, field="programme"),
            authorized_holders=list(dict.fromkeys(authorized_holders)),
            retransfer_requires_consent=retransfer_requires_consent,
            areas=[clean_text(a, field="area") for a in areas],
            now=self.clock(),
            actor=actor.party,
            signature=None,
        )
        return self._create(agreement, AlreadyExists(f"agreement {agreement_id} exists already"))

    def grant_token(self, *, party: str, role: str, actor: Actor) -> tuple[str, Recorded]:
        """A new bearer token for `party`; the token is returned once and only its hash stored."""
        actor.require(Action.GRANT_TOKEN)
        self.party(party)
        token = new_token()
        granted = Token.grant(
            digest=token_hash(token),
            party=party,
            role=_member(Role, role, "role"),
            actor=actor.party,
            now=self.clock(),
        )
        return token, self._create(granted, Conflict("token collision; try again"))

    def authenticate(self, token: str) -> Actor:
        try:
            granted: object = self.repository.get(token_uuid(token_hash(token)))
        except AggregateNotFoundError:
            raise Unauthenticated("unknown token") from None
        if not isinstance(granted, Token) or granted.revoked:
            raise Unauthenticated("token revoked")
        return Actor(party=granted.party, role=granted.role)

    def party(self, party_id: str) -> Party:
        return self._get(party_uuid(party_id), Party, f"party {party_id}")

    def agreement(self, agreement_id: str) -> Agreement:
        return self._get(agreement_uuid(agreement_id), Agreement, f"agreement {agreement_id}")

    # Items: writes -------------------------------------------------------------------------------

    def issue(
        self,
        *,
        serial: str,
        manufacturer: str,
        model: str,
        category: str,
        agreement: str,
        recipient: str,
        occurred_at: datetime,
        actor: Actor,
        registry_serial: bool = False,
        details: dict[str, Any] | None = None,
        signature: str | None = None,
    ) -> Recorded:
        actor.require(Action.ISSUE)
        terms = self.agreement(agreement)
        self.party(recipient)
        item = Item.issue(
            item_id=item_id(manufacturer, model, serial),
            now=self.clock(),
            serial=clean_text(serial, field="serial", max_length=64),
            normalised_serial=normalise_serial(serial),
            registry_serial=registry_serial,
            manufacturer=clean_text(manufacturer, field="manufacturer"),
            model=clean_text(model, field="model"),
            category=_member(Category, category, "category").value,
            agreement=agreement,
            programme=terms.programme,
            supplier=terms.supplier,
            recipient=recipient,
            details=_details(details or {}),
            occurred_at=occurred_at,
            actor=actor.party,
            signature=signature,
        )
        duplicate = DuplicateItem(
            f"{item.manufacturer} {item.model} serial {item.normalised_serial} was issued already"
            f" (item {item.id})"
        )
        return self._create(item, duplicate)

    def transfer(
        self,
        item: UUID | str,
        *,
        to: str,
        occurred_at: datetime,
        actor: Actor,
        authority: str | None = None,
        from_holder: str | None = None,
        signature: str | None = None,
    ) -> Recorded:
        actor.require(Action.TRANSFER)
        self.party(to)
        found = self.item(item)
        found.transfer(
            to=to,
            from_holder=from_holder,
            authority=_optional(authority, "authority"),
            occurred_at=occurred_at,
            actor=actor.party,
            signature=signature,
            now=self.clock(),
        )
        return self._save(found)

    def inspect(
        self,
        item: UUID | str,
        *,
        result: str,
        method: str,
        occurred_at: datetime,
        actor: Actor,
        inspector: str | None = None,
        observed_serial: str | None = None,
        location: str | None = None,
        signature: str | None = None,
    ) -> Recorded:
        actor.require(Action.INSPECT)
        self.party(inspector or actor.party)
        found = self.item(item)
        found.inspect(
            inspector=inspector or actor.party,
            result=_member(InspectionResult, result, "result").value,
            method=_member(InspectionMethod, method, "method").value,
            observed_serial=_optional(observed_serial, "observed_serial"),
            location=_optional(location, "location"),
            occurred_at=occurred_at,
            actor=actor.party,
            signature=signature,
            now=self.clock(),
        )
        return self._save(found)

    def report_lost(
        self,
        item: UUID | str,
        *,
        circumstances: str,
        occurred_at: datetime,
        actor: Actor,
        discovered_at: datetime | None = None,
        signature: str | None = None,
    ) -> Recorded:
        actor.require(Action.REPORT_LOST)
        found = self.item(item)
        found.report_lost(
            circumstances=_member(LossCircumstances, circumstances, "circumstances").value,
            discovered_at=discovered_at,
            occurred_at=occurred_at,
            actor=actor.party,
            signature=signature,
            now=self.clock(),
        )
        return self._save(found)

    def recover(
        self,
        item: UUID | str,
        *,
        by: str,
        occurred_at: datetime,
        actor: Actor,
        location: str | None = None,
        condition: str | None = None,
        signature: str | None = None,
    ) -> Recorded:
        actor.require(Action.RECOVER)
        self.party(by)
        found = self.item(item)
        found.recover(
            by=by,
            location=_optional(location, "location"),
            condition=_optional(condition, "condition"),
            occurred_at=occurred_at,
            actor=actor.party,
            signature=signature,
            now=self.clock(),
        )
        return self._save(found)

    def sight(
        self,
        item: UUID | str,
        *,
        observer: str,
        location: str,
        occurred_at: datetime,
        actor: Actor,
        held_by: str | None = None,
        serial_as_read: str | None = None,
        evidence: Sequence[str] = (),
        signature: str | None = None,
    ) -> Recorded:
        actor.require(Action.SIGHT)
        self.party(observer)
        found = self.item(item)
        found.sight(
            observer=observer,
            held_by=_optional(held_by, "held_by"),
            location=clean_text(location, field="location"),
            serial_as_read=_optional(serial_as_read, "serial_as_read"),
            evidence=[_sha256_hex(e) for e in evidence],
            occurred_at=occurred_at,
            actor=actor.party,
            signature=signature,
            now=self.clock(),
        )
        return self._save(found)

    def dispose(
        self,
        item: UUID | str,
        *,
        method: str,
        occurred_at: datetime,
        actor: Actor,
        certificate: str | None = None,
        witnesses: Sequence[str] = (),
        signature: str | None = None,
    ) -> Recorded:
        actor.require(Action.DISPOSE)
        found = self.item(item)
        found.dispose(
            method=_member(DisposalMethod, method, "method").value,
            certificate=_optional(certificate, "certificate"),
            witnesses=[clean_text(w, field="witness") for w in witnesses],
            occurred_at=occurred_at,
            actor=actor.party,
            signature=signature,
            now=self.clock(),
        )
        return self._save(found)

    def correct(
        self,
        item: UUID | str,
        *,
        entry: int,
        reason: str,
        actor: Actor,
        occurred_at: datetime | None = None,
        signature: str | None = None,
    ) -> Recorded:
        """Annotate an earlier entry of this item (history is never edited); `occurred_at`
        defaults to now."""
        actor.require(Action.CORRECT)
        found = self.item(item)
        if entry not in self.log_store.log_indexes_of(found.id).values():
            raise InvalidInput(f"log entry {entry} is not an entry of item {found.id}")
        now = self.clock()
        found.correct(
            entry=entry,
            reason=clean_text(reason, field="reason", max_length=2000),
            occurred_at=occurred_at or now,
            actor=actor.party,
            signature=signature,
            now=now,
        )
        return self._save(found)

    # Items: reads --------------------------------------------------------------------------------

    def item(self, item: UUID | str) -> Item:
        return self._get(_item_uuid(item), Item, f"item {item}")

    def history(self, item: UUID | str) -> list[LogRow]:
        """Every log entry of the item, oldest first, with its exact bytes."""
        return self.log_store.log_entries_of(self.item(item).id)

    def custody_at(
        self, item: UUID | str, *, at: datetime, known_at: datetime | None = None
    ) -> CustodyState:
        """Holder and status at field time `at`, as known at recording time `known_at`."""
        found = self.item(item)
        events = list(self.events.get(found.id))
        return custody_at(
            events, at=at, known_at=known_at, log_indexes=self.log_store.log_indexes_of(found.id)
        )

    # The log: checkpoints, proofs, entries, verification ----------------------------------------

    def verifier(self) -> Verifier:
        return self._signer().verifier

    def checkpoint(self) -> str:
        """The latest signed checkpoint (a C2SP note), signing a new one if the log has grown.

        Before signing, the new root is checked against the last checkpoint with a consistency
        proof, so the ledger never signs two inconsistent checkpoints, even over a tampered store.
        """
        size = self.log_store.log_size()
        latest = self.log_store.latest_checkpoint()
        if latest is not None and latest[0] == size:
            return latest[1]
        if latest is not None and latest[0] > size:
            raise IntegrityFailure(
                "the log is shorter than its last checkpoint",
                position=size,
                expected=f"at least {latest[0]} entries",
                got=str(size),
            )
        root = merkle.root(size, self.log_store)
        if latest is not None and latest[0] > 0:
            self._check_consistent(latest[1], size, root)
        note = sign_checkpoint(Checkpoint(self.origin, size, root), self._signer())
        return self.log_store.store_checkpoint(size, note)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        self._require_size(size)
        return merkle.inclusion_proof(index, size, self.log_store)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        self._require_size(second)
        return merkle.consistency_proof(first, second, self.log_store)

    def root(self, size: int) -> bytes:
        self._require_size(size)
        return merkle.root(size, self.log_store)

    def log_entries(self, start: int, end: int) -> list[LogRow]:
        if not 0 <= start <= end or end - start > MAX_ENTRIES_PAGE:
            raise InvalidInput(
                f"ask for 0 <= start <= end with at most {MAX_ENTRIES_PAGE} entries at a time"
            )
        return self.log_store.log_entries(start, end)

    def verify(self, verifier: Verifier, progress: Progress | None = None) -> Verified:
        """Recompute every leaf, node, chain and checkpoint (ledger/verify.py)."""
        return verify_store(
            self.log_store, self.mapper, verifier, origin=self.origin, progress=progress
        )

    def _check_consistent(self, note: str, size: int, root: bytes) -> None:
        previous = verify_checkpoint(note, self.verifier(), self.origin)
        proof = merkle.consistency_proof(previous.size, size, self.log_store)
        merkle.verify_consistency(previous.size, size, proof, previous.root_hash, root)

    def _require_size(self, size: int) -> None:
        current = self.log_store.log_size()
        if not 0 <= size <= current:
            raise InvalidInput(f"tree size {size} is beyond the log's {current} entries")

    def _signer(self) -> Signer:
        if self.signer is None:
            raise CustodyError("this ledger was opened without its signing key (CUSTODY_KEY)")
        return self.signer

    # Plumbing ------------------------------------------------------------------------------------

    def _get(self, aggregate_id: UUID, kind: type[A], what: str) -> A:
        try:
            found: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{what} not found") from None
        if not isinstance(found, kind):
            raise NotFound(f"{what} not found")
        return found

    def _create(self, aggregate: Aggregate, exists: CustodyError) -> Recorded:
        """Save a new aggregate; its id taken already (version 1 exists) means `exists`."""
        return self._save(aggregate, on_conflict=exists)

    def _save(self, aggregate: Aggregate, on_conflict: CustodyError | None = None) -> Recorded:
        receipt = Receipt()
        try:
            self.save(aggregate, receipt=receipt)
        except IntegrityError:
            raise on_conflict or Conflict(
                f"another write to {aggregate.id} was recorded first; read it again and retry"
            ) from None
        except (OperationalError, sqlite3.OperationalError) as error:
            raise Conflict(f"the store is busy ({error}); retry") from None
        return Recorded(aggregate.id, aggregate.version, receipt.log_index(aggregate.id))


def _item_uuid(item: UUID | str) -> UUID:
    return item if isinstance(item, UUID) else parse_item_id(item)


def _member(enum: Any, value: str, field: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidInput(f"{field} {value!r} is not one of: {allowed}") from None


def _optional(value: str | None, field: str) -> str | None:
    return None if value is None else clean_text(value, field=field, max_length=500)


def _sha256_hex(value: str) -> str:
    digest = value.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInput(f"evidence {value!r} is not a SHA-256 hex digest")
    return digest


_DETAIL_FIELDS = {
    "calibre",
    "country_of_manufacture",
    "year",
    "value",
    "lot_size",
    "description",
    "location",
}


def _details(details: dict[str, Any]) -> dict[str, Any]:
    """The optional marking fields; values are text or whole numbers, never floats."""
    unknown = set(details) - _DETAIL_FIELDS
    if unknown:
        raise InvalidInput(f"unknown item fields: {', '.join(sorted(unknown))}")
    checked: dict[str, Any] = {}
    for key, value in details.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise InvalidInput(f"{key} must be text or a whole number")
        checked[key] = value if isinstance(value, int) else clean_text(value, field=key)
    if "value" in checked:
        _decimal(str(checked["value"]))
    return checked


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"value {text!r} is not a decimal number") from None
