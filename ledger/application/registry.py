"""The registry's facts that never change, kept in memory: that a party exists, its kind and its
parent, and the end-use agreements. Every write checks some of them (the recipient of an issue, the
receiver of a transfer, the inspector, the agreement), and reading them from the store each time
was much of the difference between the Ledger's writes and a plain application's
(docs/performance.md).

Why a cache of our own, and why it is safe with several processes on one store:

- What it keeps is assigned only by the event that creates the aggregate. `Party.Registered` sets
  `party_id`, `kind` and `parent`; the party's later events (`KeyRegistered`, `KeyRevoked`) touch
  only its keys, which are not kept here. `Agreement.Concluded` is an agreement's only event. So a
  fact read once from the store is the fact forever, whichever process wrote what since
  (tests/application/test_registry.py fails if an event that could change them is added).
- Only what was found in the store is kept, never an absence: a party another process registers
  is found on the next lookup. Nor what a `Ledger.batch` holds but has not stored yet: the batch may
  still fail, so those are looked up in the batch each time (`pending`) and never kept.
- What must be current is not kept here: a party's keys and a bearer token are read through the
  library's own aggregate cache with fast-forward (`Aggregates.current`,
  ledger/application/aggregates.py), which reads every newer event first, so a revocation
  committed by any process counts from that moment.

Parties and agreements are few (a programme has thousands, not millions), so nothing is evicted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain.ids import agreement_uuid, party_uuid
from ledger.domain.parties import Agreement, Party, PartyKind

A = TypeVar("A", bound=Aggregate)
F = TypeVar("F")


class Load(Protocol):
    def __call__(self, aggregate_id: UUID, kind: type[A], what: str) -> A:
        """The stored aggregate; NotFound if there is none of that class."""


Pending = Callable[[UUID], Aggregate | None]
"""id -> the aggregate as the current batch holds it, not stored yet; None outside a batch."""


@dataclass(frozen=True)
class Registration:
    """A party as its registration made it: these never change."""

    party_id: str
    kind: PartyKind
    parent: str | None

    @classmethod
    def of(cls, party: Party) -> Registration:
        return cls(party.party_id, party.kind, party.parent)


@dataclass(frozen=True)
class Terms:
    """An end-use agreement, complete: it has no event after the one that concludes it."""

    agreement_id: str
    supplier: str
    programme: str
    authorized_holders: tuple[str, ...]

    @classmethod
    def of(cls, agreement: Agreement) -> Terms:
        return cls(
            agreement.agreement_id,
            agreement.supplier,
            agreement.programme,
            tuple(agreement.authorized_holders),
        )


class Registry:
    def __init__(self, load: Load, pending: Pending) -> None:
        self._load, self._pending = load, pending
        self._parties: dict[str, Registration] = {}
        self._agreements: dict[str, Terms] = {}

    def party(self, party_id: str) -> Registration:
        """The party's registration; NotFound if it is not registered."""
        key, what = party_uuid(party_id), f"party {party_id}"
        return self._kept(self._parties, party_id, key, Party, what, Registration.of)

    def agreement(self, agreement_id: str) -> Terms:
        """The agreement's terms; NotFound if there is no such agreement."""
        key, what = agreement_uuid(agreement_id), f"agreement {agreement_id}"
        return self._kept(self._agreements, agreement_id, key, Agreement, what, Terms.of)

    def _kept(
        self,
        kept: dict[str, F],
        name: str,
        key: UUID,
        kind: type[A],
        what: str,
        fact: Callable[[A], F],
    ) -> F:
        """The fact kept for `name`; else from the batch (not kept: it may fail), else from the
        store (kept)."""
        found = kept.get(name)
        if found is not None:
            return found
        pending = self._pending(key)
        if isinstance(pending, kind):
            return fact(pending)
        found = kept[name] = fact(self._load(key, kind, what))
        return found
