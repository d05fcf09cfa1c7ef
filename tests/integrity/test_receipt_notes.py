"""Receipts (ledger/integrity/receipts.py): their exact bytes, their signature, and that a receipt
and a
checkpoint can never be taken for one another."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.domain.errors import IntegrityFailure, InvalidInput, ProofError
from ledger.integrity.checkpoints import (
    Checkpoint,
    parse_checkpoint,
    sign_checkpoint,
    verify_checkpoint,
)
from ledger.integrity.receipts import (
    EntryReceipt,
    ReceiptChecker,
    parse_receipt,
    receipt_signature,
    recorded_at_of,
    sign_receipt,
    verify_receipt,
)
from ledger.integrity.signing import Signer, encode_base64

ORIGIN = "localhost/custody"
KEY = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x07" * 32))
OTHER = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x08" * 32))
LEAF = hashlib.sha256(b"leaf").digest()
RECEIPT = EntryReceipt(ORIGIN, 42, LEAF, "2026-03-01T12:00:00.000000Z")


def test_the_receipt_text_is_format_origin_index_leaf_hash_and_recorded_at_one_per_line() -> None:
    text = RECEIPT.to_text()

    assert text == (
        "custody-receipt/v1\nlocalhost/custody\n42\n"
        f"{encode_base64(LEAF)}\n2026-03-01T12:00:00.000000Z\n"
    )
    assert parse_receipt(text) == RECEIPT


def test_a_signed_receipt_is_a_note_with_one_ed25519_signature_of_its_text_by_the_log_key() -> None:
    note = sign_receipt(RECEIPT, KEY)

    signature = receipt_signature(RECEIPT, KEY)  # Ed25519 is deterministic: the same bytes
    line = encode_base64(KEY.key_id.to_bytes(4, "big") + signature)
    assert len(signature) == 64
    assert note == RECEIPT.to_text() + f"\n\u2014 {ORIGIN} {line}\n"
    assert verify_receipt(note, KEY.verifier) == RECEIPT


def test_a_receipt_signed_by_another_key_or_changed_in_one_line_is_refused() -> None:
    note = sign_receipt(RECEIPT, KEY)

    with pytest.raises(ProofError, match="note is not signed by any known key"):
        verify_receipt(sign_receipt(RECEIPT, OTHER), KEY.verifier)
    with pytest.raises(ProofError, match="signature does not verify"):
        verify_receipt(note.replace("\n42\n", "\n43\n"), KEY.verifier)


def test_a_receipt_of_another_origin_is_refused() -> None:
    other = Signer("elsewhere", Ed25519PrivateKey.from_private_bytes(b"\x07" * 32))
    note = sign_receipt(EntryReceipt("elsewhere", 1, LEAF, "t"), other)

    with pytest.raises(ProofError, match="receipt is for another log"):
        verify_receipt(note, other.verifier, ORIGIN)


def test_only_the_key_named_as_the_origin_may_sign_a_receipt() -> None:
    stranger = Signer("elsewhere", Ed25519PrivateKey.from_private_bytes(b"\x07" * 32))

    with pytest.raises(InvalidInput, match="the log key name must match the receipt's origin"):
        sign_receipt(RECEIPT, stranger)


def test_a_receipt_never_parses_or_verifies_as_a_checkpoint() -> None:
    note = sign_receipt(RECEIPT, KEY)

    with pytest.raises(InvalidInput, match="is not a decimal number"):
        parse_checkpoint(RECEIPT.to_text())
    with pytest.raises(InvalidInput, match="checkpoint tree size .* is not a decimal number"):
        verify_checkpoint(note, KEY.verifier)


def test_a_checkpoint_never_parses_or_verifies_as_a_receipt() -> None:
    checkpoint = Checkpoint(ORIGIN, 42, LEAF)
    note = sign_checkpoint(checkpoint, KEY)

    with pytest.raises(InvalidInput, match="not a custody-receipt/v1 text"):
        parse_receipt(checkpoint.to_text())
    with pytest.raises(InvalidInput, match="not a custody-receipt/v1 text"):
        verify_receipt(note, KEY.verifier)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("custody-receipt/v1\nlocalhost/custody\n042\nAAAA\nt\n", "without leading zeros"),
        ("custody-receipt/v1\nlocalhost/custody\n1\nAAAA\nt\n", "leaf hash is 3 bytes"),
        ("custody-receipt/v1\nlocalhost/custody\n1\nAAAA\n", "five lines"),
        ("custody-receipt/v2\nlocalhost/custody\n1\nAAAA\nt\n", "five lines"),
        ("custody-receipt/v1\nlocalhost/custody\n1\n" + encode_base64(LEAF) + "\n\n", "empty"),
        ("custody-receipt/v1\nlocalhost/custody\n1\n" + encode_base64(LEAF) + "\nt", "five lines"),
    ],
)
def test_a_receipt_text_that_to_text_would_not_write_is_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_receipt(text)


def test_recorded_at_is_read_from_the_top_level_of_an_entry_not_from_its_payload() -> None:
    entry = (
        b'{"actor":"a","payload":{"recorded_at":"not this"},"prev":null,'
        b'"recorded_at":"2026-03-01T12:00:00.000000Z","signature":null,"type":"T"}'
    )

    assert recorded_at_of(entry) == "2026-03-01T12:00:00.000000Z"


def test_the_checker_names_a_missing_a_malformed_and_a_wrong_receipt_at_its_index() -> None:
    checker = ReceiptChecker(KEY.verifier, ORIGIN)
    entry = b'{"recorded_at":"2026-03-01T12:00:00.000000Z","type":"T"}'
    good = receipt_signature(EntryReceipt(ORIGIN, 7, LEAF, "2026-03-01T12:00:00.000000Z"), KEY)

    checker.check(7, LEAF, entry, good)
    with pytest.raises(IntegrityFailure, match="the entry has no receipt at position 7"):
        checker.check(7, LEAF, entry, None)
    with pytest.raises(IntegrityFailure, match="receipt is malformed at position 7.*got 3 bytes"):
        checker.check(7, LEAF, entry, b"abc")
    with pytest.raises(IntegrityFailure, match="receipt does not verify at position 8"):
        checker.check(8, LEAF, entry, good)
