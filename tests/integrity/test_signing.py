"""Note keys (c2sp.org/signed-note) and the private key file.

The PeterNeumann and EnochRoot keys are the examples of golang.org/x/mod/sumdb/note (package doc and
note_test.go, TestNewVerifier, TestNewSigner and TestVerifierList).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from ledger.domain.errors import InvalidInput
from ledger.integrity.signing import (
    Signer,
    Verifier,
    check_key_name,
    generate_signer_key,
    key_id,
    read_private_key_file,
    write_private_key_file,
)

PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
PETER_SECRET = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"


# Key names and key ids


def test_the_key_id_is_the_first_four_bytes_of_sha256_of_name_newline_type_and_public_key() -> None:
    public_key = Verifier.from_vkey(PETER_VKEY).public_key
    digest = hashlib.sha256(b"PeterNeumann" + b"\x0a" + b"\x01" + public_key).digest()

    derived = key_id("PeterNeumann", public_key)

    assert derived == int.from_bytes(digest[:4], "big") == 0xC74F20A3


def test_the_go_example_verifier_key_parses_and_prints_back_unchanged() -> None:
    verifier = Verifier.from_vkey(PETER_VKEY)

    assert verifier.name == "PeterNeumann"
    assert verifier.key_id == 0xC74F20A3
    assert verifier.vkey == PETER_VKEY
    assert Verifier.from_vkey(ENOCH_VKEY).key_id == 0xAF0CFE78


def test_the_go_example_signer_key_derives_the_go_example_verifier_key() -> None:
    signer = Signer.from_text(PETER_SKEY)

    assert signer.name == "PeterNeumann"
    assert signer.key_id == 0xC74F20A3
    assert signer.verifier.vkey == PETER_VKEY
    assert signer.to_text() == PETER_SKEY


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "key name must not be empty"),
        ("a+b", "key name 'a+b' must not contain '+'"),
        ("Bad Name", "key name 'Bad Name' must not contain spaces or control characters"),
        ("tab\there", "must not contain spaces or control characters"),
        ("no\u00a0break", "must not contain spaces or control characters"),
        ("ideographic\u3000space", "must not contain spaces or control characters"),
        ("bell\x07", "must not contain spaces or control characters"),
        ("lone\ud800surrogate", "is not valid UTF-8"),
    ],
)
def test_a_key_name_with_a_plus_a_space_or_a_control_character_is_refused(
    name: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        check_key_name(name)


def test_key_names_may_be_schema_less_urls_and_unicode() -> None:
    assert check_key_name("custody.example/log") == "custody.example/log"
    assert (
        check_key_name("quasimodo.example/salvatore\u00e8") == "quasimodo.example/salvatore\u00e8"
    )


# Key ids


@pytest.mark.parametrize(
    ("parse", "text", "got"),
    [
        pytest.param(
            Verifier.from_vkey,
            PETER_VKEY.replace("c74f20a3", "c74f20a4"),
            "c74f20a4",
            id="a-verifier-key",
        ),
        pytest.param(
            Signer.from_text,
            PETER_SKEY.replace("c74f20a3", "af0cfe78"),  # the id of another key
            "af0cfe78",
            id="a-signer-key",
        ),
    ],
)
def test_a_key_whose_key_id_does_not_match_its_key_is_refused_without_showing_the_secret(
    parse: Callable[[str], object], text: str, got: str
) -> None:
    with pytest.raises(
        InvalidInput, match="key id of PeterNeumann does not match its key"
    ) as caught:
        parse(text)

    assert caught.value.message == (
        f"key id of PeterNeumann does not match its key: expected c74f20a3, got {got}"
    )
    assert PETER_SECRET not in str(caught.value)


# Verifier keys


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        (
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "verifier key data is not canonical base64",
        ),
        (
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEQ==",
            "verifier key holds 36 key bytes; expected 32",
        ),
        (
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "verifier key has signature type 0x65; expected 0x01 \\(Ed25519\\)",
        ),
        ("PeterNeumann+c74f20a3", "verifier key must have the form <name>\\+<8 hex digits>"),
        ("PeterNeumann+c74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "must have the form"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq_LDE4izWy10TW", "not standard"),
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name must not be empty"),
    ],
)
def test_a_malformed_verifier_key_is_refused_with_the_reason(vkey: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Verifier.from_vkey(vkey)


def test_every_truncation_and_every_changed_character_of_a_verifier_key_is_refused() -> None:
    """The manglings of Go's TestNewVerifier: no substring and no one-character change passes."""
    accepted = [m for m in manglings(PETER_VKEY) if _accepts(Verifier.from_vkey, m)]

    assert accepted == []


def test_a_verifier_rejects_a_changed_message_and_a_changed_signature() -> None:
    signer = Signer.from_text(generate_signer_key("custody.example/log"))
    signature = signer.sign(b"hi")

    assert signer.verifier.verify(b"hi", signature)
    assert not signer.verifier.verify(b"hj", signature)
    assert not signer.verifier.verify(b"hi", bytes([signature[0] ^ 1]) + signature[1:])
    assert not signer.verifier.verify(b"hi", signature[:-1])


# Signer keys


def test_a_generated_signer_key_signs_what_its_verifier_key_accepts() -> None:
    skey = generate_signer_key("custody.example/log")

    signer = Signer.from_text(skey)
    verifier = Verifier.from_vkey(signer.verifier.vkey)

    assert skey.startswith("PRIVATE+KEY+custody.example/log+")
    assert verifier.verify(b"entry", signer.sign(b"entry"))
    assert verifier.key_id == signer.key_id


def test_every_truncation_and_every_changed_character_of_a_signer_key_is_refused() -> None:
    """The manglings of Go's TestNewSigner."""
    accepted = [m for m in manglings(PETER_SKEY) if _accepts(Signer.from_text, m)]

    assert accepted == []


def test_a_verifier_key_is_not_accepted_as_a_signer_key() -> None:
    with pytest.raises(InvalidInput, match="signer key must have the form PRIVATE\\+KEY\\+<name>"):
        Signer.from_text(PETER_VKEY)


def test_a_signer_never_shows_its_secret_in_its_repr_or_in_errors() -> None:
    signer = Signer.from_text(PETER_SKEY)
    broken = PETER_SKEY[:-1] + "!"

    with pytest.raises(InvalidInput, match="signer key data is not standard base64") as caught:
        Signer.from_text(broken)

    assert repr(signer) == "Signer(PeterNeumann+c74f20a3)"
    assert PETER_SECRET[:-1] not in str(caught.value)
    assert caught.value.message == "signer key data is not standard base64"


# The private key file


def test_a_key_file_is_created_with_mode_0600_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    old_umask = os.umask(0)
    try:
        write_private_key_file(path, PETER_SKEY)
    finally:
        os.umask(old_umask)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8") == PETER_SKEY + "\n"
    assert read_private_key_file(path) == PETER_SKEY


def test_an_existing_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    write_private_key_file(path, PETER_SKEY)
    other = generate_signer_key("other.example")

    with pytest.raises(InvalidInput, match="refusing to overwrite the existing file") as caught:
        write_private_key_file(path, other)

    assert caught.value.message == f"refusing to overwrite the existing file {path}"
    assert read_private_key_file(path) == PETER_SKEY


def test_a_key_file_is_not_written_through_a_symbolic_link(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    link = tmp_path / "log.key"
    link.symlink_to(target)

    with pytest.raises(InvalidInput, match="refusing to overwrite"):
        write_private_key_file(link, PETER_SKEY)

    assert not target.exists()


def test_text_that_is_not_a_signer_key_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "log.key"

    with pytest.raises(InvalidInput, match="signer key must have the form"):
        write_private_key_file(path, PETER_VKEY)

    assert not path.exists()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602])
def test_a_key_file_open_to_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "log.key"
    path.write_text(PETER_SKEY + "\n", encoding="utf-8")
    path.chmod(mode)

    with pytest.raises(
        InvalidInput, match="is accessible by group or others: expected mode 0600"
    ) as caught:
        read_private_key_file(path)

    assert caught.value.message == (
        f"key file {path} is accessible by group or others: expected mode 0600, "
        f"got {mode:04o} (run: chmod 600 {path})"
    )


def test_a_key_file_with_mode_0400_is_read(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    path.write_text(PETER_SKEY + "\n", encoding="utf-8")
    path.chmod(0o400)

    assert read_private_key_file(path) == PETER_SKEY


def test_a_key_file_holding_something_else_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    path.write_text("hello\n", encoding="utf-8")
    path.chmod(0o600)

    with pytest.raises(InvalidInput, match="signer key must have the form"):
        read_private_key_file(path)


def manglings(key: str) -> list[str]:
    """Every substring of `key` and every one-character change of it, as Go's tests make them;
    never `key` itself."""
    n = len(key)
    cut = [key[i:j] for i in range(n) for j in range(i + 1, n + 1)]
    changed = [key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :] for i in range(n)]
    return [m for m in cut + changed if m != key]


def _accepts(parse: object, text: str) -> bool:
    assert callable(parse)
    try:
        parse(text)
    except InvalidInput:
        return False
    return True
