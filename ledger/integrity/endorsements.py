"""Keys the party endorsed (docs/signing.md, section 1).

A key registration carries a **proof of possession**: the new key's Ed25519 signature over the
registration message, the canonical JSON (ledger/integrity/entries.py rules) of

    {"format": "custody-key-registration/v1", "origin": <the log's origin>, "party": <party id>,
     "key_id": <hex id of the new key>, "public_key": <its standard base64>}

A party that has an active key must also **endorse** the new one: a signature over the same bytes
by one of its active keys (a rotation). A key registered without an endorsement (a party's first
key, or one an admin registers after all of a party's keys were revoked) is **operator-registered**:
the operator, or whoever held the party's token, could have made it. Signatures by it are reported
as such (verify-evidence, the timeline) until the party **confirms** the key: a signature by the key
over the confirmation message, recorded with the party's own token,

    {"format": "custody-key-confirmation/v1", "origin": ..., "party": ..., "key_id": ...}
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.domain.errors import InvalidInput, Unauthenticated
from ledger.integrity.entries import canonical_json
from ledger.integrity.signing import decode_base64
from ledger.integrity.submissions import decode_public_key, key_id

REGISTRATION_FORMAT = "custody-key-registration/v1"
CONFIRMATION_FORMAT = "custody-key-confirmation/v1"


class Endorsement(StrEnum):
    OPERATOR = "operator"
    """Registered without a signature by an existing key of the party: the party's word is not
    on it until it confirms the key."""
    ROTATION = "rotation"
    """Endorsed by a signature of one of the party's active keys."""


def registration_bytes(*, origin: str, party: str, public_key: str) -> bytes:
    """The bytes a new key's proof of possession, and an endorsing key, sign."""
    return canonical_json(
        {
            "format": REGISTRATION_FORMAT,
            "origin": origin,
            "party": party,
            "key_id": key_id(decode_public_key(public_key)),
            "public_key": public_key,
        }
    )


def confirmation_bytes(*, origin: str, party: str, key: str) -> bytes:
    """The bytes a key signs to confirm that the party itself holds it."""
    return canonical_json(
        {"format": CONFIRMATION_FORMAT, "origin": origin, "party": party, "key_id": key}
    )


def check_signature(public_key: str, unverified_signature: str, data: bytes, *, what: str) -> None:
    """Raise Unauthenticated unless the signature (base64) is the key's over `data`."""
    try:
        signature = decode_base64(unverified_signature, what=what)
    except InvalidInput:
        raise Unauthenticated(f"the {what} is not base64") from None
    try:
        raw = base64.b64decode(public_key)
        Ed25519PublicKey.from_public_bytes(raw).verify(signature, data)
    except (InvalidSignature, ValueError):
        raise Unauthenticated(
            f"the {what} does not verify with key {key_id(base64.b64decode(public_key))}"
        ) from None


@dataclass(frozen=True)
class KeyProof:
    """What a registration request carries beside the public key."""

    proof: str
    endorsed_by: str | None = None
    endorsement: str | None = None


def prove_key(
    new_key: Ed25519PrivateKey,
    *,
    origin: str,
    party: str,
    endorsing_key: Ed25519PrivateKey | None = None,
) -> dict[str, Any]:
    """The body of POST /v1/parties/{party}/keys for `new_key`: its public key, its proof of
    possession, and, for a rotation, the endorsement by an active key of the party."""
    raw = new_key.public_key().public_bytes_raw()
    public = base64.b64encode(raw).decode("ascii")
    data = registration_bytes(origin=origin, party=party, public_key=public)
    body: dict[str, Any] = {"public_key": public, "proof": _b64(new_key.sign(data))}
    if endorsing_key is not None:
        body["endorsed_by"] = key_id(endorsing_key.public_key().public_bytes_raw())
        body["endorsement"] = _b64(endorsing_key.sign(data))
    return body


def confirm_key(key: Ed25519PrivateKey, *, origin: str, party: str) -> dict[str, str]:
    """The body of POST /v1/parties/{party}/keys/{key_id}/confirmation."""
    kid = key_id(key.public_key().public_bytes_raw())
    data = confirmation_bytes(origin=origin, party=party, key=kid)
    return {"confirmation": _b64(key.sign(data))}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
