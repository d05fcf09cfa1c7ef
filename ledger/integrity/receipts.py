"""Receipts: the log key's signed promise that it accepted exactly this leaf at this index.

In the spirit of RFC 6962's signed certificate timestamp and Rekor's signed entry timestamp, the
log signs every entry it appends, in the transaction that appends it (ledger/store/log.py). A
receipt is
a C2SP signed note (ledger/integrity/notes.py) by the log's key (the checkpoints' key and key name)
over

    custody-receipt/v1\\n<origin>\\n<log index, decimal>\\n<leaf hash, standard base64>\\n
    <recorded_at of the entry, as in the entry>\\n

(docs/verification.md, section 10). The first line keeps receipts and checkpoints apart: a
checkpoint's first line is its origin, which is also its key's name, and its second a decimal
size, so a receipt's text never parses as a checkpoint of the key that signed it, nor the other
way round.

The store keeps only the raw 64-byte Ed25519 signature (column `receipt` of `custody_log`); the
note is rebuilt from the entry and the key (`receipt_note`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.domain.errors import IntegrityFailure, InvalidInput
from ledger.integrity.notes import Signature, open_statement
from ledger.integrity.signing import Signer, Verifier, decode_base64, encode_base64

RECEIPT_FORMAT = "custody-receipt/v1"
SIGNATURE_SIZE = 64
HASH_SIZE = 32
_INDEX = re.compile(r"0|[1-9][0-9]{0,19}")
_RECORDED_AT = b'"recorded_at":"'
_CONTROL = re.compile("[\x00-\x1f]")


@dataclass(frozen=True)
class EntryReceipt:
    """What a receipt promises: the log `origin` holds the leaf `leaf_hash` at `log_index`,
    recorded at `recorded_at` (the entry's own text of it)."""

    origin: str
    log_index: int
    leaf_hash: bytes
    recorded_at: str

    def __post_init__(self) -> None:
        if type(self.log_index) is not int or not 0 <= self.log_index < 2**64:
            raise InvalidInput(f"receipt log index {self.log_index!r} is out of range")
        if len(self.leaf_hash) != HASH_SIZE:
            raise InvalidInput(f"receipt leaf hash is {len(self.leaf_hash)} bytes; expected 32")
        for what, line in (("origin", self.origin), ("recorded_at", self.recorded_at)):
            if not line or _CONTROL.search(line):
                raise InvalidInput(f"receipt {what} {line!r} is empty or has control characters")

    def to_text(self) -> str:
        lines = (
            RECEIPT_FORMAT,
            self.origin,
            str(self.log_index),
            encode_base64(self.leaf_hash),
            self.recorded_at,
        )
        return "".join(line + "\n" for line in lines)


def parse_receipt(text: str) -> EntryReceipt:
    """The receipt in a note text, refused unless exactly as EntryReceipt.to_text writes it."""
    lines = text[:-1].split("\n") if text.endswith("\n") else []
    if len(lines) != 5 or lines[0] != RECEIPT_FORMAT:
        raise InvalidInput(
            f"not a {RECEIPT_FORMAT} text: expected its five lines, the first {RECEIPT_FORMAT!r}"
        )
    _, origin, index, leaf, recorded_at = lines
    if not _INDEX.fullmatch(index):
        raise InvalidInput(f"receipt log index {index!r} is not a decimal without leading zeros")
    leaf_hash = decode_base64(leaf, what="receipt leaf hash")
    return EntryReceipt(origin, int(index), leaf_hash, recorded_at)


def receipt_signature(receipt: EntryReceipt, signer: Signer) -> bytes:
    """The raw signature the store keeps; the log key's name must be the receipt's origin."""
    if signer.name != receipt.origin:
        raise InvalidInput(
            f"the log key name must match the receipt's origin: "
            f"expected {receipt.origin!r}, got {signer.name!r}"
        )
    return signer.sign(receipt.to_text().encode("utf-8"))


def receipt_note(receipt: EntryReceipt, signature: bytes, key: Verifier) -> str:
    """The signed note of a receipt from its stored signature (not checked here)."""
    line = Signature(key.name, key.key_id, signature).to_line()
    return receipt.to_text() + "\n" + line


def sign_receipt(receipt: EntryReceipt, signer: Signer) -> str:
    return receipt_note(receipt, receipt_signature(receipt, signer), signer.verifier)


def verify_receipt(note: str, verifier: Verifier, origin: str | None = None) -> EntryReceipt:
    """The receipt signed by `verifier` in `note` for `origin` (default: the key name)."""
    return open_statement(note, verifier, origin, parse_receipt, "receipt")


def recorded_at_of(entry: bytes) -> str:
    """The entry's top-level `recorded_at`, read without decoding the entry. In a canonical entry
    (sorted keys, ledger/integrity/entries.py) it is the last `"recorded_at":"` in the bytes: only
    `signature` (an object of fixed keys) and `type` follow it. A wrong answer can only make a
    good receipt fail, never a forged one pass: the signature covers the leaf hash too."""
    start = entry.rfind(_RECORDED_AT)
    end = entry.find(b'"', start + len(_RECORDED_AT)) if start >= 0 else -1
    if end < 0:
        raise InvalidInput("the entry has no recorded_at")
    return entry[start + len(_RECORDED_AT) : end].decode("utf-8")


class ReceiptChecker:
    """Checks stored receipt signatures one after another with one key object (`custody verify`:
    one Ed25519 verification per entry, about 50 us)."""

    def __init__(self, verifier: Verifier, origin: str) -> None:
        self.verifier, self.origin = verifier, origin
        self._key = Ed25519PublicKey.from_public_bytes(verifier.public_key)

    def check(self, log_index: int, leaf_hash: bytes, entry: bytes, signature: object) -> None:
        """Raise IntegrityFailure at `log_index` unless `signature` is the log key's receipt of
        this leaf at this index."""
        if not isinstance(signature, bytes | bytearray | memoryview):
            self._fail(log_index, "the entry has no receipt", got="nothing")
        raw = bytes(signature)
        if len(raw) != SIGNATURE_SIZE:
            self._fail(log_index, "the entry's receipt is malformed", got=f"{len(raw)} bytes")
        text = EntryReceipt(self.origin, log_index, leaf_hash, recorded_at_of(entry)).to_text()
        try:
            self._key.verify(raw, text.encode("utf-8"))
        except InvalidSignature:
            self._fail(log_index, "the entry's receipt does not verify", got=encode_base64(raw))

    def _fail(self, log_index: int, message: str, *, got: str) -> NoReturn:
        raise IntegrityFailure(
            message,
            position=log_index,
            expected=f"a receipt signed by the log key {self.verifier.name}+"
            f"{self.verifier.key_id:08x} (an entry appended without the key?)",
            got=got,
        )
