"""How the Ledger reads aggregates, in three ways:

- `get`: a fresh copy to change, as the current batch left it or else as stored (commands);
- `load`: as stored, replayed from its events (the registry's facts, a nonce);
- `current`: as stored, for reading only, from the library's aggregate cache fast-forwarded on
  every call (the events after the cached version are read first), so a token's or a key's
  revocation stored by any process counts at once. Shared between calls and threads, not copied:
  never change what it answers.

A batch (ledger/application/writes.py) holds what it decided but has not stored yet; `pending`
answers it, and `get` reads it before the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore

from ledger.application.registry import Pending
from ledger.domain.errors import NotFound

CURRENT_CACHE_SIZE = 10_000
"""How many tokens, parties and map roots `Aggregates.current` keeps (the library's LRU cache)."""
A = TypeVar("A", bound=Aggregate)


class Aggregates:
    def __init__(
        self, repository: Repository[UUID], events: EventStore[UUID], pending: Pending
    ) -> None:
        self._repository = repository
        self._shared: Repository[UUID] = Repository(
            events,
            cache_maxsize=CURRENT_CACHE_SIZE,
            fastforward=True,
            deepcopy_from_cache=False,
        )
        self.pending = pending

    def get(self, aggregate_id: UUID, kind: type[A], what: str) -> A:
        """The aggregate as this batch left it, else as stored: a fresh copy to change."""
        pending = self.pending(aggregate_id)
        if pending is None:
            return self.load(aggregate_id, kind, what)
        return of_kind(pending, kind, what)

    def load(self, aggregate_id: UUID, kind: type[A], what: str) -> A:
        """The aggregate as stored, replayed from its events."""
        return of_kind(_found(self._repository, aggregate_id, what), kind, what)

    def current(self, aggregate_id: UUID, kind: type[A], what: str) -> A:
        """The aggregate as stored, for reading only (the module's docstring: never change it)."""
        return of_kind(_found(self._shared, aggregate_id, what), kind, what)

    def exists(self, aggregate_id: UUID) -> bool:
        try:
            self.get(aggregate_id, Aggregate, "aggregate")
        except NotFound:
            return False
        return True


def of_kind(found: object, kind: type[A], what: str) -> A:
    """`found` if it is a `kind`; NotFound (as `what`) if not."""
    if not isinstance(found, kind):
        raise NotFound(f"{what} not found")
    return found


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
