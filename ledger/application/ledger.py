"""The `Ledger` application: one short method per use case, in the order a programme meets them:
parties, keys and agreements; tokens; an item's life from its issue to its disposal; sightings,
traces and inventories; flags; the reads of an item.

What stands behind them, each in its own module:
- the write path (ledger/application/writes.py): every write checks the actor's role and its
  signature, answers a replayed request with its first answer, lets the command decide and saves
  the aggregate with its nonce in one transaction; `batch()` saves several together;
- the aggregates (ledger/application/aggregates.py): what a command changes is read fresh from the
  store; tokens and signing keys from the library's cache, fast-forwarded on every read, so a
  revocation stored by any process counts at once; the parties and agreements a command only checks
  come from memory (ledger/application/registry.py: facts that never change);
- the checks that need more than the role table (ledger/application/checks.py);
- the log as its readers see it (`Ledger.tlog`, ledger/application/transparency.py): checkpoints,
  proofs, entries, receipts and the check of a whole store.

The ledger never reads the clock: it is given a `clock` (api/ and the CLI pass the system clock,
tests a fixed one). Every write answers a `Recorded`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import (
    Aggregate,
    BaseAggregate,
    DomainEventProtocol,
    MutableOrImmutableAggregate,
)
from eventsourcing.persistence import Mapper, PersistenceError, Recording

from ledger.application.aggregates import Aggregates
from ledger.application.checks import Checks, self_or_admin
from ledger.application.keys import KeyRecord, endorse_key, key_records
from ledger.application.registry import Registry
from ledger.application.transparency import Cosigners, TransparencyLog
from ledger.application.writes import (
    Batch,
    Batches,
    Clock,
    Command,
    Recorded,
    Signature,
    WritePath,
)
from ledger.domain import fields
from ledger.domain.access import KIND_ROLES, OPERATOR, Action, Actor
from ledger.domain.bounds import DEFAULT_BOUNDS, Bounds
from ledger.domain.errors import (
    AlreadyExists,
    Conflict,
    DuplicateItem,
    InvalidInput,
    NotFound,
    Unauthenticated,
    Unauthorised,
)
from ledger.domain.events import Report
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
from ledger.domain.parties import Agreement, Party, PartyKind
from ledger.domain.replay import CustodyState, Fact, custody_at, facts_of
from ledger.domain.sightings import Sighting
from ledger.domain.tokens import Role, Token, new_token, token_hash
from ledger.domain.traces import Trace
from ledger.integrity.endorsements import check_signature, confirmation_bytes, registration_bytes
from ledger.integrity.entries import decode_entry
from ledger.integrity.signing import Signer
from ledger.integrity.submissions import Submitted, decode_public_key, key_id
from ledger.store.config import DEFAULT_DB, DEFAULT_ORIGIN, persistence_env
from ledger.store.log import LogMapper, LogRow, LogStore
from ledger.witness.witness_policy import WitnessPolicy

__all__ = ["ITEM_PAGE", "OPERATOR", "Batch", "Ledger", "Recorded", "Signature", "TokenInfo"]

log = logging.getLogger("custody.ledger")
ITEM_PAGE = 10_000
ItemChange = Callable[[Item, Report], None]
"""(the item, the report: field time, actor, verified signature or None, now) -> None: an item
command's decision."""


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
        self.bounds = bounds
        self.after_save: list[Callable[[], None]] = []
        """Called after every save, in the saving thread: what follows the log (the server's
        read-model follower, api/follower.py) hears of each write here."""
        super().__init__(env=persistence_env(db, create_tables=create_tables))
        if not isinstance(self.recorder, LogStore):
            raise TypeError("APPLICATION_RECORDER_TOPIC must name a log store (store/log.py)")
        self.log_store: LogStore = self.recorder
        batches = Batches()
        self._aggregates = Aggregates(self.repository, self.events, batches.pending)
        self._registry = Registry(self._aggregates.load, batches.pending)
        self._checks = Checks(self._registry, bounds, self.log_store)
        self.tlog = TransparencyLog(
            log_store=self.log_store,
            mapper=self.mapper,
            origin=self.origin,
            clock=clock,
            signer=signer,
            aggregates=self._aggregates,
            save=lambda aggregate: self._writes.save(aggregate),
            cosigners=cosigners,
            witness_keys=witness_keys,
            witness_policy=witness_policy,
        )
        self._writes = WritePath(
            save=self.save,
            clock=clock,
            origin=self.origin,
            signed_roles=frozenset(signed_roles),
            aggregates=self._aggregates,
            batches=batches,
            log_store=self.log_store,
            receipts=self.tlog,
        )

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        """The library's save, the same steps, but an aggregate's pending events are taken
        without the library's `isinstance` checks against its runtime-checkable Protocols, which
        in Python 3.11 walk every attribute of the Protocol on each call (7% of a `custody
        import`'s CPU, two checks for each aggregate and nonce saved)."""
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, BaseAggregate):
                processing.events.extend(obj.collect_events())
                processing.aggregates[obj.id] = obj
            else:
                processing.collect_events(obj)
        processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        self.notify(processing.events)  # the library's deprecated hook, kept as it calls it
        return recordings

    def _notify(self, recordings: list[Any]) -> None:
        """The library's hook after a save: tell every `after_save` listener. The save is
        committed; a listener that fails is logged, not the writer's error."""
        for listener in list(self.after_save):
            try:
                listener()
            except Exception:
                log.exception("a listener after a save failed; the save stands")

    def batch(
        self,
        *,
        nonces: Iterable[tuple[str, str]] = (),
        issues: Iterable[tuple[str, str, str]] = (),
    ) -> AbstractContextManager[Batch]:
        """Writes inside the block are decided one by one, each seeing the ones before it, and
        saved together in one transaction when the block ends: all of them, or none (an error in
        the block, or a conflict at the end). Inside, writes answer log_index -1; the batch's
        `receipt` has the real ones afterwards. One batch at a time per thread. `nonces`: the
        (party, nonce) pairs the block's writes will carry, looked up in one query
        (ledger/application/writes.py); `issues`: the (manufacturer, model, serial) of the items
        the block will issue: whether each id is stored is read in that same query, and their
        look-alikes in one query for 500 issues, instead of two queries each (every issue is still
        refused if its item exists or a look-alike was issued; ledger/store/serials.py)."""
        ahead: list[tuple[str, str, str, str]] = []
        for manufacturer, model, serial in issues:
            try:
                new_id = item_id(manufacturer, model, serial)
            except InvalidInput:
                continue  # its issue refuses it
            ahead.append((manufacturer, model, serial, str(new_id)))
        look_alikes = None
        if ahead:
            self.log_store.ensure_serials()
            look_alikes = self.log_store.serials.look_alikes_of(ahead)
        new = [UUID(issue[3]) for issue in ahead]
        return self._writes.batch(nonces=nonces, new=new, look_alikes=look_alikes)

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
        return self._writes.write(actor, None, Action.REGISTER_PARTY, None, command, exists)

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
        self_or_admin(actor, party, "register keys for")
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

        return key_id(raw), self._writes.write(actor, None, Action.MANAGE_KEYS, None, command)

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

        return self._writes.write(actor, None, Action.MANAGE_KEYS, None, command)

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
        self_or_admin(actor, party, "revoke keys of")

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

        return self._writes.write(actor, None, Action.MANAGE_KEYS, None, command)

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
        return self._writes.write(actor, None, Action.CONCLUDE_AGREEMENT, None, command, exists)

    def party(self, party_id: str) -> Party:
        return self._aggregates.get(party_uuid(party_id), Party, f"party {party_id}")

    def agreement(self, agreement_id: str) -> Agreement:
        return self._aggregates.get(
            agreement_uuid(agreement_id), Agreement, f"agreement {agreement_id}"
        )

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

        return token, self._writes.write(actor, None, Action.GRANT_TOKEN, None, command)

    def authenticate(self, token: str) -> Actor:
        """The token's party and role, as of every event stored by any process up to now."""
        try:
            granted = self._aggregates.current(token_uuid(token_hash(token)), Token, "token")
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
        self_or_admin(actor, token.party, "revoke tokens of")

        def command(_: Signature, now: datetime) -> Aggregate:
            granted = self._aggregates.get(token.token_id, Token, f"token {token.token_id}")
            if granted.revoked:
                raise AlreadyExists(f"token {token.token_id} was revoked already")
            granted.revoke(actor=actor.party, now=now)
            return granted

        return self._writes.write(actor, None, Action.REVOKE_TOKEN, None, command)

    def _granted_token_ids(self) -> list[UUID]:
        notifications = self.recorder.select_notifications(
            start=None, limit=1_000_000, topics=[Token.Granted.TOPIC]
        )
        return [UUID(str(n.originator_id)) for n in notifications]

    def _token(self, token_id: UUID) -> TokenInfo:
        granted = self._aggregates.get(token_id, Token, f"token {token_id}")
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
            batched = self._writes.in_batch() and not self._writes.unstored(new_id)
            if batched and self._aggregates.exists(new_id):
                raise duplicate  # else the store refuses it (version 1 exists): `duplicate` too
            self._checks.no_look_alike(
                manufacturer, model, serial, new_id, self._writes.look_alikes()
            )
            terms = self._registry.agreement(agreement)
            if actor.role is Role.SUPPLIER and terms.supplier != actor.party:
                raise Unauthorised(
                    f"agreement {agreement} is {terms.supplier}'s, not {actor.party}'s"
                )
            self._registry.party(recipient)
            return Item.issue(
                item_id=new_id,
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
                report=Report(occurred_at, actor.party, signature, now),
            )

        duplicate = DuplicateItem(
            f"{manufacturer} {model} serial {serial!r} was issued already (item {new_id},"
            f" normal form {normalised!r})"
        )
        return self._writes.write(actor, via, Action.ISSUE, None, command, duplicate)

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
        def change(found: Item, report: Report) -> None:
            self._registry.party(to)
            found.transfer(
                to=to,
                from_holder=from_holder,
                authority=optional_text(authority, "authority"),
                report=report,
            )

        return self._change_item(item, Action.TRANSFER, actor, via, occurred_at, change)

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

        def change(found: Item, report: Report) -> None:
            found.receive(
                location=optional_text(location, "location"),
                condition=optional_text(condition, "condition"),
                report=report,
            )

        return self._change_item(item, Action.RECEIVE, actor, via, occurred_at, change)

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

        def change(found: Item, report: Report) -> None:
            if actor.role is Role.PARTNER and how is not InspectionMethod.SELF_REPORT:
                raise Unauthorised("a partner's own inspection is a self_report")
            self._registry.party(inspector or actor.party)
            self._checks.own(actor, inspector or actor.party, "inspections")
            self._checks.within_bound(found, "Inspected", actor, report.now)
            found.inspect(
                inspector=inspector or actor.party,
                result=member(InspectionResult, result, "result").value,
                method=how.value,
                observed_serial=_marking(observed_serial, "observed_serial"),
                location=optional_text(location, "location"),
                report=report,
            )

        return self._change_item(item, Action.INSPECT, actor, via, occurred_at, change)

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
        def change(found: Item, report: Report) -> None:
            found.report_lost(
                circumstances=member(LossCircumstances, circumstances, "circumstances").value,
                discovered_at=discovered_at,
                report=report,
            )

        return self._change_item(item, Action.REPORT_LOST, actor, via, occurred_at, change)

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
        def change(found: Item, report: Report) -> None:
            self._registry.party(by)
            self._checks.own(actor, by, "recoveries")
            found.recover(
                by=by,
                location=optional_text(location, "location"),
                condition=optional_text(condition, "condition"),
                report=report,
            )

        return self._change_item(item, Action.RECOVER, actor, via, occurred_at, change)

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
        def change(found: Item, report: Report) -> None:
            self._registry.party(observer)
            self._checks.own(actor, observer, "sightings")
            self._checks.within_bound(found, "Sighted", actor, report.now)
            found.sight(
                observer=observer,
                held_by=optional_text(held_by, "held_by"),
                location=clean_text(location, field="location"),
                serial_as_read=_marking(serial_as_read, "serial_as_read"),
                evidence=[sha256_hex(e) for e in evidence],
                report=report,
            )

        return self._change_item(item, Action.SIGHT, actor, via, occurred_at, change)

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
        def change(found: Item, report: Report) -> None:
            found.dispose(
                method=member(DisposalMethod, method, "method").value,
                certificate=optional_text(certificate, "certificate"),
                witnesses=[clean_text(w, field="witness") for w in witnesses],
                report=report,
            )

        return self._change_item(item, Action.DISPOSE, actor, via, occurred_at, change)

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

        def change(found: Item, report: Report) -> None:
            corrected = self._entry_of(found, entry)
            if (
                actor.role is not Role.ADMIN
                and decode_entry(corrected.entry)["actor"] != actor.party
            ):
                raise Unauthorised(f"entry {entry} was recorded by another party")
            found.correct(
                entry=entry,
                reason=clean_text(reason, field="reason", max_length=2000),
                report=report,
            )

        return self._change_item(item, Action.CORRECT, actor, via, occurred_at, change)

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
                observer=observer,
                location=clean_text(location, field="location"),
                held_by=optional_text(held_by, "held_by"),
                serial_as_read=_marking(serial_as_read, "serial_as_read"),
                manufacturer=optional_text(manufacturer, "manufacturer"),
                model=optional_text(model, "model"),
                lot=_marking(lot, "lot"),
                evidence=[sha256_hex(e) for e in evidence],
                report=Report(occurred_at, actor.party, signature, now),
            )

        return self._writes.write(actor, via, Action.SIGHT, None, command)

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
            matching = self._matching(seen.id, target, actor)
            self._writes.write(actor, None, Action.SIGHT, None, matching)
        appended = batch.receipt.newest(target)
        return Recorded(
            target, batch.pending[target].version, appended.log_index, self.tlog.note_of(appended)
        )

    def _matching(self, sighting_id: UUID, item_id: UUID, actor: Actor) -> Command:
        def command(_: Signature, now: datetime) -> Aggregate:
            found = self._aggregates.get(sighting_id, Sighting, f"sighting {sighting_id}")
            found.match(item_id=item_id, now=now, actor=actor.party)
            return found

        return command

    def sighting(self, sighting: UUID | str) -> Sighting:
        return self._aggregates.get(item_uuid(sighting), Sighting, f"sighting {sighting}")

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

        return self._writes.write(actor, None, Action.TRACE, None, command)

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

        return self._writes.write(actor, None, Action.ANSWER_TRACE, None, command)

    def trace(self, trace: UUID | str) -> Trace:
        return self._aggregates.get(item_uuid(trace), Trace, f"trace {trace}")

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

        return self._writes.write(actor, None, Action.COUNT, None, command)

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

        def change(found: Item, report: Report) -> None:
            found.inspect(
                inspector=actor.party,
                result=member(InspectionResult, result, "result").value,
                method=member(InspectionMethod, method, "method").value,
                observed_serial=_marking(observed_serial, "observed_serial"),
                location=optional_text(location, "location"),
                report=report,
            )

        return self._change_item(item, Action.COUNT, actor, None, occurred_at, change)

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
            raised = Conflict("raised")
            return self._writes.write(actor, None, Action.RAISE_FLAG, None, command, raised)
        except Conflict:
            return None  # raised by someone else meanwhile

    def resolve_flag(self, flag_id: UUID | str, *, reason: str, actor: Actor) -> Recorded:
        def command(_: Signature, now: datetime) -> Aggregate:
            flag = self._aggregates.get(item_uuid(flag_id), Flag, f"flag {flag_id}")
            flag.resolve(
                reason=clean_text(reason, field="reason", max_length=2000),
                now=now,
                actor=actor.party,
            )
            return flag

        return self._writes.write(actor, None, Action.RESOLVE_FLAG, None, command)

    def raised_flags(self) -> Iterator[Flag]:
        """Every flag ever raised, in the order they were raised."""
        start: int | None = None
        while page := self.recorder.select_notifications(
            start=start, limit=ITEM_PAGE, topics=[Flag.Raised.TOPIC], inclusive_of_start=False
        ):
            for n in page:
                yield self._aggregates.get(UUID(str(n.originator_id)), Flag, "flag")
            start = page[-1].id

    def flag(self, flag_id: UUID) -> Flag | None:
        try:
            return self._aggregates.get(flag_id, Flag, f"flag {flag_id}")
        except NotFound:
            return None

    # Items: reads --------------------------------------------------------------------------------

    def item(self, item: UUID | str) -> Item:
        return self._aggregates.get(item_uuid(item), Item, f"item {item}")

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

    def facts_of_items(self, items: Sequence[UUID]) -> dict[UUID, list[Fact]]:
        """`facts` of each of these items, read in two queries for 500 items instead of two
        each: their stored events, then their log indexes (which then cover every event read:
        an event and its entry are stored in one transaction)."""
        stored = self.log_store.stored_events_of(items)
        indexes = self.log_store.log_indexes_of_each(items)
        found: dict[UUID, list[Fact]] = {}
        for item in items:
            events = [self.mapper.to_domain_event(event) for event in stored.get(item, ())]
            if not events or not isinstance(events[0], Item.Issued):
                raise NotFound(f"item {item} not found")
            found[item] = facts_of(events, indexes.get(item, {}))
        return found

    def history(self, item: UUID | str) -> list[LogRow]:
        """Every log entry of the item, oldest first, with its exact bytes."""
        return self.log_store.log_entries_of(self.item(item).id)

    def evidence(self, item: UUID | str) -> dict[str, Any]:
        """The item's evidence bundle against the latest checkpoint (signed now if the log grew)."""
        return self.tlog.bundle(self.item(item).id)

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

    def _change_item(
        self,
        item: UUID | str,
        action: Action,
        actor: Actor,
        via: Submitted | None,
        occurred_at: datetime | None,
        change: ItemChange,
    ) -> Recorded:
        """The one shape of an item's command: the item, if this actor may do `action` to it (a
        partner only to what it holds); the change, which the item decides, reported as of
        `occurred_at` (None: now); the write."""

        def command(signature: Signature, now: datetime) -> Aggregate:
            found = self._checks.may_act_on(actor, action, self.item(item))
            change(found, Report(occurred_at or now, actor.party, signature, now))
            return found

        return self._writes.write(actor, via, action, item, command)

    def _entry_of(self, item: Item, log_index: int) -> LogRow:
        for row in self.log_store.log_entries_of(item.id):
            if row.log_index == log_index:
                return row
        raise InvalidInput(f"log entry {log_index} is not an entry of item {item.id}")


def _marking(value: str | None, field: str) -> str | None:
    """A serial as read, kept as written: refused where the normal form refuses it
    (invisible, format, control characters; no letter or digit). `?` marks what was unreadable."""
    return None if value is None else check_marking(value, field=field, max_length=MAX_TEXT)


def _token_uuid(token_id: UUID | str) -> UUID:
    try:
        return token_id if isinstance(token_id, UUID) else UUID(token_id)
    except ValueError:
        raise InvalidInput(f"token id {token_id!r} is not a UUID") from None
