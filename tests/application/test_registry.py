"""The registry keeps in memory only what never changes (ledger/application/registry.py): these
tests fail if
an event that could change a kept fact is added, or if the registry keeps an absence or a party
that is not stored yet."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate

from ledger.application.registry import Registration, Registry
from ledger.domain.errors import NotFound
from ledger.domain.ids import party_uuid
from ledger.domain.parties import Agreement, Party

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def events_of(aggregate: type[Aggregate]) -> set[str]:
    """The event classes the aggregate defines (not `Event`, the base the library gives each)."""
    return {
        name
        for name, value in vars(aggregate).items()
        if isinstance(value, type)
        and issubclass(value, Aggregate.Event)
        and value is not aggregate.Event
    }


def party(party_id: str, parent: str | None = None) -> Party:
    return Party.register(
        party_id=party_id,
        now=NOW,
        name=party_id,
        kind="recipient",
        parent=parent,
        actor="operator",
        signature=None,
    )


class Store:
    """A stand-in for the ledger's store that counts its loads."""

    def __init__(self, *stored: Aggregate) -> None:
        self.stored = {a.id: a for a in stored}
        self.pending: dict[UUID, Aggregate] = {}
        self.loads = 0

    def load(self, aggregate_id: UUID, kind: type[Any], what: str) -> Any:
        self.loads += 1
        found = self.stored.get(aggregate_id)
        if not isinstance(found, kind):
            raise NotFound(f"{what} not found")
        return found

    def registry(self) -> Registry:
        return Registry(self.load, self.pending.get)


def test_an_agreement_has_no_event_after_the_one_that_concludes_it() -> None:
    assert events_of(Agreement) == {"Created", "Concluded"}


def test_a_partys_later_events_change_only_its_keys() -> None:
    unit = party("unit-1", parent="force")
    registered = Registration.of(unit)

    unit.register_key(key_id="k1", public_key="AAAA", now=NOW, actor="operator")
    unit.confirm_key(key_id="k1", confirmation="AAAA", now=NOW, actor="unit-1")
    unit.revoke_key(key_id="k1", revoked_at=NOW, reason="lost", now=NOW, actor="operator")

    assert events_of(Party) == {
        "Created",
        "Registered",
        "KeyRegistered",
        "KeyConfirmed",
        "KeyRevoked",
    }
    assert Registration.of(unit) == registered == Registration("unit-1", unit.kind, "force")


def test_a_registration_is_read_from_the_store_once() -> None:
    store = Store(party("unit-1"))
    registry = store.registry()

    found = [registry.party("unit-1") for _ in range(3)]

    assert found == [Registration("unit-1", found[0].kind, None)] * 3
    assert store.loads == 1


def test_a_party_not_found_is_looked_for_again() -> None:
    store = Store()
    registry = store.registry()
    with pytest.raises(NotFound, match="party newcomer not found"):
        registry.party("newcomer")

    store.stored[party_uuid("newcomer")] = party("newcomer")

    assert registry.party("newcomer").party_id == "newcomer"
    assert store.loads == 2


def test_a_party_a_batch_holds_is_found_but_not_kept() -> None:
    store = Store()
    registry = store.registry()
    store.pending[party_uuid("ghost")] = party("ghost")
    assert registry.party("ghost").party_id == "ghost"

    store.pending.clear()  # the batch failed

    with pytest.raises(NotFound, match="party ghost not found"):
        registry.party("ghost")
