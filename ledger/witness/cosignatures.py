"""C2SP tlog-cosignature, Ed25519 cosignature/v1: a witness's timestamped signature of a checkpoint.

Spec: c2sp.org/tlog-cosignature (C2SP/C2SP, tlog-cosignature.md):

- "Format": a cosignature is a signed-note signature line `— <name> base64(key ID || signature)`
  (ledger.notes). Key ID = SHA-256(<name> || "\\n" || 0x04 || 32-byte Ed25519 public key)[:4];
  the vkey has signature type 0x04. The signature is a `timestamped_signature`: the timestamp as
  a big-endian u64 (POSIX seconds, at most 2**63 - 1) then the 64-byte Ed25519 signature.
- "Ed25519 signed message": the line `cosignature/v1`, the line `time <timestamp>` (ASCII decimal,
  no leading zeros), then the whole checkpoint note text, final newline included, signature lines
  excluded. The name is not signed: one key must never serve two cosigner names.

As filippo.io/torchwood (cosignature.go) does, only a checkpoint (c2sp.org/tlog-checkpoint, as
ledger.checkpoints parses it) is cosigned or accepted as cosigned. Our choices, where the specs are
silent:

- The cosigner's private key text is that of ledger.signing with type 0x04:
  `PRIVATE+KEY+<name>+<8 hex digits key id>+base64(0x04 || 32-byte seed)`. No spec defines one.
- Every line that matches a known cosigner (name and key ID) is verified; one bad line refuses the
  note (ProofError), as ledger.notes does. Of several valid lines by one key, the earliest timestamp
  is reported: the checkpoint was witnessed no later than then.
- Timestamps in the future are not refused here (the spec says MAY); no clock is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.domain.errors import InvalidInput, ProofError
from ledger.integrity.checkpoints import parse_checkpoint
from ledger.integrity.notes import Signature, split_note
from ledger.integrity.signing import (
    NamedKey,
    NamedVerifier,
    encode_base64,
)

COSIGNATURE_V1 = 0x04
TIMESTAMP_SIZE = 8
SIGNATURE_SIZE = 64
MAX_TIMESTAMP = 2**63 - 1
HEADER = "cosignature/v1\n"


@dataclass(frozen=True)
class CosignerVerifier(NamedVerifier):
    """A cosigner's public key (signature type 0x04, cosignature/v1)."""

    SIGNATURE_TYPE: ClassVar[int] = COSIGNATURE_V1
    TYPE_NAME: ClassVar[str] = "Ed25519 cosignature/v1"
    WHAT: ClassVar[str] = "cosigner verifier key"

    @property
    def key(self) -> str:
        return f"{self.name}+{self.key_id:08x}"

    def timestamp_of(self, checkpoint_text: str, signature: Signature) -> int:
        """The timestamp of `signature`, a line by this key, if it cosigns the text; else raise."""
        data = signature.signature
        if len(data) != TIMESTAMP_SIZE + SIGNATURE_SIZE:
            raise ProofError(
                f"cosignature by {self.key} is malformed",
                expected=f"{TIMESTAMP_SIZE + SIGNATURE_SIZE} bytes (timestamp, Ed25519 signature)",
                got=f"{len(data)} bytes",
            )
        timestamp = int.from_bytes(data[:TIMESTAMP_SIZE], "big")
        if timestamp > MAX_TIMESTAMP:
            raise ProofError(
                f"cosignature by {self.key} has an invalid timestamp",
                expected="at most 2**63 - 1",
                got=str(timestamp),
            )
        self._verify(cosignature_message(checkpoint_text, timestamp), data[TIMESTAMP_SIZE:])
        return timestamp

    def _verify(self, message: bytes, signature: bytes) -> None:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            raise ProofError(
                "cosignature does not verify",
                expected=f"an Ed25519 cosignature/v1 of the checkpoint by {self.key}",
                got=encode_base64(signature),
            ) from None


class CosignerKey(NamedKey[CosignerVerifier]):
    """A cosigner's name and Ed25519 private key: signature type 0x04 (cosignature/v1)."""

    __slots__ = ()
    SIGNATURE_TYPE = COSIGNATURE_V1
    TYPE_NAME = "Ed25519 cosignature/v1"
    WHAT = "cosigner key"

    def _verifier(self, public_key: bytes) -> CosignerVerifier:
        return CosignerVerifier(self.name, public_key)


def generate_cosigner_key(name: str) -> str:
    """A new cosigner key text; its public half is CosignerKey.from_text(text).verifier.vkey."""
    return CosignerKey(name, Ed25519PrivateKey.generate()).to_text()


def cosignature_message(checkpoint_text: str, timestamp: int) -> bytes:
    """The signed message ("Ed25519 signed message"): header, time line, checkpoint note text."""
    if type(timestamp) is not int or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise InvalidInput(f"cosignature timestamp must be from 0 to 2**63 - 1, got {timestamp!r}")
    parse_checkpoint(checkpoint_text)
    try:
        return f"{HEADER}time {timestamp}\n{checkpoint_text}".encode()
    except UnicodeEncodeError:
        raise InvalidInput("checkpoint text is not valid Unicode") from None


def cosign(checkpoint_text: str, key: CosignerKey, *, timestamp: int) -> str:
    """The cosignature line (newline included) of `key` on the checkpoint, made at `timestamp`."""
    signature = key.sign(cosignature_message(checkpoint_text, timestamp))
    data = timestamp.to_bytes(TIMESTAMP_SIZE, "big") + signature
    return Signature(key.name, key.key_id, data).to_line()


def cosignature_timestamps(
    note: str | bytes, verifiers: Sequence[CosignerVerifier]
) -> dict[CosignerVerifier, int]:
    """The timestamp of each known cosigner that cosigned the checkpoint in `note`; absent ones
    are left out.

    1. Parse the note (ledger.notes) and its text as a checkpoint. 2. Take the lines whose name and
    key ID match a known cosigner. 3. Verify every one of them: any failure refuses the note.
    4. Keep each cosigner's earliest timestamp.
    """
    known = _index(verifiers)
    text, signatures = split_note(note)
    parse_checkpoint(text)
    stamps: dict[CosignerVerifier, int] = {}
    for signature in signatures:
        verifier = known.get((signature.name, signature.key_id))
        if verifier is not None:
            timestamp = verifier.timestamp_of(text, signature)
            stamps[verifier] = min(timestamp, stamps.get(verifier, timestamp))
    return stamps


def verify_cosignature(note: str | bytes, verifier: CosignerVerifier) -> int:
    """The timestamp of `verifier`'s cosignature of the checkpoint in `note`, else ProofError."""
    stamps = cosignature_timestamps(note, [verifier])
    if verifier not in stamps:
        lines = split_note(note)[1]
        raise ProofError(
            "checkpoint is not cosigned by the witness",
            expected=f"a cosignature by {verifier.key}",
            got=", ".join(sig.key for sig in lines),
        )
    return stamps[verifier]


def _index(verifiers: Iterable[CosignerVerifier]) -> dict[tuple[str, int], CosignerVerifier]:
    index: dict[tuple[str, int], CosignerVerifier] = {}
    for verifier in verifiers:
        if index.setdefault((verifier.name, verifier.key_id), verifier) != verifier:
            raise InvalidInput(f"two different cosigner keys are named {verifier.key}: ambiguous")
    return index


def with_signatures(note: str, lines: Iterable[str]) -> str:
    """`note` with the signature `lines` appended, except lines by a key (name and key ID) that
    signs it already, and what is not a signature line: cosignatures collected earlier are kept,
    a witness asked again adds none."""
    text, signatures = split_note(note)
    have = {(s.name, s.key_id) for s in signatures}
    kept = [s.to_line() for s in signatures]
    for line in lines:
        full = line if line.endswith("\n") else line + "\n"
        try:
            added = split_note(text + "\n" + full)[1]
        except InvalidInput:
            continue  # not signature lines: a witness answered something else
        if all((s.name, s.key_id) not in have for s in added):
            kept.append(full)
            have.update((s.name, s.key_id) for s in added)
    return text + "\n" + "".join(kept)


def signed_only_by(note: str, verifier: NamedVerifier) -> str:
    """`note` with the signature lines of `verifier`'s key only (a log-signed checkpoint without
    its cosignatures: what a witness is shown)."""
    text, signatures = split_note(note)
    key = (verifier.name, verifier.key_id)
    own = [s.to_line() for s in signatures if (s.name, s.key_id) == key]
    return text + "\n" + "".join(own)
