"""Signed notes (c2sp.org/signed-note), with the examples of the spec and of golang.org/x/mod.

PeterNeumann/EnochRoot: golang.org/x/mod/sumdb/note package doc ("Example") and note_test.go
(TestSign, TestOpen). The quasimodo note: the example at the top of c2sp.org/signed-note.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.errors import CustodyError, InvalidInput, ProofError
from ledger.integrity import signing
from ledger.integrity.notes import MAX_SIGNATURES, Signature, open_note, sign_note
from ledger.integrity.signing import Signer, Verifier, generate_signer_key

PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_B64 = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
PETER_SIG = f"\u2014 PeterNeumann {PETER_B64}\n"
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTG"
    "wnWLox33WWd1RvMc+QQ=\n"
)
PETER_NOTE = TEXT + "\n" + PETER_SIG
QUASIMODO_NOTE = (
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed \u00e8 subito sera.\n"
    "\n"
    "\u2014 quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9o"
    "JKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)

PETER = Verifier.from_vkey(PETER_VKEY)
ENOCH = Verifier.from_vkey(ENOCH_VKEY)


# The published examples


def test_signing_the_go_example_text_with_its_key_gives_the_published_note_byte_for_byte() -> None:
    signer = Signer.from_text(PETER_SKEY)

    note = sign_note(TEXT, [signer])

    assert note == PETER_NOTE


def test_the_go_example_note_opens_with_its_verifier_key() -> None:
    note = open_note(PETER_NOTE.encode("utf-8"), [PETER])

    assert note.text == TEXT
    assert [s.key for s in note.signatures] == ["PeterNeumann+c74f20a3"]
    assert note.signatures[0].base64 == PETER_B64
    assert note.unverified_signatures == ()


def test_the_doubly_signed_go_example_verifies_with_both_keys() -> None:
    note = open_note(PETER_NOTE + ENOCH_SIG, [PETER, ENOCH])

    assert [s.key for s in note.signatures] == ["PeterNeumann+c74f20a3", "EnochRoot+af0cfe78"]
    assert note.unverified_signatures == ()


def test_a_signature_by_an_unknown_key_is_kept_but_not_trusted() -> None:
    note = open_note(PETER_NOTE + ENOCH_SIG, [PETER])

    assert [s.key for s in note.signatures] == ["PeterNeumann+c74f20a3"]
    assert [s.key for s in note.unverified_signatures] == ["EnochRoot+af0cfe78"]


def test_the_spec_example_note_with_only_an_unknown_signer_is_refused() -> None:
    with pytest.raises(ProofError, match="note is not signed by any known key") as caught:
        open_note(QUASIMODO_NOTE, [PETER, ENOCH])

    assert caught.value.message == (
        "note is not signed by any known key: expected a signature by PeterNeumann+c74f20a3 or "
        "EnochRoot+af0cfe78, got quasimodo.example/salvatore+367ba04b"
    )


def test_the_text_ends_at_the_last_blank_line_so_a_text_may_hold_empty_lines() -> None:
    signer = Signer.from_text(generate_signer_key("quasimodo.example/salvatore"))
    text = QUASIMODO_NOTE.split("\n\n\u2014")[0] + "\n"

    note = open_note(sign_note(text, [signer]), [signer.verifier])

    assert note.text == (
        "Ognuno sta solo sul cuor della terra\n"
        "trafitto da un raggio di sole:\n"
        "\n"
        "ed \u00e8 subito sera.\n"
    )


def test_a_text_ending_in_empty_lines_round_trips() -> None:
    signer = Signer.from_text(PETER_SKEY)

    note = open_note(sign_note("a\n\n\n", [signer]), [PETER])

    assert note.text == "a\n\n\n"


# Tampering


def peter_signature_flipped_at(at: int) -> str:
    """PETER_B64 with one bit of its byte `at` flipped: bytes 0-3 are the key id, the rest the
    Ed25519 signature."""
    raw = bytearray(base64.b64decode(PETER_B64))
    raw[at] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_a_flipped_byte_in_the_text_is_refused() -> None:
    tampered = PETER_NOTE.replace("answer", "answes")

    with pytest.raises(ProofError, match="signature does not verify at position 4") as caught:
        open_note(tampered, [PETER])

    assert caught.value.message == (
        "signature does not verify at position 4: expected an Ed25519 signature of the note "
        f"text by PeterNeumann+c74f20a3, got {PETER_B64}"
    )
    assert caught.value.position == 4


def test_a_flipped_byte_in_the_signature_is_refused() -> None:
    flipped = peter_signature_flipped_at(10)

    with pytest.raises(ProofError, match="signature does not verify at position 4") as caught:
        open_note(PETER_NOTE.replace(PETER_B64, flipped), [PETER])

    assert caught.value.message.startswith("signature does not verify at position 4")
    assert caught.value.got == flipped


def test_a_signature_under_a_wrong_key_id_counts_as_an_unknown_key_and_is_refused() -> None:
    wrong_id = peter_signature_flipped_at(3)  # the last byte of its key id

    with pytest.raises(ProofError, match="note is not signed by any known key") as caught:
        open_note(PETER_NOTE.replace(PETER_B64, wrong_id), [PETER])

    assert caught.value.message == (
        "note is not signed by any known key: expected a signature by PeterNeumann+c74f20a3, "
        "got PeterNeumann+c74f20a2"
    )


def test_a_signature_by_another_key_with_the_same_name_is_not_trusted() -> None:
    impostor = Signer.from_text(generate_signer_key("PeterNeumann"))

    with pytest.raises(ProofError, match="note is not signed by any known key") as caught:
        open_note(sign_note(TEXT, [impostor]), [PETER])

    assert caught.value.message == (
        "note is not signed by any known key: expected a signature by PeterNeumann+c74f20a3, "
        f"got PeterNeumann+{impostor.key_id:08x}"
    )


def test_a_signature_by_another_key_claiming_the_known_key_id_is_refused() -> None:
    impostor = Signer.from_text(generate_signer_key("PeterNeumann"))
    forged = Signature("PeterNeumann", 0xC74F20A3, impostor.sign(TEXT.encode()))

    with pytest.raises(ProofError, match=r"^signature does not verify at position 4: expected"):
        open_note(TEXT + "\n" + forged.to_line(), [PETER])


def test_one_bad_signature_by_a_known_key_refuses_the_whole_note() -> None:
    bad_enoch = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]

    with pytest.raises(ProofError, match=r"^signature does not verify at position 5"):
        open_note(PETER_NOTE + bad_enoch, [PETER, ENOCH])


def test_a_repeated_line_by_a_known_key_is_verified_each_time_and_reported_once() -> None:
    bad_peter = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]

    opened = open_note(PETER_NOTE + PETER_SIG, [PETER])

    assert [s.key for s in opened.signatures] == ["PeterNeumann+c74f20a3"]
    with pytest.raises(ProofError, match=r"^signature does not verify at position 5"):
        open_note(PETER_NOTE + bad_peter, [PETER])


def test_identical_lines_by_an_unknown_key_are_kept_once() -> None:
    note = open_note(PETER_NOTE + ENOCH_SIG + ENOCH_SIG, [PETER])

    assert [s.key for s in note.unverified_signatures] == ["EnochRoot+af0cfe78"]


# Malformed notes


@pytest.mark.parametrize(
    ("note", "message"),
    [
        (TEXT + PETER_SIG, "note has no blank line between its text and its signatures"),
        (TEXT, "note has no blank line between its text and its signatures"),
        (TEXT + "\n", "note has no signature lines after the blank line"),
        (PETER_NOTE[:-1], "note must end with a newline"),
        ("\x01" + PETER_NOTE, "note line 1 contains U+0001: notes must be UTF-8 without control"),
        (PETER_NOTE.replace("If", "If\r"), "note line 1 contains U+000D"),
        (PETER_NOTE.replace("\u2014", "-"), "note line 4 is not a signature line: expected an em"),
        (PETER_NOTE.replace("\u2014 ", "\u2014"), "note line 4 is not a signature line"),
        (PETER_NOTE + "Unexpected line.\n", "note line 5 is not a signature line"),
        (
            PETER_NOTE.replace("Neumann ", "Neumann"),
            "signature line 4 must be '\u2014 <key name> <",
        ),
        (PETER_NOTE.replace("Peter", "Bad "), "signature line 4: signature is not standard base64"),
        (PETER_NOTE.replace("Peter", "a+"), "signature line 4: key name 'a+Neumann' must not"),
        (PETER_NOTE.replace("Peter", " "), "signature line 4: key name must not be empty"),
        (PETER_NOTE.replace("JnAM=", "JnAN="), "signature line 4: signature is not canonical"),
        (PETER_NOTE.replace("JnAM=", "JnAM"), "signature line 4: signature is not standard base64"),
        (PETER_NOTE.replace("/", "_"), "signature line 4: signature is not standard base64"),
        (TEXT + "\n\u2014 PeterNeumann x08g\n", "signature line 4: expected a 4-byte key id and a"),
        (TEXT + "\n\u2014 PeterNeumann \n", "signature line 4: expected a 4-byte key id"),
    ],
)
def test_a_malformed_note_is_refused_with_the_reason(note: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        open_note(note, [PETER])


def test_a_note_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^note is not valid UTF-8 at byte 0$"):
        open_note(b"\xff" + PETER_NOTE.encode(), [PETER])


def test_more_than_the_signature_limit_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^note has 101 signature lines; the limit is 100$"):
        open_note(TEXT + "\n" + PETER_SIG * (MAX_SIGNATURES + 1), [PETER])


def test_sixteen_signatures_are_accepted_as_the_spec_requires() -> None:
    signers = [Signer.from_text(generate_signer_key(f"witness{i}.example")) for i in range(16)]

    note = open_note(sign_note(TEXT, signers), [s.verifier for s in signers])

    assert len(note.signatures) == 16


def test_a_note_over_the_size_limit_is_refused() -> None:
    huge = "a" * (1 << 20) + "\n\n" + PETER_SIG
    size = len(huge.encode())

    with pytest.raises(InvalidInput, match=f"^note is {size} bytes; the limit is 1048576$"):
        open_note(huge, [PETER])


def test_opening_without_any_known_key_fails_closed() -> None:
    with pytest.raises(InvalidInput, match=r"^opening a note needs at least one known verifier"):
        open_note(PETER_NOTE, [])


def test_two_different_keys_under_one_name_and_key_id_are_ambiguous(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(signing, "key_id", lambda *_: 0xC74F20A3)
    other = Verifier("PeterNeumann", bytes(32))

    with pytest.raises(InvalidInput, match="two different keys are named PeterNeumann\\+c74f20a3"):
        open_note(PETER_NOTE, [PETER, other])


# Signing


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no final newline", "note text must end with a newline"),
        ("", "note text must end with a newline"),
        ("bell\x07\n", "note line 1 contains U+0007"),
        ("a\ttab\n", "note line 1 contains U+0009"),
    ],
)
def test_a_text_that_cannot_make_a_note_is_not_signed(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        sign_note(text, [Signer.from_text(PETER_SKEY)])


def test_signing_needs_a_signer_and_each_signer_once() -> None:
    signer = Signer.from_text(PETER_SKEY)

    with pytest.raises(InvalidInput, match=r"^a note needs at least one signer$"):
        sign_note(TEXT, [])
    with pytest.raises(InvalidInput, match=r"^each key may sign a note once"):
        sign_note(TEXT, [signer, signer])


# An independent verifier, written from the spec text, checked against open_note


REFERENCE_SEEDS = [bytes([i]) * 32 for i in range(1, 5)]
REFERENCE_NAMES = ["log.example/a", "witness.example", "log.example/a", "w\u00e8"]


def reference_open(
    note: bytes, known: dict[tuple[str, bytes], bytes]
) -> tuple[str, set[str]] | None:
    """Text and verified keys, or None. `known` maps (name, 4-byte key id) to a public key."""
    if len(note) > 1 << 20:
        return None
    try:
        decoded = note.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if re.search("[\x00-\x09\x0b-\x1f]", decoded):
        return None
    whole = re.fullmatch(r"(.*\n)\n((?:\u2014 [^\n]*\n)+)", decoded, flags=re.DOTALL)
    if whole is None or whole.group(2).count("\n") > 100:
        return None
    trusted: set[str] = set()
    for line in whole.group(2).split("\n")[:-1]:
        parsed = re.fullmatch(r"\u2014 ([^\s+]+) ([A-Za-z0-9+/=]+)", line)
        if parsed is None:
            return None
        try:
            blob = binascii.a2b_base64(parsed.group(2), strict_mode=True)
        except binascii.Error:
            return None
        if len(blob) < 5 or binascii.b2a_base64(blob, newline=False).decode() != parsed.group(2):
            return None
        public = known.get((parsed.group(1), blob[:4]))
        if public is None:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], whole.group(1).encode())
        except InvalidSignature:
            return None
        trusted.add(parsed.group(1) + "+" + blob[:4].hex())
    return (whole.group(1), trusted) if trusted else None


def ours(note: bytes, verifiers: list[Verifier]) -> tuple[str, set[str]] | None:
    try:
        opened = open_note(note, verifiers)
    except CustodyError:
        return None
    return opened.text, {s.key for s in opened.signatures}


def _reference_key(index: int) -> tuple[str, bytes, Ed25519PrivateKey]:
    private = Ed25519PrivateKey.from_private_bytes(REFERENCE_SEEDS[index])
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    name = REFERENCE_NAMES[index]
    return name, public, private


def _reference_line(index: int, text: bytes) -> str:
    name, public, private = _reference_key(index)
    key = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
    return f"\u2014 {name} {base64.b64encode(key + private.sign(text)).decode()}\n"


NOTE_TEXT = st.text(
    alphabet=st.sampled_from(["a", " ", "\n", "\u2014", "+", "=", "\u00e8", "\t", "\u00a0"]),
    max_size=30,
).map(lambda s: s + "\n")
MUTATION_CHARS = st.sampled_from(["\n", "\u2014", " ", "+", "=", "A", "/", "\x01", "\u00a0", ""])


@settings(max_examples=400, deadline=None)
@given(
    text=NOTE_TEXT,
    signed_by=st.lists(st.integers(0, 3), min_size=0, max_size=4),
    known_indexes=st.sets(st.integers(0, 3), min_size=1),
    mutation=st.one_of(st.none(), st.tuples(st.integers(0, 10_000), MUTATION_CHARS)),
)
def test_open_note_agrees_with_an_independent_reference_verifier(
    text: str,
    signed_by: list[int],
    known_indexes: set[int],
    mutation: tuple[int, str] | None,
) -> None:
    note = text + "\n" + "".join(_reference_line(i, text.encode()) for i in signed_by)
    if mutation is not None:
        at = mutation[0] % len(note)
        note = note[:at] + mutation[1] + note[at + 1 :]
    keys = [_reference_key(i) for i in sorted(known_indexes)]
    known = {
        (name, hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]): public
        for name, public, _ in keys
    }
    verifiers = [Verifier(name, public) for name, public, _ in keys]

    expected = reference_open(note.encode(), known)
    got = ours(note.encode(), verifiers)

    assert got == expected


@settings(max_examples=100, deadline=None)
@given(text=NOTE_TEXT.filter(lambda s: "\t" not in s))
def test_every_signed_text_opens_back_to_itself(text: str) -> None:
    signer = Signer.from_text(PETER_SKEY)

    note = open_note(sign_note(text, [signer]), [PETER])

    assert note.text == text
