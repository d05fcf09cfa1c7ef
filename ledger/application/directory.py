"""The registry as lists: every party and every agreement, in the order they were registered, so
that a new user can discover the ids to use (`GET /v1/parties`, `custody parties`). Everyone may
read them (ledger/application/scope.py: party and agreement entries are public to every role)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.application.ledger import ITEM_PAGE, Ledger
from ledger.domain.parties import Agreement, Party

A = TypeVar("A", bound=Aggregate)


def parties(ledger: Ledger) -> list[Party]:
    return list(_registered(ledger, Party.Registered.TOPIC, Party))


def agreements(ledger: Ledger) -> list[Agreement]:
    return list(_registered(ledger, Agreement.Concluded.TOPIC, Agreement))


def _registered(ledger: Ledger, topic: str, kind: type[A]) -> Iterator[A]:
    start: int | None = None
    while page := ledger.recorder.select_notifications(
        start=start, limit=ITEM_PAGE, topics=[topic], inclusive_of_start=False
    ):
        for notification in page:
            found: Aggregate = ledger.repository.get(UUID(str(notification.originator_id)))
            if isinstance(found, kind):
                yield found
        start = page[-1].id
