"""Checkpoints (c2sp.org/tlog-checkpoint), with the example at the top of that spec."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.errors import CustodyError, InvalidInput, ProofError
from ledger.integrity.checkpoints import (
    Checkpoint,
    parse_checkpoint,
    sign_checkpoint,
    verify_checkpoint,
)
from ledger.integrity.notes import sign_note
from ledger.integrity.signing import Signer, generate_signer_key

SPEC_ROOT = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
SPEC_TEXT = f"example.com/behind-the-sofa\n20852163\n{SPEC_ROOT}\n"
SPEC_NOTE = (
    SPEC_TEXT + "\n\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOo"
    "RDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
ORIGIN = "custody.example/log"
ROOT = bytes(range(32))
LOG = Signer.from_text(generate_signer_key(ORIGIN))


def test_the_spec_example_text_parses_and_prints_back_unchanged() -> None:
    checkpoint = parse_checkpoint(SPEC_TEXT)

    assert checkpoint == Checkpoint(
        "example.com/behind-the-sofa", 20852163, base64.b64decode(SPEC_ROOT)
    )
    assert checkpoint.to_text() == SPEC_TEXT


def test_the_spec_example_note_is_refused_under_our_key_of_the_same_name() -> None:
    ours = Signer.from_text(generate_signer_key("example.com/behind-the-sofa"))

    with pytest.raises(ProofError, match="note is not signed by any known key") as caught:
        verify_checkpoint(SPEC_NOTE, ours.verifier)

    assert caught.value.message == (
        "note is not signed by any known key: expected a signature by "
        f"example.com/behind-the-sofa+{ours.key_id:08x}, got example.com/behind-the-sofa+033de0ae"
    )


def test_a_signed_checkpoint_verifies_and_returns_the_checkpoint() -> None:
    checkpoint = Checkpoint(ORIGIN, 10_000_000, ROOT, ("extension one", "two"))

    note = sign_checkpoint(checkpoint, LOG)

    assert note.startswith(f"{ORIGIN}\n10000000\n{base64.b64encode(ROOT).decode()}\n")
    assert verify_checkpoint(note, LOG.verifier) == checkpoint
    assert verify_checkpoint(note, LOG.verifier, origin=ORIGIN) == checkpoint


def test_an_empty_tree_has_size_zero() -> None:
    checkpoint = Checkpoint(ORIGIN, 0, ROOT)

    assert checkpoint.to_text().split("\n")[1] == "0"
    assert parse_checkpoint(checkpoint.to_text()) == checkpoint


def test_a_checkpoint_for_another_origin_is_refused() -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 5, ROOT), LOG)

    with pytest.raises(ProofError, match="checkpoint is for another log") as caught:
        verify_checkpoint(note, LOG.verifier, origin="custody.example/other")

    assert caught.value.message == (
        "checkpoint is for another log: expected 'custody.example/other', got 'custody.example/log'"
    )


def test_a_checkpoint_whose_origin_is_not_the_key_name_is_refused_by_default() -> None:
    other = Signer.from_text(generate_signer_key("custody.example/key"))
    note = sign_note(Checkpoint(ORIGIN, 5, ROOT).to_text(), [other])

    with pytest.raises(ProofError, match=r"^checkpoint is for another log: expected 'custody.exa"):
        verify_checkpoint(note, other.verifier)

    assert verify_checkpoint(note, other.verifier, origin=ORIGIN).size == 5


def test_a_checkpoint_with_a_changed_size_is_refused() -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 5, ROOT), LOG)

    with pytest.raises(ProofError, match=r"^signature does not verify at position 5: expected"):
        verify_checkpoint(note.replace("\n5\n", "\n6\n"), LOG.verifier)


def test_a_signed_note_that_is_not_a_checkpoint_is_refused() -> None:
    note = sign_note("hello\n", [LOG])

    with pytest.raises(InvalidInput, match=r"^checkpoint has 1 lines; expected origin, tree size"):
        verify_checkpoint(note, LOG.verifier)


def test_the_log_key_name_must_be_the_origin_when_signing() -> None:
    other = Signer.from_text(generate_signer_key("custody.example/key"))

    with pytest.raises(
        InvalidInput, match="the log key name must match the checkpoint origin"
    ) as caught:
        sign_checkpoint(Checkpoint(ORIGIN, 5, ROOT), other)

    assert caught.value.message == (
        "the log key name must match the checkpoint origin: "
        "expected 'custody.example/log', got 'custody.example/key'"
    )


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ("007", "checkpoint tree size '007' is not a decimal number without leading zeros"),
        ("00", "checkpoint tree size '00' is not a decimal number without leading zeros"),
        ("+7", "checkpoint tree size '+7' is not a decimal"),
        ("-1", "checkpoint tree size '-1' is not a decimal"),
        (" 7", "checkpoint tree size ' 7' is not a decimal"),
        ("1_000", "checkpoint tree size '1_000' is not a decimal"),
        ("\u0667", "checkpoint tree size '\u0667' is not a decimal"),
        ("0x10", "checkpoint tree size '0x10' is not a decimal"),
        ("", "checkpoint tree size '' is not a decimal"),
        (
            "18446744073709551616",
            "checkpoint tree size 18446744073709551616 is larger than 2**64 - 1",
        ),
    ],
)
def test_a_tree_size_that_is_not_canonical_decimal_is_refused(size: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        parse_checkpoint(f"{ORIGIN}\n{size}\n{SPEC_ROOT}\n")


def test_the_largest_tree_size_is_accepted() -> None:
    assert parse_checkpoint(f"{ORIGIN}\n18446744073709551615\n{SPEC_ROOT}\n").size == 2**64 - 1


@pytest.mark.parametrize(
    ("root", "message"),
    [
        ("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=", "is not canonical base64"),
        ("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I", "is not standard base64"),
        ("CsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=", "is not standard base64"),
        ("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I= ", "is not standard base64"),
        (
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx",
            "checkpoint root hash is 30 bytes; expected 32",
        ),
        (base64.b64encode(bytes(48)).decode(), "checkpoint root hash is 48 bytes; expected 32"),
    ],
)
def test_a_root_hash_that_is_not_canonical_base64_of_32_bytes_is_refused(
    root: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        parse_checkpoint(f"{ORIGIN}\n5\n{root}\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"\n5\n{SPEC_ROOT}\n", "checkpoint origin must not be empty"),
        (f"{ORIGIN}\n5\n{SPEC_ROOT}", "checkpoint text must end with a newline"),
        (f"{ORIGIN}\n5\n", "checkpoint has 2 lines; expected origin, tree size and root hash"),
        (f"{ORIGIN}\n5\n{SPEC_ROOT}\n\n", "checkpoint extension line must not be empty"),
        (f"{ORIGIN}\n5\n{SPEC_ROOT}\nx\n\ny\n", "checkpoint extension line must not be empty"),
        (f"{ORIGIN}\x07\n5\n{SPEC_ROOT}\n", "checkpoint origin 'custody.example/log\\x07' must"),
    ],
)
def test_a_malformed_checkpoint_text_is_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        parse_checkpoint(text)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ((ORIGIN, -1, ROOT, ()), "tree size must be an integer from 0 to 2**64 - 1, got -1"),
        ((ORIGIN, True, ROOT, ()), "tree size must be an integer from 0 to 2**64 - 1, got True"),
        ((ORIGIN, 2**64, ROOT, ()), "tree size must be an integer from 0 to 2**64 - 1"),
        ((ORIGIN, 1, ROOT[:31], ()), "root hash is 31 bytes; expected 32 (SHA-256)"),
        (("", 1, ROOT, ()), "checkpoint origin must not be empty"),
        (("a\n9", 1, ROOT, ()), "checkpoint origin 'a\\n9' must not contain control characters"),
        ((ORIGIN, 1, ROOT, ("",)), "checkpoint extension line must not be empty"),
        ((ORIGIN, 1, ROOT, ("x\ny",)), "checkpoint extension line 'x\\ny' must not contain"),
    ],
)
def test_a_checkpoint_that_cannot_be_written_is_not_made(
    fields: tuple[str, int, bytes, tuple[str, ...]], message: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        Checkpoint(*fields)


# An independent parser, written from the spec text as one regular expression


REFERENCE = re.compile(
    r"([^\x00-\x1f]+)\n(0|[1-9][0-9]*)\n([A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=)\n"
    r"((?:[^\x00-\x1f]+\n)*)"
)


def reference_parse(text: str) -> tuple[str, int, bytes, tuple[str, ...]] | None:
    found = REFERENCE.fullmatch(text)
    if found is None or int(found.group(2)) >= 1 << 64:
        return None
    extensions = tuple(found.group(4).split("\n")[:-1])
    return found.group(1), int(found.group(2)), base64.b64decode(found.group(3)), extensions


def ours(text: str) -> tuple[str, int, bytes, tuple[str, ...]] | None:
    try:
        cp = parse_checkpoint(text)
    except CustodyError:
        return None
    return cp.origin, cp.size, cp.root_hash, cp.extensions


LINE = st.text(alphabet=st.sampled_from(["a", "/", " ", "+", "\u00e8", "\x01"]), max_size=8)
CHECKPOINTS = st.builds(
    Checkpoint,
    origin=LINE.filter(lambda s: s and "\x01" not in s),
    size=st.one_of(st.integers(0, 20), st.integers(0, 2**64 - 1)),
    root_hash=st.binary(min_size=32, max_size=32),
    extensions=st.lists(LINE.filter(lambda s: s and "\x01" not in s), max_size=2).map(tuple),
)
EDIT_CHARS = st.sampled_from(["\n", "0", "1", " ", "=", "A", "B", "+", "\x01", ""])


@settings(max_examples=400, deadline=None)
@given(
    checkpoint=CHECKPOINTS,
    edit=st.one_of(st.none(), st.tuples(st.integers(0, 10_000), EDIT_CHARS)),
)
def test_parse_checkpoint_agrees_with_an_independent_parser(
    checkpoint: Checkpoint, edit: tuple[int, str] | None
) -> None:
    text = checkpoint.to_text()
    if edit is not None:
        at = edit[0] % len(text)
        text = text[:at] + edit[1] + text[at + 1 :]

    expected = reference_parse(text)
    got = ours(text)

    assert got == expected
    if edit is None:
        assert parse_checkpoint(text) == checkpoint
