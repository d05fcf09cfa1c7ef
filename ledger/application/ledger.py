"""The `Ledger` application: one short method per use case.

Every write goes one way (`_write`): a replayed request gets its first answer back; the actor's role
is checked, then its signature if it signed (or must sign); the command decides; the aggregate is
saved with its nonce in one transaction. What a command changes is read fresh from the store; the
parties and agreement it only checks come from memory (ledger/application/registry.py: facts that
never change);
tokens and signing keys from the library's aggregate cache, fast-forwarded on every read
(`_current`), so a revocation stored by any process counts at once.

The ledger never reads the clock: it is given a `clock` (api/ and the CLI pass the system clock,
tests a fixed one). Every write answers with a `Recorded`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    Mapper,
    OperationalError,
    PersistenceError,
    ProgrammingError,
)

from ledger.application.keys import KeyRecord, endorse_key, key_records
from ledger.application.registry import Registry
from ledger.domain import fields
from ledger.domain.access import HOLDER_ACTIONS, KIND_ROLES, SIGNABLE, Action, Actor
from ledger.domain.attribution import require_own
from ledger.domain.bounds import DEFAULT_BOUNDS, Bounds
from ledger.domain.errors import (
    AlreadyExists,
    Conflict,
    CustodyError,
    DuplicateItem,
    IntegrityFailure,
    InvalidInput,
    LimitExceeded,
    NotFound,
    ProofError,
    RuleViolation,
    Unauthenticated,
    Unauthorised,
)
from ledger.domain.fields import item_uuid, member, optional_text, sha256_hex
from ledger.domain.flags import Flag
from ledger.domain.ids import (
    MAX_TEXT,
    agreement_uuid,
    check_marking,
    check_party_id,
    clean_text,
    identity_key,
    item_id,
    normalise_serial,
    party_uuid,
    token_uuid,
)
from ledger.domain.inventories import Inventory
from ledger.domain.items import (
    Category,
    DisposalMethod,
    InspectionMethod,
    InspectionResult,
    Item,
    LossCircumstances,
)
from ledger.domain.nonces import Nonce, nonce_uuid
from ledger.domain.parties import Agreement, Party, PartyKind
from ledger.domain.replay import CustodyState, Fact, custody_at, facts_of
from ledger.domain.sightings import Sighting
from ledger.domain.tokens import Role, Token, new_token, token_hash
from ledger.domain.traces import Trace
from ledger.integrity import merkle
from ledger.integrity.checkpoints import (
    Checkpoint,
    parse_checkpoint,
    sign_checkpoint,
    verify_checkpoint,
)
from ledger.integrity.endorsements import check_signature, confirmation_bytes, registration_bytes
from ledger.integrity.entries import decode_entry
from ledger.integrity.maproots import MAP_ID, LogMap
from ledger.integrity.notes import split_note
from ledger.integrity.receipts import EntryReceipt, receipt_note, recorded_at_of
from ledger.integrity.signing import Signer, Verifier
from ledger.integrity.submissions import (
    Submitted,
    check_claims,
    decode_public_key,
    key_id,
    verify_signed,
)
from ledger.store.config import DEFAULT_DB, DEFAULT_ORIGIN, persistence_env
from ledger.store.log import Appended, LogMapper, LogRow, LogStore, Receipt
from ledger.store.serials import look_alike
from ledger.verification.evidence import build_bundle
from ledger.verification.headproofs import MapFollower, head_proof
from ledger.verification.verify import Progress, Verified, verify_store
from ledger.witness.cosignatures import signed_only_by, with_signatures
from ledger.witness.witness_policy import WitnessPolicy, check_quorum

Clock = Callable[[], datetime]
Cosigners = Callable[[str, Callable[[int], list[bytes]]], list[str]]
"""(signed checkpoint note, proof from an old size) -> the witnesses' cosignature lines."""
Signature = dict[str, str] | None
Command = Callable[[Signature, datetime], Aggregate]
OPERATOR = "operator"
MAX_ENTRIES_PAGE = 1000
MAP_COMMIT_TRIES = 20
ITEM_PAGE = 10_000
CURRENT_CACHE_SIZE = 10_000
"""How many tokens and parties `Ledger._current` keeps (the library's LRU cache)."""
A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class Recorded:
    """What a write answers: the aggregate it changed, its new version, the entry's log index and
    its receipt, the log key's signed note that the log holds the entry there
    (ledger/integrity/receipts.py;
    empty inside a batch, whose `receipt` has them afterwards)."""

    id: UUID
    version: int
    log_index: int
    receipt: str = ""


@dataclass
class Batch:
    """The writes of a `Ledger.batch()` block, saved together when it ends."""

    pending: dict[UUID, Aggregate] = field(default_factory=dict)
    nonces: list[Nonce] = field(default_factory=list)
    receipt: Receipt = field(default_factory=Receipt)
    writes: int = 0

    def add(self, aggregate: Aggregate, nonce: Nonce | None) -> Recorded:
        self.pending[aggregate.id] = aggregate
        if nonce is not None:
            self.nonces.append(nonce)
        self.writes += 1
        return Recorded(aggregate.id, aggregate.version, -1)


@dataclass(frozen=True)
class TokenInfo:
    token_id: UUID
    party: str
    role: Role
    revoked: bool


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
        signed_roles: Iterable[Role] = (),
        bounds: Bounds = DEFAULT_BOUNDS,
        cosigners: Cosigners | None = None,
        witness_keys: Sequence[str] = (),
        witness_policy: WitnessPolicy | None = None,
    ) -> None:
        self.clock = clock
        self.origin = clean_text(origin, field="origin")
        self._log_key = signer
        self.signed_roles = frozenset(signed_roles)
        self.bounds = bounds
        self.cosigners = cosigners
        self.witness_keys = tuple(witness_keys)
        self.witness_policy = witness_policy
        self._local = threading.local()
        super().__init__(env=persistence_env(db, create_tables=create_tables))
        if not isinstance(self.recorder, LogStore):
            raise TypeError("APPLICATION_RECORDER_TOPIC must name a log store (store/log.py)")
        self.log_store: LogStore = self.recorder
        self.heads = MapFollower(self.log_store)
        self.log_store.receipt_signer = signer
        self._registry = Registry(self._load, self._pending)
        self._shared: Repository[UUID] = Repository(
            self.events,
            cache_maxsize=CURRENT_CACHE_SIZE,
            fastforward=True,
            deepcopy_from_cache=False,
        )

    @property
    def signer(self) -> Signer | None:
        """The log's key: it signs checkpoints and every entry's receipt. Without it the ledger
        reads but records nothing."""
        return self._log_key

    @signer.setter
    def signer(self, signer: Signer | None) -> None:
        self._log_key = signer
        store: LogStore | None = getattr(self, "log_store", None)
        if store is not None:
            store.receipt_signer = signer

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

    # Parties, keys, agreements -------------------------------------------------------------------

    def register_party(
        self, *, party_id: str, name: str, kind: str, parent: str | None = None, actor: Actor
    ) -> Recorded:
        def command(_: Signature, now: datetime) -> Aggregate:
            if parent is not None:
                self._registry.party(parent)
            return Party.register(
                party_id=check_party_id(party_id),
                name=clean_text(name, field="name"),
                kind=member(PartyKind, kind, "kind").value,
                parent=parent,
                now=now,
                actor=actor.party,
                signature=None,
            )

        exists = AlreadyExists(f"party {party_id} is registered already")
        return self._write(actor, None, Action.REGISTER_PARTY, None, command, exists)

    def register_key(
        self,
        *,
        party: str,
        public_key: str,
        actor: Actor,
        proof: str,
        endorsed_by: str | None = None,
        endorsement: str | None = None,
    ) -> tuple[str, Recorded]:
        """Register a party's Ed25519 public key (standard base64) with its proof of possession;
        a party with an active key must endorse the new one by a signature of an active key
        (ledger/integrity/endorsements.py). Answers the key id."""
        raw = decode_public_key(public_key)
        self._require_self_or_admin(actor, party, "register keys for")
        message = registration_bytes(origin=self.origin, party=party, public_key=public_key)
        check_signature(public_key, proof, message, what="proof of possession")

        def command(_: Signature, now: datetime) -> Aggregate:
            found = self.party(party)
            how = endorse_key(found, now, message, endorsed_by, endorsement, self.bounds)
            found.register_key(
                key_id=key_id(raw),
                public_key=public_key,
                now=now,
                actor=actor.party,
                proof=proof,
                endorsement=how.value,
                endorsed_by=endorsed_by,
                endorsement_signature=endorsement,
            )
            return found

        return key_id(raw), self._write(actor, None, Action.MANAGE_KEYS, None, command)

    def confirm_key(self, *, party: str, key: str, confirmation: str, actor: Actor) -> Recorded:
        """The party itself confirms an operator-registered key by a signature of that key."""
        if actor.party != party or actor.role is Role.ADMIN:
            raise Unauthorised(f"only {party} itself, with its own token, may confirm its keys")

        def command(_: Signature, now: datetime) -> Aggregate:
            found = self.party(party)
            public = found.valid_key(key, at=now).public_key
            data = confirmation_bytes(origin=self.origin, party=party, key=key)
            check_signature(public, confirmation, data, what="confirmation")
            found.confirm_key(key_id=key, confirmation=confirmation, now=now, actor=actor.party)
            return found

        return self._write(actor, None, Action.MANAGE_KEYS, None, command)

    def key_history(self, party: str) -> list[KeyRecord]:
        """Every key ever registered for the party, oldest first: by whom, how endorsed, when
        confirmed and revoked, with the log index of its registration."""
        found = self.party(party)
        events = list(self.events.get(found.id))
        return key_records(events, self.log_store.log_indexes_of(found.id))

    def revoke_key(
        self, *, party: str, key: str, reason: str, actor: Actor, revoked_at: datetime | None = None
    ) -> Recorded:
        """Revoke a key from `revoked_at` (default now; earlier for a compromise found late)."""
        self._require_self_or_admin(actor, party, "revoke keys of")

        def command(_: Signature, now: datetime) -> Aggregate:
            found = self.party(party)
            found.revoke_key(
                key_id=key,
                revoked_at=revoked_at or now,
                now=now,
                actor=actor.party,
                reason=clean_text(reason, field="reason", max_length=500),
            )
            return found

        return self._write(actor, None, Action.MANAGE_KEYS, None, command)

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
        def command(_: Signature, now: datetime) -> Aggregate:
            for party in (supplier, *authorized_holders):
                self._registry.party(party)
            return Agreement.conclude(
                agreement_id=check_party_id(agreement_id, field="agreement id"),
                supplier=supplier,
                programme=clean_text(programme, field="programme"),
                authorized_holders=list(dict.fromkeys(authorized_holders)),
                retransfer_requires_consent=retransfer_requires_consent,
                areas=[clean_text(a, field="area") for a in areas],
                now=now,
                actor=actor.party,
                signature=None,
            )

        exists = AlreadyExists(f"agreement {agreement_id} exists already")
        return self._write(actor, None, Action.CONCLUDE_AGREEMENT, None, command, exists)

    def party(self, party_id: str) -> Party:
        return self._get(party_uuid(party_id), Party, f"party {party_id}")

    def agreement(self, agreement_id: str) -> Agreement:
        return self._get(agreement_uuid(agreement_id), Agreement, f"agreement {agreement_id}")

    # Tokens --------------------------------------------------------------------------------------

    def grant_token(self, *, party: str, role: str, actor: Actor) -> tuple[str, Recorded]:
        """A new bearer token for `party`; the token is returned once and only its hash stored."""
        wanted = member(Role, role, "role")
        token = new_token()

        def command(_: Signature, now: datetime) -> Aggregate:
            kind = self._registry.party(party).kind
            if wanted not in KIND_ROLES[kind]:
                allowed = ", ".join(r.value for r in KIND_ROLES[kind]) or "none"
                raise InvalidInput(f"a party of kind {kind.value} may hold the roles: {allowed}")
            return Token.grant(
                digest=token_hash(token), party=party, role=wanted, actor=actor.party, now=now
            )

        return token, self._write(actor, None, Action.GRANT_TOKEN, None, command)

    def authenticate(self, token: str) -> Actor:
        """The token's party and role, as of every event stored by any process up to now."""
        try:
            granted = self._current(token_uuid(token_hash(token)), Token, "token")
        except NotFound:
            raise Unauthenticated("unknown token") from None
        if granted.revoked:
            raise Unauthenticated("token revoked")
        return Actor(party=granted.party, role=granted.role)

    def tokens(self, *, actor: Actor) -> list[TokenInfo]:
        """The tokens an admin may see (all), or a party its own; never anyone else's."""
        actor.require(Action.READ)
        found = [self._token(token_id) for token_id in self._granted_token_ids()]
        return [t for t in found if actor.role is Role.ADMIN or t.party == actor.party]

    def revoke_token(self, token_id: UUID | str, *, actor: Actor) -> Recorded:
        token = self._token(_token_uuid(token_id))
        self._require_self_or_admin(actor, token.party, "revoke tokens of")

        def command(_: Signature, now: datetime) -> Aggregate:
            granted = self._get(token.token_id, Token, f"token {token.token_id}")
            if granted.revoked:
                raise AlreadyExists(f"token {token.token_id} was revoked already")
            granted.revoke(actor=actor.party, now=now)
            return granted

        return self._write(actor, None, Action.REVOKE_TOKEN, None, command)

    def _granted_token_ids(self) -> list[UUID]:
        notifications = self.recorder.select_notifications(
            start=None, limit=1_000_000, topics=[Token.Granted.TOPIC]
        )
        return [UUID(str(n.originator_id)) for n in notifications]

    def _token(self, token_id: UUID) -> TokenInfo:
        granted = self._get(token_id, Token, f"token {token_id}")
        return TokenInfo(granted.id, granted.party, granted.role, granted.revoked)

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
        via: Submitted | None = None,
    ) -> Recorded:
        new_id, normalised = item_id(manufacturer, model, serial), normalise_serial(serial)
        identity_key(manufacturer, model, serial)  # refuses a model or maker with no letter
        marking = fields.details(details or {})

        def command(signature: Signature, now: datetime) -> Aggregate:
            if self._in_batch() and self._exists(new_id):
                raise duplicate  # else the store refuses it (version 1 exists): `duplicate` too
            self._refuse_look_alike(manufacturer, model, serial, new_id)
            terms = self._registry.agreement(agreement)
            if actor.role is Role.SUPPLIER and terms.supplier != actor.party:
                raise Unauthorised(
                    f"agreement {agreement} is {terms.supplier}'s, not {actor.party}'s"
                )
            self._registry.party(recipient)
            return Item.issue(
                item_id=new_id,
                now=now,
                serial=check_marking(serial),
                normalised_serial=normalised,
                registry_serial=registry_serial,
                manufacturer=clean_text(manufacturer, field="manufacturer"),
                model=clean_text(model, field="model"),
                category=member(Category, category, "category").value,
                agreement=agreement,
                programme=terms.programme,
                supplier=terms.supplier,
                recipient=recipient,
                details=marking,
                occurred_at=occurred_at,
                actor=actor.party,
                signature=signature,
            )

        duplicate = DuplicateItem(
            f"{manufacturer} {model} serial {serial!r} was issued already (item {new_id},"
            f" normal form {normalised!r})"
        )
        return self._write(actor, via, Action.ISSUE, None, command, duplicate)

    def _refuse_look_alike(self, manufacturer: str, model: str, serial: str, new_id: UUID) -> None:
        """Refuse, before deciding, an issue whose identity in the normal form is another item's
        (the store refuses it as well, under its write lock: ledger/store/serials.py)."""
        self.log_store.ensure_serials()
        found = self.log_store.serials.look_alike_of(manufacturer, model, serial, str(new_id))
        if found is not None:
            raise look_alike(
                {"manufacturer": manufacturer, "model": model, "serial": serial}, found
            )

    def transfer(
        self,
        item: UUID | str,
        *,
        to: str,
        occurred_at: datetime,
        actor: Actor,
        authority: str | None = None,
        from_holder: str | None = None,
        via: Submitted | None = None,
    ) -> Recorded:
        def command(signature: Signature, now: datetime) -> Aggregate:
            found = self._item_for(actor, Action.TRANSFER, item)
            self._registry.party(to)
            found.transfer(
                to=to,
                from_holder=from_holder,
                authority=optional_text(authority, "authority"),
                occurred_at=occurred_at,
                actor=actor.party,
                signature=signature,
                now=now,
            )
            return found

        return self._write(actor, via, Action.TRANSFER, item, command)

    def receive(
        self,
        item: UUID | str,
        *,
        occurred_at: datetime,
        actor: Actor,
        location: str | None = None,
        condition: str | None = None,
        via: Submitted | None = None,
    ) -> Recorded:
        """The holder confirms the item is in hand."""

        def command(signature: Signature, now: datetime) -> Aggregate:
            found = self._item_for(actor, Action.RECEIVE, item)
            found.receive(
                location=optional_text(location, "location"),
                condition=optional_text(condition, "condition"),
                occurred_at=occurred_at,
                actor=actor.party,
                signature=signature,
                now=now,
            )
            return found

        return self._write(actor, via, Action.RECEIVE, item, command)

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
        via: Submitted | None = None,
    ) -> Recorded:
        how = member(InspectionMethod, method, "method")

        def command(signature: Signature, now: datetime) -> Aggregate:
            found = self._item_for(actor, Action.INSPECT, item)
            if actor.role is Role.PARTNER and how is not InspectionMethod.SELF_REPORT:
                raise Unauthorised("a partner's own inspection is a self_report")
            self._registry.party(inspector or actor.party)
            self._require_own(actor, inspector or actor.party, "inspections")
            self._require_bound(found, "Inspected", actor, now)
            found.inspect(
                inspector=inspector or actor.party,
                result=member(InspectionResult, result, "result").value,
                method=how.value,
                observed_serial=_marking(observed_serial, "observed_serial"),
                location=optional_text(location, "location"),
                occurred_at=occurred_at,
                actor=actor.party,
                signature=signature,
                now=now,
            )
            return found

        return self._write(actor, via, Action.INSPECT, item, command)

    def report_lost(
        self,
        item: UUID | str,
        *,
        circumstances: str,
        occurred_at: datetime,
        actor: Actor,
        discovered_at: datetime | None = None,
        via: Submitted | None = None,
    ) -> Recorded:
        def command(signature: Signature, now: datetime) -> Aggregate:
            found = self._item_for(actor, Action.REPORT_LOST, item)
            found.report_lost(
                circumstances=member(LossCircumstances, circumstances, "circumstances").value,
                discovered_at=discovered_at,
                occurred_at=occurred_at,
                actor=actor.party,
                signature=signature,
                now=now,
            )
            return found

        return self._write(actor, via, Action.REPORT_LOST, item, command)

    def recover(
        self,
        item: UUID | str,
        *,
        by: str,
        occurred_at: datetime,
        actor: Actor,
        location: str | None = None,
        condition: str | None = None,
        via: Submitted | None = None,
    ) -> Recorded:
        def command(signature: Signature, now: datetime) -> Aggregate:
            found = self._item_for(actor, Action.RECOVER, item)
            self._registry.party(by)
            self._require_own(actor, by, "recoveries")
            found.recover(
                by=by,
                location=optional_text(location, "location"),
                condition=optional_text(condition, "condition"),
                occurred_at=occurred_at,
                actor=actor.party,
                signature=signature,
                now=now,
            )
            return found

        return self._write(actor, via, Action.RECOVER, item, command)

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
        via: Submitted | None = None,
    ) -> Recorded:
        def command(signature: Signature, now: datetime) -> Aggregate:
            found = self._item_for(actor, Action.SIGHT, item)
            self._registry.party(observer)
            self._require_own(actor, observer, "sightings")
            self._require_bound(found, "Sighted", actor, now)
            found.sight(
                observer=observer,
                held_by=optional_text(held_by, "held_by"),
                location=clean_text(location, field="location"),
                serial_as_read=_marking(serial_as_read, "serial_as_read"),
                evidence=[sha256_hex(e) for e in evidence],
                occurred_at=occurred_at,
                actor=actor.party,
                signature=signature,
                now=now,
            )
            return found

        return self._write(actor, via, Action.SIGHT, item, command)

    # Sightings not yet matched to an item (ledger/domain/sightings.py) ----------------------------

    def record_sighting(
        self,
        *,
        observer: str,
        location: str,
        occurred_at: datetime,
        actor: Actor,
        serial_as_read: str | None = None,
        manufacturer: str | None = None,
        model: str | None = None,
        lot: str | None = None,
        held_by: str | None = None,
        evidence: Sequence[str] = (),
        via: Submitted | None = None,
    ) -> Recorded:
        """What a third party saw when no item matches yet: its own aggregate in the log."""
        if serial_as_read is None and lot is None:
            raise InvalidInput("a sighting needs the serial as read or the lot")

        def command(signature: Signature, now: datetime) -> Aggregate:
            self._registry.party(observer)
            return Sighting.record(
                sighting_id=uuid4(),
                now=now,
                observer=observer,
                location=clean_text(location, field="location"),
                held_by=optional_text(held_by, "held_by"),
                serial_as_read=_marking(serial_as_read, "serial_as_read"),
                manufacturer=optional_text(manufacturer, "manufacturer"),
                model=optional_text(model, "model"),
                lot=_marking(lot, "lot"),
                evidence=[sha256_hex(e) for e in evidence],
                occurred_at=occurred_at,
                actor=actor.party,
                signature=signature,
            )

        return self._write(actor, via, Action.SIGHT, None, command)

    def match_sighting(self, sighting: UUID | str, *, item: UUID | str, actor: Actor) -> Recorded:
        """Link a sighting to an item: the item's `Sighted` (its evidence led by the SHA-256 of
        the sighting's entry) and the sighting's `Matched`, in one transaction."""
        actor.require(Action.SIGHT)
        seen = self.sighting(sighting)
        if seen.item_id is not None:
            raise AlreadyExists(f"sighting {seen.id} is matched to item {seen.item_id} already")
        entry = self.log_store.log_entries_of(seen.id)[0].entry
        target = self.item(item).id
        with self.batch() as batch:
            self.sight(
                target,
                observer=seen.observer,
                location=seen.location,
                occurred_at=seen.seen_at,
                held_by=seen.held_by,
                serial_as_read=seen.serial_as_read,
                evidence=[hashlib.sha256(entry).hexdigest(), *seen.evidence],
                actor=actor,
            )
            self._write(actor, None, Action.SIGHT, None, self._matching(seen.id, target, actor))
        appended = batch.receipt.newest(target)
        return Recorded(
            target, batch.pending[target].version, appended.log_index, self.note_of(appended)
        )

    def _matching(self, sighting_id: UUID, item_id: UUID, actor: Actor) -> Command:
        def command(_: Signature, now: datetime) -> Aggregate:
            found = self._get(sighting_id, Sighting, f"sighting {sighting_id}")
            found.match(item_id=item_id, now=now, actor=actor.party)
            return found

        return command

    def sighting(self, sighting: UUID | str) -> Sighting:
        return self._get(item_uuid(sighting), Sighting, f"sighting {sighting}")

    def sightings(
        self, *, after: int | None = None, limit: int = ITEM_PAGE
    ) -> list[tuple[int, Sighting]]:
        """Sightings in the order they were recorded, after a notification id: (id, sighting)."""
        page = self.recorder.select_notifications(
            start=after, limit=limit, topics=[Sighting.Recorded.TOPIC], inclusive_of_start=False
        )
        return [(n.id, self.sighting(UUID(str(n.originator_id)))) for n in page]

    # Trace requests (ledger/domain/traces.py) -----------------------------------------------------

    def request_trace(
        self,
        *,
        addressee: str,
        question: str,
        answer_days: int,
        actor: Actor,
        item: UUID | str | None = None,
        sighting: UUID | str | None = None,
        occurred_at: datetime | None = None,
    ) -> Recorded:
        """A trace request about an item or a sighting, sent at `occurred_at` (default now) and
        due `answer_days` after."""
        if (item is None) == (sighting is None):
            raise InvalidInput("a trace names either an item or a sighting")

        def command(_: Signature, now: datetime) -> Aggregate:
            self._registry.party(addressee)
            return Trace.request(
                trace_id=uuid4(),
                now=now,
                answer_days=answer_days,
                occurred_at=occurred_at,
                item_id=None if item is None else str(self.item(item).id),
                sighting_id=None if sighting is None else str(self.sighting(sighting).id),
                addressee=addressee,
                question=clean_text(question, field="question", max_length=2000),
                actor=actor.party,
                signature=None,
            )

        return self._write(actor, None, Action.TRACE, None, command)

    def answer_trace(
        self, trace: UUID | str, *, answer: str, documents: Sequence[str], actor: Actor
    ) -> Recorded:
        """The addressee's answer (an admin may record it for the addressee)."""

        def command(_: Signature, now: datetime) -> Aggregate:
            found = self.trace(trace)
            if actor.role is not Role.ADMIN and actor.party != found.addressee:
                raise Unauthorised(f"trace {found.id} is addressed to {found.addressee}")
            found.answer_with(
                answer=clean_text(answer, field="answer", max_length=4000),
                documents=[sha256_hex(d) for d in documents],
                now=now,
                actor=actor.party,
            )
            return found

        return self._write(actor, None, Action.ANSWER_TRACE, None, command)

    def trace(self, trace: UUID | str) -> Trace:
        return self._get(item_uuid(trace), Trace, f"trace {trace}")

    def traces(self) -> Iterator[Trace]:
        """Every trace, in the order they were requested."""
        start: int | None = None
        while page := self.recorder.select_notifications(
            start=start, limit=ITEM_PAGE, topics=[Trace.Requested.TOPIC], inclusive_of_start=False
        ):
            yield from (self.trace(UUID(str(n.originator_id))) for n in page)
            start = page[-1].id

    # Serial-number inventories (ledger/domain/inventories.py decides; these record) ---------------

    def record_inventory(
        self,
        *,
        recipient: str,
        method: str,
        serials: Sequence[str],
        counts: dict[str, int],
        occurred_at: datetime,
        actor: Actor,
        site: str | None = None,
        manufacturer: str | None = None,
        model: str | None = None,
    ) -> Recorded:
        def command(_: Signature, now: datetime) -> Aggregate:
            return Inventory.record(
                inventory_id=uuid4(),
                serials=serials,
                counts=counts,
                now=now,
                recipient=self._registry.party(recipient).party_id,
                site=optional_text(site, "site"),
                method=member(InspectionMethod, method, "method").value,
                manufacturer=optional_text(manufacturer, "manufacturer"),
                model=optional_text(model, "model"),
                occurred_at=occurred_at,
                actor=actor.party,
            )

        return self._write(actor, None, Action.COUNT, None, command)

    def inventory_inspection(
        self,
        item: UUID | str,
        *,
        result: str,
        method: str,
        occurred_at: datetime,
        actor: Actor,
        observed_serial: str | None = None,
        location: str | None = None,
    ) -> Recorded:
        """An item's `Inspected` from an inventory: the counting party is the inspector."""

        def command(signature: Signature, now: datetime) -> Aggregate:
            found = self.item(item)
            found.inspect(
                inspector=actor.party,
                result=member(InspectionResult, result, "result").value,
                method=member(InspectionMethod, method, "method").value,
                observed_serial=_marking(observed_serial, "observed_serial"),
                location=optional_text(location, "location"),
                occurred_at=occurred_at,
                actor=actor.party,
                signature=signature,
                now=now,
            )
            return found

        return self._write(actor, None, Action.COUNT, item, command)

    def dispose(
        self,
        item: UUID | str,
        *,
        method: str,
        occurred_at: datetime,
        actor: Actor,
        certificate: str | None = None,
        witnesses: Sequence[str] = (),
        via: Submitted | None = None,
    ) -> Recorded:
        def command(signature: Signature, now: datetime) -> Aggregate:
            found = self._item_for(actor, Action.DISPOSE, item)
            found.dispose(
                method=member(DisposalMethod, method, "method").value,
                certificate=optional_text(certificate, "certificate"),
                witnesses=[clean_text(w, field="witness") for w in witnesses],
                occurred_at=occurred_at,
                actor=actor.party,
                signature=signature,
                now=now,
            )
            return found

        return self._write(actor, via, Action.DISPOSE, item, command)

    def correct(
        self,
        item: UUID | str,
        *,
        entry: int,
        reason: str,
        actor: Actor,
        occurred_at: datetime | None = None,
        via: Submitted | None = None,
    ) -> Recorded:
        """Annotate an earlier entry of this item (history is never edited); `occurred_at`
        defaults to now. Who recorded the entry, or an admin, may correct it."""

        def command(signature: Signature, now: datetime) -> Aggregate:
            found = self._item_for(actor, Action.CORRECT, item)
            corrected = self._entry_of(found, entry)
            if (
                actor.role is not Role.ADMIN
                and decode_entry(corrected.entry)["actor"] != actor.party
            ):
                raise Unauthorised(f"entry {entry} was recorded by another party")
            found.correct(
                entry=entry,
                reason=clean_text(reason, field="reason", max_length=2000),
                occurred_at=occurred_at or now,
                actor=actor.party,
                signature=signature,
                now=now,
            )
            return found

        return self._write(actor, via, Action.CORRECT, item, command)

    # Flags ---------------------------------------------------------------------------------------

    def raise_flag(
        self,
        *,
        flag_id: UUID,
        rule: str,
        item_id: UUID,
        severity: str,
        since: datetime,
        evidence: Sequence[int],
        detail: str,
        actor: Actor,
    ) -> Recorded | None:
        """Put a policy finding on record; None if it was raised already."""
        if self.flag(flag_id) is not None:
            return None

        def command(_: Signature, now: datetime) -> Aggregate:
            return Flag.raise_(
                flag_id=flag_id,
                now=now,
                actor=actor.party,
                rule=rule,
                item_id=str(item_id),
                severity=severity,
                since=since,
                evidence=list(evidence),
                detail=detail,
            )

        try:
            return self._write(actor, None, Action.RAISE_FLAG, None, command, Conflict("raised"))
        except Conflict:
            return None  # raised by someone else meanwhile

    def resolve_flag(self, flag_id: UUID | str, *, reason: str, actor: Actor) -> Recorded:
        def command(_: Signature, now: datetime) -> Aggregate:
            flag = self._get(item_uuid(flag_id), Flag, f"flag {flag_id}")
            flag.resolve(
                reason=clean_text(reason, field="reason", max_length=2000),
                now=now,
                actor=actor.party,
            )
            return flag

        return self._write(actor, None, Action.RESOLVE_FLAG, None, command)

    def raised_flags(self) -> Iterator[Flag]:
        """Every flag ever raised, in the order they were raised."""
        start: int | None = None
        while page := self.recorder.select_notifications(
            start=start, limit=ITEM_PAGE, topics=[Flag.Raised.TOPIC], inclusive_of_start=False
        ):
            for n in page:
                yield self._get(UUID(str(n.originator_id)), Flag, "flag")
            start = page[-1].id

    def flag(self, flag_id: UUID) -> Flag | None:
        try:
            return self._get(flag_id, Flag, f"flag {flag_id}")
        except NotFound:
            return None

    # Items: reads --------------------------------------------------------------------------------

    def item(self, item: UUID | str) -> Item:
        return self._get(item_uuid(item), Item, f"item {item}")

    def item_ids(self) -> Iterator[UUID]:
        """Every issued item's id, in the order the issues were recorded."""
        start: int | None = None
        while page := self.recorder.select_notifications(
            start=start, limit=ITEM_PAGE, topics=[Item.Issued.TOPIC], inclusive_of_start=False
        ):
            yield from (UUID(str(n.originator_id)) for n in page)
            start = page[-1].id

    def facts(self, item: UUID | str) -> list[Fact]:
        """The item's events as plain facts with their log indexes, in recording order."""
        item_id, events = self._item_events(item)
        return facts_of(events, self.log_store.log_indexes_of(item_id))

    def history(self, item: UUID | str) -> list[LogRow]:
        """Every log entry of the item, oldest first, with its exact bytes."""
        return self.log_store.log_entries_of(self.item(item).id)

    def custody_at(
        self, item: UUID | str, *, at: datetime, known_at: datetime | None = None
    ) -> CustodyState:
        """Holder and status at field time `at`, as known at recording time `known_at`."""
        item_id, events = self._item_events(item)
        return custody_at(
            events, at=at, known_at=known_at, log_indexes=self.log_store.log_indexes_of(item_id)
        )

    def _item_events(self, item: UUID | str) -> tuple[UUID, list[Any]]:
        """The item's stored events, read once (not replayed into an aggregate first just to see
        that it exists); NotFound unless they are an item's."""
        item_id = item_uuid(item)
        events = list(self.events.get(item_id))
        if not events or not isinstance(events[0], Item.Issued):
            raise NotFound(f"item {item} not found")
        return item_id, events

    # The log: checkpoints, proofs, entries, verification -----------------------------------------

    def verifier(self) -> Verifier:
        return self._signer().verifier

    def checkpoint(self) -> str:
        """The latest signed checkpoint (a C2SP note), signing a new one if the log has grown.

        A new checkpoint's last entry is a map root (ledger/integrity/maproots.py) committing the
        head of
        every aggregate before it. Before signing, the new root is checked against the last
        checkpoint with a consistency proof, so the ledger never signs two inconsistent
        checkpoints, even over a tampered store.
        """
        # The checkpoint first: it is of a size the log had then, so another process appending
        # and signing between the two reads cannot make the log look shorter than it.
        latest = self.log_store.latest_checkpoint()
        size = self.log_store.log_size()
        if latest is not None and latest[0] == size:
            return latest[1]
        if latest is not None and latest[0] > size:
            raise IntegrityFailure(
                "the log is shorter than its last checkpoint",
                position=size,
                expected=f"at least {latest[0]} entries",
                got=str(size),
            )
        size = self._commit_map()
        root = merkle.root(size, self.log_store)
        if latest is not None and latest[0] > 0:
            self._check_consistent(latest[1], size, root)
        note = sign_checkpoint(Checkpoint(self.origin, size, root), self._signer())
        stored = self.log_store.store_checkpoint(size, note)
        return self._cosigned(stored, size) if stored == note else stored

    def _commit_map(self) -> int:
        """Append a map root over every entry before it, unless the log already ends with one;
        answer the log's size just after it (the size to sign)."""
        for _ in range(MAP_COMMIT_TRIES):
            size = self.log_store.log_size()
            last = self.log_store.last_entry_of(MAP_ID, size)
            if last is not None and last.log_index == size - 1:
                return size
            try:
                self._save(self._map_root(size), None, None, lambda: None)
            except Conflict:
                continue  # another write, or another map root, came first
            return size + 1
        raise Conflict("the log kept growing while its map root was committed; retry")

    def _map_root(self, size: int) -> LogMap:
        """The LogMap with its next commit: the map of heads over the first `size` entries."""
        root, now = self.heads.root(size), self.clock()
        try:  # the cached copy, fast-forwarded: not a replay of every map root ever committed
            log_map = copy.deepcopy(self._current(MAP_ID, LogMap, "the map of heads"))
        except NotFound:
            return LogMap.start(size=size, root=root, now=now, actor=OPERATOR)
        log_map.commit(size=size, root=root, now=now, actor=OPERATOR)
        return log_map

    def head_proof(self, aggregate_id: UUID, size: int) -> dict[str, Any]:
        """The aggregate's head as of the newest map root within tree size `size`, with proofs
        (or a proof that it has no entry by then)."""
        return head_proof(self.log_store, self.heads, aggregate_id, size)

    def _cosigned(self, note: str, size: int) -> str:
        """Ask the witnesses to cosign the new checkpoint and keep their cosignatures with it."""
        if self.cosigners is None:
            return note
        lines = self.cosigners(note, lambda old: self._proof_from(old, size))
        if not lines:
            return note
        cosigned = note + "".join(line if line.endswith("\n") else line + "\n" for line in lines)
        self.log_store.add_cosignatures(size, cosigned)
        return cosigned

    def cosign_latest(self) -> str | None:
        """The latest checkpoint, shown to the witnesses again if its cosignatures fall short of
        the witness policy's quorum (a witness was down, or refused); the cosignatures it has are
        kept and new ones merged in. None before the first checkpoint."""
        latest = self.log_store.latest_checkpoint()
        if latest is None or self.cosigners is None or self.witness_policy is None:
            return latest[1] if latest else None
        size, note = latest
        if self._has_quorum(note):
            return note
        shown = signed_only_by(note, self.verifier())
        lines = self.cosigners(shown, lambda old: self._proof_from(old, size))
        merged = with_signatures(note, lines)
        if merged != note:
            self.log_store.add_cosignatures(size, merged)
        return merged

    def _has_quorum(self, note: str) -> bool:
        assert self.witness_policy is not None
        checkpoint = parse_checkpoint(split_note(note)[0])
        try:
            check_quorum(self.witness_policy, note, checkpoint)
        except ProofError:
            return False
        return True

    def _proof_from(self, old: int, size: int) -> list[bytes]:
        return merkle.consistency_proof(old, size, self.log_store) if 0 < old < size else []

    def evidence(self, item: UUID | str) -> dict[str, Any]:
        """The item's evidence bundle against the latest checkpoint (signed now if the log grew)."""
        found = self.item(item)
        return build_bundle(
            self.log_store,
            item_id=found.id,
            checkpoint=self.checkpoint(),
            log_key=self.verifier(),
            heads=self.heads,
            witness_keys=self.witness_keys,
        )

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
        check_entry_range(start, end)
        return self.log_store.log_entries(start, end)

    def verify(
        self,
        verifier: Verifier,
        progress: Progress | None = None,
        *,
        trusted: Sequence[Checkpoint] = (),
        witness_policy: WitnessPolicy | None = None,
    ) -> Verified:
        """Recompute every leaf, node, chain and checkpoint, and check the store against trusted
        checkpoints and a witness policy if given (ledger/verification/verify.py)."""
        return verify_store(
            self.log_store,
            self.mapper,
            verifier,
            origin=self.origin,
            progress=progress,
            trusted=trusted,
            witness_policy=witness_policy,
        )

    def receipt(self, log_index: int) -> str:
        """The receipt of the entry at `log_index`: a note signed by the log key (section 10 of
        docs/verification.md), rebuilt from the signature stored with the entry."""
        rows = self.log_store.log_entries(log_index, log_index + 1) if log_index >= 0 else []
        if not rows:
            raise NotFound(f"log entry {log_index} not found")
        return self.receipt_of(rows[0])

    def receipt_of(self, row: LogRow) -> str:
        """The receipt of a log row read from this store (`history`, `log_entries`)."""
        if row.receipt is None:
            raise IntegrityFailure("the entry has no receipt", position=row.log_index)
        receipt = EntryReceipt(self.origin, row.log_index, row.leaf_hash, recorded_at_of(row.entry))
        return receipt_note(receipt, row.receipt, self.verifier())

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

    # The write path ------------------------------------------------------------------------------

    def _write(
        self,
        actor: Actor,
        via: Submitted | None,
        action: Action,
        item: UUID | str | None,
        command: Command,
        exists: CustodyError | None = None,
    ) -> Recorded:
        """Replay, role, signature, command, save with the nonce: the one path of every write."""
        actor.require(action)
        now = self.clock()
        signature = self._signature(actor, via, action, item, now)  # before a replay answers
        replayed = self._replayed(actor, via)
        if replayed is not None:
            return replayed
        try:
            aggregate = command(signature, now)
        except RuleViolation:
            # The same request, recorded by another process while this one was deciding, has
            # changed the item: answer what was recorded, not the refusal of doing it twice.
            replayed = self._replayed(actor, via)
            if replayed is not None:
                return replayed
            raise
        nonce = None
        if via is not None:
            nonce = Nonce.use(
                party=actor.party, nonce=via.nonce, digest=via.digest, aggregate=aggregate, now=now
            )
        batch: Batch | None = getattr(self._local, "batch", None)
        if batch is not None:
            return batch.add(aggregate, nonce)
        return self._save(aggregate, nonce, exists, lambda: self._replayed(actor, via))

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        """Writes inside the block are decided one by one, each seeing the ones before it, and
        saved together in one transaction when the block ends: all of them, or none (an error in
        the block, or a conflict at the end). Inside, writes answer log_index -1; the batch's
        `receipt` has the real ones afterwards. One batch at a time per thread."""
        if getattr(self._local, "batch", None) is not None:
            raise ProgrammingError("batches do not nest")
        batch = self._local.batch = Batch()
        try:
            yield batch
        finally:
            self._local.batch = None
        self._save_batch(batch)

    def _save_batch(self, batch: Batch) -> None:
        if not batch.pending:
            return
        try:
            self.save(*batch.pending.values(), *batch.nonces, receipt=batch.receipt)
        except IntegrityError:
            raise Conflict(
                "the batch met a write recorded meanwhile; nothing of it was stored, retry it"
            ) from None
        except (OperationalError, sqlite3.OperationalError) as error:
            raise Conflict(
                f"the store is busy ({error}); nothing of the batch was stored"
            ) from None

    def _replayed(self, actor: Actor, via: Submitted | None) -> Recorded | None:
        """The first answer to a request whose nonce this party used already; None if new."""
        if via is None:
            return None
        try:
            used: object = self.repository.get(nonce_uuid(actor.party, via.nonce))
        except AggregateNotFoundError:
            return None
        assert isinstance(used, Nonce)
        if used.digest != via.digest:
            raise Conflict(f"nonce {via.nonce} was used already, for another request")
        index = self.log_store.log_indexes_of(used.aggregate_id)[used.aggregate_version]
        return Recorded(used.aggregate_id, used.aggregate_version, index, self.receipt(index))

    def _signature(
        self,
        actor: Actor,
        via: Submitted | None,
        action: Action,
        item: UUID | str | None,
        now: datetime,
    ) -> Signature:
        """The verified signature to keep in the entry, or None for an unsigned write."""
        signed = via.signed if via is not None else None
        if signed is None:
            if actor.role in self.signed_roles and action in SIGNABLE:
                raise Unauthorised(f"role {actor.role.value} must sign its submissions")
            return None
        item_text = str(item_uuid(item)) if item is not None else None
        check_claims(
            signed, origin=self.origin, party=actor.party, action=action.value, item=item_text
        )
        key = self._signer_of(actor.party).valid_key(signed.key_id, at=now)
        verify_signed(signed, base64.b64decode(key.public_key))
        return signed.as_entry_value()

    def _signer_of(self, party: str) -> Party:
        """The party with its keys as of now: registered or revoked by any process, or earlier in
        this batch."""
        party_id, what = party_uuid(party), f"party {party}"
        pending = self._pending(party_id)
        if pending is not None:
            return _of_kind(pending, Party, what)
        return self._current(party_id, Party, what)

    def _item_for(self, actor: Actor, action: Action, item: UUID | str) -> Item:
        """The item, if this actor may do `action` to it: a partner only to what it holds."""
        found = self.item(item)
        holder_only = actor.role is Role.PARTNER and action in HOLDER_ACTIONS
        if holder_only and not self._answers_for(actor.party, found.holder):
            raise Unauthorised(
                f"{actor.party} may {action.value.replace('_', ' ')} only items it holds;"
                f" this one is held by {found.holder}"
            )
        return found

    def _answers_for(self, party: str, holder: str) -> bool:
        """A party answers for what it holds and for what its units hold."""
        return holder == party or self._registry.party(holder).parent == party

    def _require_bound(self, item: Item, kind: str, actor: Actor, now: datetime) -> None:
        """At most the bound of inspections or sightings per actor and item a UTC day; the
        operator's own writes (back-filling an import) are not bound per day."""
        if actor.role is Role.ADMIN:
            return
        limit, what, variable = {
            "Inspected": (self.bounds.max_inspections_per_day, "inspections", "INSPECTIONS"),
            "Sighted": (self.bounds.max_sightings_per_day, "sightings", "SIGHTINGS"),
        }[kind]
        if item.recorded_today(kind, actor.party, now) >= limit:
            raise LimitExceeded(
                f"{actor.party} recorded {limit} {what} of item {item.id} today (UTC), the most"
                f" allowed a day (CUSTODY_MAX_{variable}_PER_DAY); nothing was recorded"
            )

    def _require_own(self, actor: Actor, named: str, what: str) -> None:
        """Who did it is the actor or one of its units; only an admin records for another."""
        require_own(actor, named, parent=lambda p: self._registry.party(p).parent, what=what)

    def _require_self_or_admin(self, actor: Actor, party: str, what: str) -> None:
        if actor.role is not Role.ADMIN and actor.party != party:
            raise Unauthorised(f"{actor.party} may not {what} {party}")

    def _entry_of(self, item: Item, log_index: int) -> LogRow:
        for row in self.log_store.log_entries_of(item.id):
            if row.log_index == log_index:
                return row
        raise InvalidInput(f"log entry {log_index} is not an entry of item {item.id}")

    def _exists(self, aggregate_id: UUID) -> bool:
        try:
            self._get(aggregate_id, Aggregate, "aggregate")
        except NotFound:
            return False
        return True

    def _get(self, aggregate_id: UUID, kind: type[A], what: str) -> A:
        """The aggregate as this batch left it, else as stored: a fresh copy to change."""
        pending = self._pending(aggregate_id)
        if pending is None:
            return self._load(aggregate_id, kind, what)
        if not isinstance(pending, kind):
            raise NotFound(f"{what} not found")
        return pending

    def _load(self, aggregate_id: UUID, kind: type[A], what: str) -> A:
        """The aggregate as stored, replayed from its events."""
        return _of_kind(_found(self.repository, aggregate_id, what), kind, what)

    def _current(self, aggregate_id: UUID, kind: type[A], what: str) -> A:
        """The aggregate as stored, for reading only: the library's aggregate cache, fast-forwarded
        on every call (the events after the cached version are read first), so a token's or a
        key's revocation stored by any process counts at once. Shared between calls and threads,
        not copied: never change what it answers (commands use `_get`)."""
        return _of_kind(_found(self._shared, aggregate_id, what), kind, what)

    def _pending(self, aggregate_id: UUID) -> Aggregate | None:
        """The aggregate as the current batch holds it (not stored yet); None outside a batch."""
        batch: Batch | None = getattr(self._local, "batch", None)
        return batch.pending.get(aggregate_id) if batch is not None else None

    def _in_batch(self) -> bool:
        return getattr(self._local, "batch", None) is not None

    def _save(
        self,
        aggregate: Aggregate,
        nonce: Nonce | None,
        exists: CustodyError | None,
        replay: Callable[[], Recorded | None],
    ) -> Recorded:
        receipt = Receipt()
        try:
            self.save(aggregate, nonce, receipt=receipt)
        except IntegrityError:
            replayed = replay() if nonce is not None else None  # the same request, concurrently
            if replayed is not None:
                return replayed
            raise exists or Conflict(
                f"another write to {aggregate.id} was recorded first; read it again and retry"
            ) from None
        except (OperationalError, sqlite3.OperationalError) as error:
            raise Conflict(f"the store is busy ({error}); retry") from None
        appended = receipt.newest(aggregate.id)
        return Recorded(aggregate.id, aggregate.version, appended.log_index, self.note_of(appended))

    def note_of(self, appended: Appended) -> str:
        """The receipt of an entry this process appended, as the note a write answers (a batch's
        entries: `batch.receipt.newest(id)`)."""
        return receipt_note(
            EntryReceipt(self.origin, appended.log_index, appended.leaf_hash, appended.recorded_at),
            appended.receipt,
            self.verifier(),
        )


def _found(repository: Repository[UUID], aggregate_id: UUID, what: str) -> object:
    try:
        found: object = repository.get(aggregate_id, projector_func=_replay)
    except AggregateNotFoundError:
        raise NotFound(f"{what} not found") from None
    return found


def _replay(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's `project_aggregate` without its runtime-Protocol `isinstance` per event,
    which cost about 15 us an event, more than decoding it: every event in this store is an
    `Aggregate.Event` (ledger/domain/events.py), whose `mutate` is all the projection needs."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def _of_kind(found: object, kind: type[A], what: str) -> A:
    if not isinstance(found, kind):
        raise NotFound(f"{what} not found")
    return found


def _marking(value: str | None, field: str) -> str | None:
    """A serial as read, kept as written: refused where the normal form refuses it
    (invisible, format, control characters; no letter or digit). `?` marks what was unreadable."""
    return None if value is None else check_marking(value, field=field, max_length=MAX_TEXT)


def check_entry_range(start: int, end: int) -> None:
    """0 <= start <= end with at most MAX_ENTRIES_PAGE entries between, or InvalidInput."""
    if not 0 <= start <= end or end - start > MAX_ENTRIES_PAGE:
        raise InvalidInput(
            f"ask for 0 <= start <= end with at most {MAX_ENTRIES_PAGE} entries at a time"
        )


def _token_uuid(token_id: UUID | str) -> UUID:
    try:
        return token_id if isinstance(token_id, UUID) else UUID(token_id)
    except ValueError:
        raise InvalidInput(f"token id {token_id!r} is not a UUID") from None
