"""Point in time: an item's custody at field time `at`, as the ledger knew it at recording time
`known_at`.

Events may be recorded late (a loss found months after it happened) and out of field order. So the
replay takes the events recorded by `known_at`, keeps those that occurred by `at`, orders them by
field time (then by version), and folds them with the events' own `apply` methods, which only assign
state and never judge: contradictions are for the policies to flag, not for the replay to refuse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.domain.errors import NotFound
from ledger.domain.items import Item, Status
from ledger.domain.times import aware_utc, format_time


@dataclass(frozen=True)
class CustodyState:
    item_id: UUID
    at: datetime
    known_at: datetime | None
    holder: str
    status: Status
    last_event_at: datetime
    log_indexes: tuple[int, ...]
    """The entries the answer rests on, in the order they were applied."""


def custody_at(
    events: Sequence[Any],
    *,
    at: datetime,
    known_at: datetime | None,
    log_indexes: Mapping[int, int],
) -> CustodyState:
    at = aware_utc(at, field="at")
    known = aware_utc(known_at, field="known_at") if known_at is not None else None
    chosen = [e for e in events if (known is None or e.timestamp <= known) and e.occurred_at <= at]
    issued = [e for e in chosen if isinstance(e, Item.Issued)]
    if not issued:
        raise NotFound(_not_yet_issued(events, at, known))
    item = issued[0].mutate(None)
    assert isinstance(item, Item)
    rest = sorted((e for e in chosen if e is not issued[0]), key=_field_order)
    for event in rest:
        event.apply(item)
    applied = [issued[0], *rest]
    return CustodyState(
        item_id=item.id,
        at=at,
        known_at=known,
        holder=item.holder,
        status=item.status,
        last_event_at=applied[-1].occurred_at,
        log_indexes=tuple(log_indexes[e.originator_version] for e in applied),
    )


def _field_order(event: Any) -> tuple[datetime, int]:
    return (event.occurred_at, event.originator_version)


def _not_yet_issued(events: Sequence[Any], at: datetime, known: datetime | None) -> str:
    return not_issued(events[0].originator_id if events else "?", at, known)


def not_issued(item_id: object, at: datetime, known: datetime | None) -> str:
    """The refusal of custody before the issue (as known then), worded once for every reader."""
    message = f"item {item_id} had not been issued by {format_time(at)}"
    if known is not None:
        message += f" as known at {format_time(known)}"
    return message


@dataclass(frozen=True)
class Fact:
    """One event of an item as plain data, with the entry that records it: what policies read."""

    kind: str
    occurred_at: datetime
    recorded_at: datetime
    log_index: int
    actor: str
    fields: Mapping[str, Any]


def facts_of(events: Sequence[Any], log_indexes: Mapping[int, int]) -> list[Fact]:
    """The item's events as facts, in recording (version) order."""
    standard = {
        "originator_id",
        "originator_version",
        "originator_topic",
        "timestamp",
        "occurred_at",
        "actor",
        "signature",
    }
    return [
        Fact(
            kind=type(e).__name__,
            occurred_at=e.occurred_at,
            recorded_at=e.timestamp,
            log_index=log_indexes[e.originator_version],
            actor=e.actor,
            fields={k: v for k, v in vars(e).items() if k not in standard},
        )
        for e in events
    ]
