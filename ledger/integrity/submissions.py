"""Signed submissions: a reporter signs what it submits with its own party key, so the log entry
proves who reported it without trusting the server (docs/signing.md).

The signed bytes are the canonical JSON (ledger/integrity/entries.py rules) of

    {"format": "custody-submission/v1", "origin": <the log's origin>, "party": <the reporter>,
     "key_id": <hex id of the signing key>, "action": <"issue", "transfer", ...>,
     "item": <item id, or null for an issue>, "nonce": <unique per party>,
     "body": <the request body>}

`body` is the JSON body of the request as sent, without its `signature` member. The entry keeps the
exact bytes and the signature, so anyone with the party's public key can check them later.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.domain.errors import InvalidInput, Unauthenticated
from ledger.integrity.entries import canonical_json, json_value
from ledger.integrity.signing import decode_base64

SUBMISSION_FORMAT = "custody-submission/v1"
PUBLIC_KEY_BYTES = 32
_NONCE = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def key_id(public_key: bytes) -> str:
    """A party key's id: the first 8 bytes of SHA-256 of the raw Ed25519 public key, in hex."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def decode_public_key(text: str) -> bytes:
    """A raw Ed25519 public key from its standard base64 form (44 characters)."""
    key = decode_base64(text, what="public key")
    if len(key) != PUBLIC_KEY_BYTES:
        raise InvalidInput(f"public key is {len(key)} bytes; an Ed25519 key has {PUBLIC_KEY_BYTES}")
    return key


def check_nonce(nonce: str) -> str:
    if not _NONCE.match(nonce):
        raise InvalidInput("nonce must be 8 to 128 letters, digits, '.', '_', ':' or '-'")
    return nonce


@dataclass(frozen=True)
class Submission:
    """What a reporter says it submits; `to_bytes` is what it signs."""

    origin: str
    party: str
    key_id: str
    action: str
    item: str | None
    nonce: str
    body: dict[str, Any]

    def to_bytes(self) -> bytes:
        return canonical_json(
            {
                "format": SUBMISSION_FORMAT,
                "origin": self.origin,
                "party": self.party,
                "key_id": self.key_id,
                "action": self.action,
                "item": self.item,
                "nonce": check_nonce(self.nonce),
                "body": json_value(self.body),
            }
        )

    def sign(self, private_key: Ed25519PrivateKey) -> Signed:
        data = self.to_bytes()
        return Signed(self.key_id, self.nonce, private_key.sign(data), data)


@dataclass(frozen=True)
class Signed:
    """A signature over a submission's bytes, as the entry keeps it."""

    key_id: str
    nonce: str
    signature: bytes
    submission: bytes

    def as_entry_value(self) -> dict[str, str]:
        return {
            "key_id": self.key_id,
            "nonce": self.nonce,
            "signature": base64.b64encode(self.signature).decode("ascii"),
            "submission": base64.b64encode(self.submission).decode("ascii"),
        }

    def digest(self) -> str:
        return hashlib.sha256(self.submission).hexdigest()


def signed_from_request(submission: Submission, unverified_signature: str) -> Signed:
    """A signature as received; one that is not even base64 fails as a signature does: 401."""
    try:
        signature = decode_base64(unverified_signature, what="signature")
    except InvalidInput as error:
        raise Unauthenticated(f"the {error.message}") from None
    return Signed(submission.key_id, submission.nonce, signature, submission.to_bytes())


def verify_signed(signed: Signed, public_key: bytes) -> None:
    """Raise Unauthenticated unless `signed.signature` is the key's Ed25519 signature of them."""
    if len(signed.signature) != 64:
        raise Unauthenticated(
            f"the signature is {len(signed.signature)} bytes; an Ed25519 signature has 64"
        )
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signed.signature, signed.submission)
    except InvalidSignature:
        raise Unauthenticated(
            f"the signature does not verify with key {signed.key_id}: the submission was changed, "
            "or signed by another key"
        ) from None


@dataclass(frozen=True)
class Submitted:
    """How a write arrived: its nonce (an idempotency key, unique per party), the digest of what was
    submitted (the same nonce with another digest is refused), and the signature if signed."""

    nonce: str
    digest: str
    signed: Signed | None = None

    @classmethod
    def from_signed(cls, signed: Signed) -> Submitted:
        return cls(check_nonce(signed.nonce), signed.digest(), signed)

    @classmethod
    def unsigned(cls, submission: Submission) -> Submitted:
        return cls(check_nonce(submission.nonce), hashlib.sha256(submission.to_bytes()).hexdigest())


def check_claims(signed: Signed, *, origin: str, party: str, action: str, item: str | None) -> None:
    """The signed bytes must be a submission of this action, on this item, by this party, to this
    log: a signature over another request cannot be replayed onto this one."""
    try:
        claims = json.loads(signed.submission)
    except ValueError:
        raise Unauthenticated("the signed submission is not JSON") from None
    wanted = {
        "format": SUBMISSION_FORMAT,
        "origin": origin,
        "party": party,
        "action": action,
        "item": item,
        "key_id": signed.key_id,
        "nonce": signed.nonce,
    }
    found = {k: claims.get(k) for k in wanted} if isinstance(claims, dict) else {}
    wrong = sorted(k for k in wanted if found.get(k) != wanted[k])
    if wrong:
        raise Unauthenticated(
            "the signed submission is for another request: "
            + ", ".join(f"{k} is {found.get(k)!r}, expected {wanted[k]!r}" for k in wrong)
        )
