"""A party's keys: how a new one is endorsed, and the history of every key ever registered for it
(`custody keys history --party P`, docs/signing.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ledger.domain.bounds import Bounds
from ledger.domain.errors import InvalidInput, LimitExceeded, Unauthenticated, Unauthorised
from ledger.domain.parties import Party
from ledger.integrity.endorsements import Endorsement, check_signature


def endorse_key(
    party: Party,
    now: datetime,
    message: bytes,
    endorsed_by: str | None,
    endorsement: str | None,
    bounds: Bounds,
) -> Endorsement:
    """How a new key of `party` is endorsed: by a signature of one of its active keys (a
    rotation), or by no one (an operator-registered key), allowed only when it has no active key."""
    active = party.active_keys(now)
    if len(active) >= bounds.max_active_keys:
        raise LimitExceeded(
            f"party {party.party_id} has {len(active)} active keys, the most allowed"
            f" ({bounds.max_active_keys}); revoke one first"
        )
    if endorsed_by is None and endorsement is None:
        if active:
            names = ", ".join(k.key_id for k in active)
            raise Unauthorised(
                f"party {party.party_id} has active keys ({names}): a new key must be endorsed"
                " by a signature of one of them (endorsed_by, endorsement)"
            )
        return Endorsement.OPERATOR
    if endorsed_by is None or endorsement is None:
        raise InvalidInput("give both endorsed_by and endorsement, or neither")
    key = next((k for k in active if k.key_id == endorsed_by), None)
    if key is None:
        raise Unauthenticated(f"key {endorsed_by} is not an active key of party {party.party_id}")
    check_signature(key.public_key, endorsement, message, what="endorsement")
    return Endorsement.ROTATION


@dataclass(frozen=True)
class KeyRecord:
    """One key of a party as its history shows it."""

    key_id: str
    public_key: str
    log_index: int
    registered_at: datetime
    registered_by: str
    endorsement: str
    endorsed_by: str | None
    confirmed_at: datetime | None = None
    revoked_at: datetime | None = None
    revocation_reason: str | None = None

    @property
    def how(self) -> str:
        """How it is endorsed, in words."""
        if self.endorsement == Endorsement.ROTATION:
            return f"endorsed by key {self.endorsed_by}"
        if self.confirmed_at is not None:
            return "operator-registered, confirmed by the party"
        return "operator-registered, not confirmed by the party"


def key_records(events: Sequence[Any], log_indexes: Mapping[int, int]) -> list[KeyRecord]:
    """The party's key events folded into one record per key, in the order registered."""
    records: dict[str, KeyRecord] = {}
    for event in events:
        if isinstance(event, Party.KeyRegistered):
            records[event.key_id] = KeyRecord(
                event.key_id,
                event.public_key,
                log_indexes[event.originator_version],
                event.occurred_at,
                event.actor,
                event.endorsement or Endorsement.OPERATOR.value,
                event.endorsed_by,
            )
        elif isinstance(event, Party.KeyConfirmed):
            records[event.key_id] = replace(records[event.key_id], confirmed_at=event.occurred_at)
        elif isinstance(event, Party.KeyRevoked):
            records[event.key_id] = replace(
                records[event.key_id], revoked_at=event.occurred_at, revocation_reason=event.reason
            )
    return list(records.values())
