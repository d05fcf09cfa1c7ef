"""Witness cosignatures (c2sp.org/tlog-cosignature, Ed25519 cosignature/v1).

Vectors:
- SPEC_*: the examples of c2sp.org/tlog-cosignature (the cosigned checkpoint at the top, and the
  signed message of "Ed25519 signed message"). The spec publishes no key for its example, so only
  the framing of its cosignature line is checked.
- ARCHE_* and REMORA_*: a checkpoint of the arche2025h1 staging CT log cosigned by production
  witnesses, with the remora.n621.de witness key, from florolf/tlog-scales tests/test_signing.py
  (TestCheckpointVerification); the remora vkey is also in transparency-dev/formats
  note/note_cosigv1_test.go (TestCoSigV1NewVerifier).
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.errors import InvalidInput, ProofError
from ledger.integrity.checkpoints import Checkpoint, sign_checkpoint, verify_checkpoint
from ledger.integrity.notes import Signature, open_note, split_note
from ledger.integrity.signing import Signer, Verifier, key_id
from ledger.witness.cosignatures import (
    MAX_TIMESTAMP,
    CosignerKey,
    CosignerVerifier,
    cosign,
    cosignature_message,
    cosignature_timestamps,
    generate_cosigner_key,
    signed_only_by,
    verify_cosignature,
    with_signatures,
)
from tests.conftest import SIGNER

SPEC_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_NOTE = (
    SPEC_TEXT + "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Z"
    "hcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJ"
    "sX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
SPEC_MESSAGE = (
    "cosignature/v1\n"
    "time 1679315147\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)

ARCHE_TEXT = (
    "arche2025h1.staging.ct.transparency.dev\n1432088532\n"
    "U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n"
)
ARCHE_VKEY = (
    "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
)
REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
REMORA_TIMESTAMP = 1779573024
ARCHE_NOTE = (
    ARCHE_TEXT + "\n"
    "\u2014 arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6ho"
    "GREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=\n"
    "\u2014 arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUk"
    "zbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=\n"
    "\u2014 transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTz"
    "wZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==\n"
    "\u2014 witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/"
    "iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==\n"
    "\u2014 remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobW"
    "X9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==\n"
    "\u2014 witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr"
    "+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==\n"
)
REMORA = CosignerVerifier.from_vkey(REMORA_VKEY)

ORIGIN = "custody.example/log"
ROOT = bytes(range(32))
TEXT = Checkpoint(ORIGIN, 7, ROOT).to_text()
KEY = CosignerKey("witness.example/w1", Ed25519PrivateKey.from_private_bytes(b"\x02" * 32))
OTHER = CosignerKey("witness.example/w2", Ed25519PrivateKey.from_private_bytes(b"\x03" * 32))
LOG = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x01" * 32))


def note_with(*lines: str) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, 7, ROOT), LOG) + "".join(lines)


def line_of(key: CosignerKey, data: bytes) -> str:
    return Signature(key.name, key.key_id, data).to_line()


# The published examples


def test_the_signed_message_is_the_header_the_time_line_and_the_checkpoint_as_in_the_spec() -> None:
    message = cosignature_message(SPEC_TEXT, 1679315147)

    assert message == SPEC_MESSAGE.encode()


def test_the_spec_example_cosignature_is_a_key_id_a_big_endian_timestamp_and_64_bytes() -> None:
    text, lines = split_note(SPEC_NOTE)

    witness = lines[1]

    assert text == SPEC_TEXT
    assert (witness.name, witness.key_id) == ("witness.example.com/w1", 0x8D66CF3F)
    assert len(witness.signature) == 8 + 64
    assert int.from_bytes(witness.signature[:8], "big") == 1679315147


def test_a_production_witness_cosignature_verifies_and_gives_its_timestamp() -> None:
    timestamp = verify_cosignature(ARCHE_NOTE, REMORA)

    assert timestamp == REMORA_TIMESTAMP


def test_the_same_note_verifies_as_a_checkpoint_under_the_log_key_ignoring_the_witness_lines() -> (
    None
):
    checkpoint = verify_checkpoint(ARCHE_NOTE, Verifier.from_vkey(ARCHE_VKEY))

    assert (checkpoint.origin, checkpoint.size) == (
        "arche2025h1.staging.ct.transparency.dev",
        1432088532,
    )


def test_a_production_cosignature_does_not_cover_a_changed_tree_size() -> None:
    forged = ARCHE_NOTE.replace("1432088532", "1432088533")

    with pytest.raises(ProofError, match="cosignature does not verify"):
        verify_cosignature(forged, REMORA)


def test_the_production_witness_vkey_has_type_4_and_the_key_id_of_name_newline_4_and_key() -> None:
    public = base64.b64decode("BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")[1:]
    digest = hashlib.sha256(b"remora.n621.de\n\x04" + public).digest()

    assert REMORA.public_key == public
    assert REMORA.key_id == int.from_bytes(digest[:4], "big") == 0xDA77ADE7
    assert key_id("remora.n621.de", public, 0x04) == 0xDA77ADE7
    assert REMORA.vkey == REMORA_VKEY


# Keys


def test_a_generated_cosigner_key_prints_back_unchanged_and_keeps_its_secret_out_of_repr() -> None:
    text = generate_cosigner_key("witness.example/w9")

    key = CosignerKey.from_text(text)

    assert key.to_text() == text
    assert text.startswith("PRIVATE+KEY+witness.example/w9+")
    assert base64.b64decode(text.split("+", 4)[4])[0] == 0x04
    assert text.split("+", 4)[4] not in repr(key)
    assert repr(key) == f"CosignerKey(witness.example/w9+{key.key_id:08x})"
    assert CosignerVerifier.from_vkey(key.verifier.vkey) == key.verifier


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        (
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "cosigner verifier key has signature type 0x01; expected 0x04 (Ed25519 cosignature/v1)",
        ),
        (
            "remora.n621.de+00000000+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
            "key id of remora.n621.de does not match its key: expected da77ade7, got 00000000",
        ),
        ("remora.n621.de+da77ade7+BAEC", "cosigner verifier key holds 2 key bytes; expected 32"),
        ("remora.n621.de", "cosigner verifier key must have the form <name>+<8 hex digits>"),
        ("rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!", "is not standard base64"),
    ],
)
def test_a_verifier_key_that_is_not_an_ed25519_cosigner_key_is_refused(
    vkey: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        CosignerVerifier.from_vkey(vkey)


def test_a_note_signing_key_text_is_not_a_cosigner_key() -> None:
    skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"

    with pytest.raises(
        InvalidInput, match="cosigner key has signature type 0x01; expected 0x04"
    ) as caught:
        CosignerKey.from_text(skey)

    assert caught.value.message == (
        "cosigner key has signature type 0x01; expected 0x04 (Ed25519 cosignature/v1)"
    )
    assert "AYEKFALV" not in caught.value.message


def test_a_cosigner_key_text_without_the_private_prefix_is_refused() -> None:
    with pytest.raises(InvalidInput, match="cosigner key must have the form PRIVATE\\+KEY\\+"):
        CosignerKey.from_text(KEY.verifier.vkey)


# Cosigning and verifying


def test_a_cosignature_line_holds_the_key_id_the_timestamp_and_a_signature_of_the_message() -> None:
    line = cosign(TEXT, KEY, timestamp=1_700_000_000)

    name, data = line.removeprefix("\u2014 ").removesuffix("\n").split(" ")
    raw = base64.b64decode(data)

    assert name == "witness.example/w1"
    assert int.from_bytes(raw[:4], "big") == KEY.key_id
    assert int.from_bytes(raw[4:12], "big") == 1_700_000_000
    public = Ed25519PublicKey.from_public_bytes(KEY.verifier.public_key)
    public.verify(raw[12:], cosignature_message(TEXT, 1_700_000_000))


def test_a_cosignature_appended_to_the_log_signed_note_verifies_and_gives_its_timestamp() -> None:
    note = note_with(cosign(TEXT, KEY, timestamp=1_700_000_000))

    assert verify_cosignature(note, KEY.verifier) == 1_700_000_000
    assert open_note(note, [LOG.verifier]).text == TEXT


def test_a_note_without_a_cosignature_by_the_witness_is_refused_naming_the_lines_found() -> None:
    note = note_with(cosign(TEXT, OTHER, timestamp=5))

    with pytest.raises(ProofError, match="checkpoint is not cosigned by the witness") as caught:
        verify_cosignature(note, KEY.verifier)

    assert caught.value.message == (
        "checkpoint is not cosigned by the witness: expected a cosignature by "
        f"{KEY.verifier.key}, got {LOG.name}+{LOG.key_id:08x}, {OTHER.verifier.key}"
    )


def test_a_cosignature_of_another_checkpoint_does_not_verify() -> None:
    other = Checkpoint(ORIGIN, 8, ROOT).to_text()
    note = note_with(cosign(other, KEY, timestamp=5))

    with pytest.raises(ProofError, match="cosignature does not verify: expected an Ed25519"):
        verify_cosignature(note, KEY.verifier)


def test_a_cosignature_with_a_changed_timestamp_does_not_verify() -> None:
    raw = base64.b64decode(cosign(TEXT, KEY, timestamp=5).split(" ")[2])
    changed = raw[:4] + (6).to_bytes(8, "big") + raw[12:]

    with pytest.raises(ProofError, match="cosignature does not verify"):
        verify_cosignature(note_with(line_of(KEY, changed[4:])), KEY.verifier)


def test_a_note_signature_by_the_cosigner_key_is_not_a_cosignature() -> None:
    plain = Signer(KEY.name, Ed25519PrivateKey.from_private_bytes(b"\x02" * 32))
    note = note_with(Signature(plain.name, plain.key_id, plain.sign(TEXT.encode())).to_line())

    with pytest.raises(ProofError, match="checkpoint is not cosigned by the witness"):
        verify_cosignature(note, KEY.verifier)


def test_a_plain_64_byte_signature_under_the_cosigner_key_id_is_refused_as_malformed() -> None:
    note = note_with(line_of(KEY, KEY.sign(TEXT.encode())))

    with pytest.raises(ProofError, match="is malformed: expected 72 bytes") as caught:
        verify_cosignature(note, KEY.verifier)

    assert caught.value.message == (
        f"cosignature by {KEY.verifier.key} is malformed: expected 72 bytes (timestamp, "
        "Ed25519 signature), got 64 bytes"
    )


def test_a_timestamp_beyond_2_to_the_63_minus_1_is_refused() -> None:
    message = b"cosignature/v1\ntime 9223372036854775808\n" + TEXT.encode()
    data = (2**63).to_bytes(8, "big") + KEY.sign(message)

    with pytest.raises(
        ProofError, match="has an invalid timestamp: expected at most 2\\*\\*63 - 1"
    ):
        verify_cosignature(note_with(line_of(KEY, data)), KEY.verifier)


def test_one_bad_line_by_the_witness_refuses_the_note_even_beside_a_good_one() -> None:
    good = cosign(TEXT, KEY, timestamp=5)
    bad = line_of(KEY, (6).to_bytes(8, "big") + bytes(64))

    with pytest.raises(ProofError, match="cosignature does not verify"):
        verify_cosignature(note_with(good, bad), KEY.verifier)


def test_of_two_valid_cosignatures_by_one_witness_the_earliest_timestamp_is_reported() -> None:
    note = note_with(cosign(TEXT, KEY, timestamp=90), cosign(TEXT, KEY, timestamp=30))

    assert verify_cosignature(note, KEY.verifier) == 30


def test_the_timestamps_of_several_witnesses_are_reported_and_absent_ones_left_out() -> None:
    third = CosignerKey("witness.example/w3", Ed25519PrivateKey.from_private_bytes(b"\x04" * 32))
    note = note_with(cosign(TEXT, KEY, timestamp=10), cosign(TEXT, OTHER, timestamp=20))

    stamps = cosignature_timestamps(note, [KEY.verifier, OTHER.verifier, third.verifier])

    assert stamps == {KEY.verifier: 10, OTHER.verifier: 20}


def test_extension_lines_are_covered_by_the_cosignature() -> None:
    extended = Checkpoint(ORIGIN, 7, ROOT, ("ext one", "ext two"))
    changed = Checkpoint(ORIGIN, 7, ROOT, ("ext one", "ext 2"))
    line = cosign(extended.to_text(), KEY, timestamp=5)

    assert verify_cosignature(sign_checkpoint(extended, LOG) + line, KEY.verifier) == 5
    with pytest.raises(ProofError, match="cosignature does not verify"):
        verify_cosignature(sign_checkpoint(changed, LOG) + line, KEY.verifier)


@pytest.mark.parametrize(
    ("text", "timestamp", "message"),
    [
        (TEXT, -1, "cosignature timestamp must be from 0 to 2**63 - 1, got -1"),
        (TEXT, 2**63, "cosignature timestamp must be from 0 to 2**63 - 1, got 9223372036854775808"),
        (TEXT, True, "cosignature timestamp must be from 0 to 2**63 - 1, got True"),
        ("not a checkpoint\n", 5, "checkpoint has 1 lines; expected origin, tree size and root"),
        (TEXT + "\n", 5, "checkpoint extension line must not be empty"),
        (TEXT.removesuffix("\n"), 5, "checkpoint text must end with a newline"),
    ],
)
def test_only_a_checkpoint_is_cosigned_and_only_at_a_valid_timestamp(
    text: str, timestamp: int, message: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        cosign(text, KEY, timestamp=timestamp)


def test_a_note_whose_text_is_not_a_checkpoint_is_refused_as_malformed() -> None:
    note = "hello\n\n" + line_of(KEY, bytes(72))

    with pytest.raises(InvalidInput, match="checkpoint has 1 lines"):
        verify_cosignature(note, KEY.verifier)


@pytest.mark.parametrize(
    ("note", "message"),
    [
        (TEXT, "note has no blank line between its text and its signatures"),
        (TEXT + "\n", "note has no signature lines after the blank line"),
        (TEXT + "\nnot a signature\n", "note line 5 is not a signature line"),
    ],
)
def test_a_malformed_note_is_refused_by_the_same_rules_as_open_note(
    note: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as split_error:
        split_note(note)
    with pytest.raises(InvalidInput, match=message) as open_error:
        open_note(note, [LOG.verifier])

    assert split_error.value.message == open_error.value.message


def test_split_note_returns_every_line_parsed_and_unverified() -> None:
    text, lines = split_note(ARCHE_NOTE)

    assert text == ARCHE_TEXT
    assert [line.name for line in lines] == [
        "arche2025h1.staging.ct.transparency.dev",
        "arche2025h1.staging.ct.transparency.dev",
        "transparency.dev/DEV:witness-little-garden",
        "witness1.smartit.nu/witness1",
        "remora.n621.de",
        "witness.stagemole.eu",
    ]
    assert lines[4].key_id == REMORA.key_id


# Properties


@settings(max_examples=60, deadline=None)
@given(
    timestamp=st.integers(min_value=0, max_value=MAX_TIMESTAMP),
    size=st.integers(min_value=0, max_value=2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
)
def test_every_cosignature_verifies_with_its_timestamp_and_no_other_checkpoint(
    timestamp: int, size: int, root: bytes
) -> None:
    text = Checkpoint(ORIGIN, size, root).to_text()
    other = Checkpoint(ORIGIN, size ^ 1, root).to_text()
    line = cosign(text, KEY, timestamp=timestamp)

    assert verify_cosignature(text + "\n" + line, KEY.verifier) == timestamp
    with pytest.raises(ProofError, match="cosignature does not verify"):
        verify_cosignature(other + "\n" + line, KEY.verifier)


def test_merging_cosignatures_keeps_the_ones_a_note_has_and_skips_repeats_and_garbage() -> None:
    text = Checkpoint(SIGNER.name, 3, b"\x02" * 32).to_text()
    note = sign_checkpoint(Checkpoint(SIGNER.name, 3, b"\x02" * 32), SIGNER)
    first = CosignerKey("w1.example", Ed25519PrivateKey.from_private_bytes(b"\x31" * 32))
    second = CosignerKey("w2.example", Ed25519PrivateKey.from_private_bytes(b"\x32" * 32))
    kept = note + cosign(text, first, timestamp=100)

    answers = [cosign(text, first, timestamp=200), "not a signature"]
    merged = with_signatures(kept, [*answers, cosign(text, second, timestamp=300)])

    assert merged == kept + cosign(text, second, timestamp=300)
    assert signed_only_by(merged, SIGNER.verifier) == note
