"""A party's own report, signed: the self-reported inspection that the evidence, plain-verify,
completeness and key-endorsement tests record through a partner's registered key."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.application.ledger import Ledger, Recorded
from ledger.domain.access import Actor
from ledger.domain.times import format_time
from ledger.domain.tokens import Role
from ledger.integrity.submissions import Submission, Submitted


def self_reported_inspection(
    ledger: Ledger,
    item: UUID,
    *,
    party: str,
    key: Ed25519PrivateKey,
    key_id: str,
    nonce: str,
    occurred_at: datetime,
) -> Recorded:
    """`party` reports `item` verified by itself at `occurred_at`, and signs what it says with
    `key`, registered as `key_id`; the ledger records it as the partner's inspection."""
    body = {"result": "verified", "method": "self_report", "occurred_at": format_time(occurred_at)}
    signed = Submission(ledger.origin, party, key_id, "inspect", str(item), nonce, body)
    return ledger.inspect(
        item,
        result="verified",
        method="self_report",
        occurred_at=occurred_at,
        actor=Actor(party, Role.PARTNER),
        via=Submitted.from_signed(signed.sign(key)),
    )
