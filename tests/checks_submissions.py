"""A partner's key and its own signed report: the key registered by the operator and the
self-reported inspection signed with it, which the evidence, plain-verify, completeness and
key-endorsement tests record."""

from __future__ import annotations

import base64
from datetime import datetime
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.application.ledger import Ledger, Recorded
from ledger.domain.access import Actor
from ledger.domain.times import format_time
from ledger.domain.tokens import Role
from ledger.integrity.endorsements import prove_key
from ledger.integrity.submissions import Submission, Submitted, key_id
from tests.programme import ADMIN

UNIT_2_KEY = Ed25519PrivateKey.from_private_bytes(b"\x09" * 32)
"""unit-2's key in the evidence and plain-verify histories, registered for it by the operator."""


def registered_by_the_operator(ledger: Ledger, party: str, key: Ed25519PrivateKey) -> str:
    """`key` registered for `party` by the operator, with the proof of possession that
    `prove_key` makes and that carries the key's public bytes; the key's id."""
    public = base64.b64encode(key.public_key().public_bytes_raw()).decode()
    proved = prove_key(key, origin=ledger.origin, party=party)
    assert proved["public_key"] == public
    registered, _ = ledger.register_key(party=party, actor=ADMIN, **proved)
    return registered


def self_reported_inspection(
    ledger: Ledger,
    item: UUID,
    *,
    party: str,
    key: Ed25519PrivateKey,
    nonce: str,
    occurred_at: datetime,
) -> Recorded:
    """`party` reports `item` verified by itself at `occurred_at`, and signs what it says with
    `key`; the ledger records it as the partner's inspection."""
    body = {"result": "verified", "method": "self_report", "occurred_at": format_time(occurred_at)}
    signer = key_id(key.public_key().public_bytes_raw())
    signed = Submission(ledger.origin, party, signer, "inspect", str(item), nonce, body)
    return ledger.inspect(
        item,
        result="verified",
        method="self_report",
        occurred_at=occurred_at,
        actor=Actor(party, Role.PARTNER),
        via=Submitted.from_signed(signed.sign(key)),
    )


def unit_2_reports_itself(ledger: Ledger, item: UUID, occurred_at: datetime) -> Recorded:
    """unit-2's self-reported inspection of `item`, signed with `UNIT_2_KEY`, as the evidence and
    plain-verify histories record it."""
    return self_reported_inspection(
        ledger,
        item,
        party="unit-2",
        key=UNIT_2_KEY,
        nonce="nonce-0001-abcdef",
        occurred_at=occurred_at,
    )
