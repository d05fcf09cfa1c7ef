"""The base of every event the ledger records: when it happened, who reported it, and how signed."""

from __future__ import annotations

from datetime import datetime

from eventsourcing.domain import Aggregate

Signature = dict[str, str] | None
"""A signed submission's signature as an entry keeps it, or None for an unsigned write."""


class Reported(Aggregate.Event):
    """`occurred_at` is field time (given by the reporter); the library's `timestamp` is the
    recording time.

    `actor` is the party id of whoever recorded the event; `signature` is their signature over the
    submission, if they signed it (base64), else None.
    """

    occurred_at: datetime
    actor: str
    signature: dict[str, str] | None
