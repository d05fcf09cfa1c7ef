"""Idempotency: a `Nonce` aggregate per (party, nonce), saved in the same transaction as the
write it belongs to. The same request sent twice finds its nonce taken and gets the first answer
back; a different request under a used nonce is refused. Nonces are log entries too."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.domain.events import LedgerAggregate, Report, Reported
from ledger.domain.ids import NAMESPACE

NONCE_CACHE = 4096


@lru_cache(maxsize=NONCE_CACHE)
def nonce_uuid(party: str, nonce: str) -> UUID:
    """Derived three times for each write of a batch (looked up, checked unused, used)."""
    return uuid5(NAMESPACE, f"nonce:{party}:{nonce}")


class Nonce(LedgerAggregate):
    TOPIC = "custody:Nonce"

    class Created(Reported, Aggregate.Created):
        TOPIC = "custody:Nonce.Created"

    class Used(Created):
        TOPIC = "custody:Nonce.Used"
        party: str
        nonce: str
        digest: str
        aggregate_id: str
        aggregate_version: int

        def apply(self, nonce: Nonce) -> None:
            nonce.digest = self.digest
            nonce.aggregate_id = UUID(self.aggregate_id)
            nonce.aggregate_version = self.aggregate_version

    digest: str
    aggregate_id: UUID
    aggregate_version: int

    def __init__(self) -> None:
        """State is assigned by Used.apply."""

    @classmethod
    def use(
        cls, *, party: str, nonce: str, digest: str, aggregate: Aggregate, now: datetime
    ) -> Nonce:
        return cls._create_reported(
            cls.Used,
            nonce_uuid(party, nonce),
            Report.unsigned(party, now),
            party=party,
            nonce=nonce,
            digest=digest,
            aggregate_id=str(aggregate.id),
            aggregate_version=aggregate.version,
        )
