"""The write path: every write of the Ledger goes this one way (`WritePath.write`).

1. The actor's role must allow the action.
2. The signature, if the request is signed (or must be: `signed_roles`), is checked against the
   party's key valid now, before a replay answers, so a replay is not an oracle.
3. A replayed request (a nonce this party used already, for the same bytes) gets its first answer.
4. The command decides: it reads what it changes fresh (ledger/application/aggregates.py) and
   answers the changed aggregate.
5. The aggregate is saved with its nonce in one transaction; a conflict with a write recorded
   meanwhile is `Conflict` (or the first answer, if it was the same request).

Inside `batch()` the writes are decided one by one, each seeing the ones before it, and saved
together when the block ends. Every write answers a `Recorded`, with its receipt.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, ProgrammingError

from ledger.application.aggregates import Aggregates, of_kind
from ledger.domain.access import SIGNABLE, Action, Actor
from ledger.domain.errors import Conflict, CustodyError, NotFound, RuleViolation, Unauthorised
from ledger.domain.fields import item_uuid
from ledger.domain.ids import party_uuid
from ledger.domain.nonces import Nonce, nonce_uuid
from ledger.domain.parties import Party
from ledger.domain.tokens import Role
from ledger.integrity.submissions import Submitted, check_claims, verify_signed
from ledger.store.dialect import BUSY
from ledger.store.log import Appended, LogStore, Receipt
from ledger.store.serials import Issue, Marking

Clock = Callable[[], datetime]
Signature = dict[str, str] | None
Command = Callable[[Signature, datetime], Aggregate]
"""(the verified signature or None, now) -> the aggregate the command changed or created."""


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
    unused: frozenset[UUID] = frozenset()
    """Nonces found unused when the block began (`Ledger.batch(nonces=...)`)."""
    unstored: frozenset[UUID] = frozenset()
    """Aggregates found without a log entry when the block began (`Ledger.batch(issues=...)`)."""
    look_alikes: Mapping[Issue, Marking | None] = field(default_factory=dict)
    """The serial index's answer for the issues the block will make, when it began."""

    def add(self, aggregate: Aggregate, nonce: Nonce | None) -> Recorded:
        self.pending[aggregate.id] = aggregate
        if nonce is not None:
            self.nonces.append(nonce)
        self.writes += 1
        return Recorded(aggregate.id, aggregate.version, -1)


class Batches:
    """The batch this thread has open, if any (one at a time per thread)."""

    def __init__(self) -> None:
        self._local = threading.local()

    @property
    def open(self) -> Batch | None:
        batch: Batch | None = getattr(self._local, "batch", None)
        return batch

    @open.setter
    def open(self, batch: Batch | None) -> None:
        self._local.batch = batch

    def pending(self, aggregate_id: UUID) -> Aggregate | None:
        """The aggregate as the open batch holds it (not stored yet); None outside a batch."""
        batch = self.open
        return batch.pending.get(aggregate_id) if batch is not None else None


class Save(Protocol):
    def __call__(self, *objs: Aggregate | None, receipt: Receipt) -> object:
        """The application's save: the aggregates' new events and the nonce, in one transaction."""


class Receipts(Protocol):
    def receipt(self, log_index: int) -> str:
        """The receipt of the stored entry at `log_index`."""

    def note_of(self, appended: Appended) -> str:
        """The receipt of an entry this process appended."""


class WritePath:
    def __init__(
        self,
        *,
        save: Save,
        clock: Clock,
        origin: str,
        signed_roles: frozenset[Role],
        aggregates: Aggregates,
        batches: Batches,
        log_store: LogStore,
        receipts: Receipts,
    ) -> None:
        self._save_all, self.clock, self.origin = save, clock, origin
        self.signed_roles = signed_roles
        self.aggregates, self.batches = aggregates, batches
        self.log_store, self.receipts = log_store, receipts

    def write(
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
        signature = self.signature(actor, via, action, item, now)  # before a replay answers
        batch = self.batches.open
        unused = batch is not None and via is not None and self._unused(batch, actor, via)
        replayed = None if unused else self._replayed(actor, via)
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
        if batch is not None:
            return batch.add(aggregate, nonce)
        return self.save(aggregate, nonce, exists, lambda: self._replayed(actor, via))

    @contextmanager
    def batch(
        self,
        *,
        nonces: Iterable[tuple[str, str]] = (),
        new: Iterable[UUID] = (),
        look_alikes: Mapping[Issue, Marking | None] | None = None,
    ) -> Iterator[Batch]:
        """Writes inside the block are decided one by one, each seeing the ones before it, and
        saved together in one transaction when the block ends: all of them, or none (an error in
        the block, or a conflict at the end). Inside, writes answer log_index -1; the batch's
        `receipt` has the real ones afterwards. One batch at a time per thread. `nonces`, the
        (party, nonce) pairs the block's writes will carry, are looked up in one query here
        instead of one each; one used meanwhile by another writer makes the batch a Conflict,
        as any write recorded meanwhile does. `new`, the ids of aggregates the block will create,
        are looked up in the same query, so that `unstored` answers for them without one;
        `look_alikes`, answered ahead for the issues of the block, are kept for `look_alikes`."""
        if self.batches.open is not None:
            raise ProgrammingError("batches do not nest")
        expected = [nonce_uuid(party, nonce) for party, nonce in nonces]
        created = list(new)
        logged = self.log_store.logged(expected + created)
        batch = self.batches.open = Batch(
            unused=frozenset(expected) - logged,
            unstored=frozenset(created) - logged,
            look_alikes=look_alikes or {},
        )
        try:
            yield batch
        finally:
            self.batches.open = None
        self._save_batch(batch)

    def in_batch(self) -> bool:
        return self.batches.open is not None

    def unstored(self, aggregate_id: UUID) -> bool:
        """Whether the open batch found no log entry of this aggregate when it began and holds
        none of its own: it does not exist, without a query. False when not known."""
        batch = self.batches.open
        return (
            batch is not None
            and aggregate_id in batch.unstored
            and aggregate_id not in batch.pending
        )

    def look_alikes(self) -> Mapping[Issue, Marking | None]:
        """The look-alike checks the open batch answered when it began (none outside one)."""
        batch = self.batches.open
        return batch.look_alikes if batch is not None else {}

    def save(
        self,
        aggregate: Aggregate,
        nonce: Nonce | None = None,
        exists: CustodyError | None = None,
        replay: Callable[[], Recorded | None] = lambda: None,
    ) -> Recorded:
        """Save one aggregate (and its nonce) now, outside any batch."""
        receipt = Receipt()
        try:
            self._save_all(aggregate, nonce, receipt=receipt)
        except IntegrityError:
            replayed = replay() if nonce is not None else None  # the same request, concurrently
            if replayed is not None:
                return replayed
            raise exists or Conflict(
                f"another write to {aggregate.id} was recorded first; read it again and retry"
            ) from None
        except BUSY as error:
            # PostgreSQL's pipeline may report the same request's nonce, stored meanwhile by
            # another process, as "pipeline aborted" rather than as the unique violation it is
            replayed = replay() if nonce is not None else None
            if replayed is not None:
                return replayed
            raise Conflict(f"the store is busy ({error}); retry") from None
        appended = receipt.newest(aggregate.id)
        return Recorded(
            aggregate.id, aggregate.version, appended.log_index, self.receipts.note_of(appended)
        )

    def signature(
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

    def _save_batch(self, batch: Batch) -> None:
        if not batch.pending:
            return
        try:
            self._save_all(*batch.pending.values(), *batch.nonces, receipt=batch.receipt)
        except IntegrityError:
            raise Conflict(
                "the batch met a write recorded meanwhile; nothing of it was stored, retry it"
            ) from None
        except BUSY as error:
            raise Conflict(
                f"the store is busy ({error}); nothing of the batch was stored"
            ) from None

    @staticmethod
    def _unused(batch: Batch, actor: Actor, via: Submitted) -> bool:
        return nonce_uuid(actor.party, via.nonce) in batch.unused

    def _replayed(self, actor: Actor, via: Submitted | None) -> Recorded | None:
        """The first answer to a request whose nonce this party used already; None if new."""
        if via is None:
            return None
        try:
            used = self.aggregates.load(nonce_uuid(actor.party, via.nonce), Nonce, "nonce")
        except NotFound:
            return None
        if used.digest != via.digest:
            raise Conflict(f"nonce {via.nonce} was used already, for another request")
        index = self.log_store.log_indexes_of(used.aggregate_id)[used.aggregate_version]
        return Recorded(
            used.aggregate_id, used.aggregate_version, index, self.receipts.receipt(index)
        )

    def _signer_of(self, party: str) -> Party:
        """The party with its keys as of now: registered or revoked by any process, or earlier in
        this batch."""
        party_id, what = party_uuid(party), f"party {party}"
        pending = self.batches.pending(party_id)
        if pending is not None:
            return of_kind(pending, Party, what)
        return self.aggregates.current(party_id, Party, what)
