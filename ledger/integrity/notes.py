"""C2SP signed notes: a text, a blank line, then `— <key name> base64(key id || signature)` lines.

Spec: c2sp.org/signed-note, sections "Format" and "Signatures"; golang.org/x/mod/sumdb/note
(`Open`, `Sign`) is the reference behaviour. Where the spec leaves room, this module decides:

- The text is everything up to and including the newline before the *last* blank line.
- A note without signature lines is malformed (the spec requires "one or more").
- Limits: at most MAX_SIGNATURES signature lines (Go's cap; the spec asks for at least 16) and
  MAX_NOTE_BYTES in all.
- Base64 must be canonical; a signature must hold a key ID and at least one byte.
- A line matches a known key when both its name and key ID do; other lines are kept, untrusted.
- Every line matching a known key is verified and any failure refuses the whole note (the spec
  says MUST verify, SHOULD reject). Go skips repeated lines of one key unverified; we do not.
  Each key is reported once; identical unknown lines are kept once.
- A note with no verified signature from a known key is refused (ProofError), fail closed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ledger.domain.errors import InvalidInput, ProofError
from ledger.integrity.signing import Signer, Verifier, check_key_name, decode_base64, encode_base64

SIGNATURE_PREFIX = "\u2014 "
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 1 << 20
KEY_ID_SIZE = 4

KeyRef = tuple[str, int]


@dataclass(frozen=True)
class Signature:
    """One signature line: the key name, the 32-bit key ID and the raw signature bytes."""

    name: str
    key_id: int
    signature: bytes

    @property
    def key(self) -> str:
        return f"{self.name}+{self.key_id:08x}"

    @property
    def base64(self) -> str:
        return encode_base64(self.key_id.to_bytes(KEY_ID_SIZE, "big") + self.signature)

    def to_line(self) -> str:
        return f"{SIGNATURE_PREFIX}{self.name} {self.base64}\n"


@dataclass(frozen=True)
class Note:
    """An opened note: its text, verified signatures, and signatures by unknown keys."""

    text: str
    signatures: tuple[Signature, ...]
    unverified_signatures: tuple[Signature, ...] = ()


def sign_note(text: str, signers: Sequence[Signer]) -> str:
    """The signed note of `text` with one signature line per signer, in the order given."""
    _check_characters(text)
    if not text.endswith("\n"):
        raise InvalidInput("note text must end with a newline")
    if not signers:
        raise InvalidInput("a note needs at least one signer")
    if len(_index_keys(signer.verifier for signer in signers)) != len(signers):
        raise InvalidInput("each key may sign a note once; a signer is given twice")
    message = text.encode("utf-8")
    lines = (Signature(s.name, s.key_id, s.sign(message)).to_line() for s in signers)
    note = text + "\n" + "".join(lines)
    _decode(note)
    return note


def open_note(note: str | bytes, verifiers: Sequence[Verifier]) -> Note:
    """Verify `note` against the known `verifiers` and return it, or raise.

    1. Check size, UTF-8 and characters. 2. Split the text from the signature lines at the last
    blank line. 3. Parse each signature line. 4. Verify every line whose name and key ID match a
    known key. 5. Require at least one verified signature.
    """
    if not verifiers:
        raise InvalidInput("opening a note needs at least one known verifier key")
    known = _index_keys(verifiers)
    text, first_line, lines = _split(_decode(note))
    parsed = [_parse_line(line, first_line + i) for i, line in enumerate(lines)]
    verified, unverified = _check_signatures(text.encode("utf-8"), parsed, known)
    if not verified:
        raise ProofError(
            "note is not signed by any known key",
            expected="a signature by " + " or ".join(_key_text(*ref) for ref in known),
            got=", ".join(sig.key for _, sig in parsed),
        )
    return Note(text, verified, unverified)


class _OfALog(Protocol):
    @property
    def origin(self) -> str: ...


Statement = TypeVar("Statement", bound=_OfALog)


def open_statement(
    note: str,
    verifier: Verifier,
    origin: str | None,
    parse: Callable[[str], Statement],
    what: str,
) -> Statement:
    """What a log signed in `note` (a checkpoint, a receipt: `what`), parsed from the note's text
    once `verifier` verifies it, and for the log `origin` (default: the key name)."""
    expected = verifier.name if origin is None else origin
    statement = parse(open_note(note, [verifier]).text)
    if statement.origin != expected:
        raise ProofError(
            f"{what} is for another log", expected=repr(expected), got=repr(statement.origin)
        )
    return statement


def split_note(note: str | bytes) -> tuple[str, tuple[Signature, ...]]:
    """The text and every signature line of `note`, parsed as open_note parses them (steps 1 to
    3, the same refusals) but verified by no one: for signatures that are not of the note text
    itself, such as tlog-cosignatures (ledger/witness/cosignatures.py)."""
    text, first_line, lines = _split(_decode(note))
    return text, tuple(_parse_line(line, first_line + i)[1] for i, line in enumerate(lines))


def _decode(note: str | bytes) -> str:
    size = len(note) if isinstance(note, bytes) else len(note.encode("utf-8", "surrogatepass"))
    if size > MAX_NOTE_BYTES:
        raise InvalidInput(f"note is {size} bytes; the limit is {MAX_NOTE_BYTES}")
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidInput(f"note is not valid UTF-8 at byte {error.start}") from None
    _check_characters(note)
    return note


def _check_characters(text: str) -> None:
    for number, line in enumerate(text.split("\n"), start=1):
        bad = next((ch for ch in line if ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF), None)
        if bad is not None:
            raise InvalidInput(
                f"note line {number} contains U+{ord(bad):04X}: "
                "notes must be UTF-8 without control characters other than newline"
            )


def _split(note: str) -> tuple[str, int, list[str]]:
    """The text, the line number of the first signature line, and the signature lines."""
    if not note.endswith("\n"):
        raise InvalidInput("note must end with a newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise InvalidInput("note has no blank line between its text and its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise InvalidInput("note has no signature lines after the blank line")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise InvalidInput(f"note has {len(lines)} signature lines; the limit is {MAX_SIGNATURES}")
    return text, text.count("\n") + 2, lines


def _parse_line(line: str, number: int) -> tuple[int, Signature]:
    if not line.startswith(SIGNATURE_PREFIX):
        raise InvalidInput(
            f"note line {number} is not a signature line: expected an em dash (U+2014) and a space"
        )
    name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not space:
        raise InvalidInput(f"signature line {number} must be '— <key name> <base64 signature>'")
    try:
        check_key_name(name)
        data = decode_base64(encoded, what="signature")
    except InvalidInput as error:
        raise InvalidInput(f"signature line {number}: {error.message}") from None
    if len(data) <= KEY_ID_SIZE:
        raise InvalidInput(
            f"signature line {number}: expected a 4-byte key id and a signature,"
            f" got {len(data)} bytes"
        )
    key = int.from_bytes(data[:KEY_ID_SIZE], "big")
    return number, Signature(name, key, data[KEY_ID_SIZE:])


def _check_signatures(
    message: bytes, parsed: list[tuple[int, Signature]], known: dict[KeyRef, Verifier]
) -> tuple[tuple[Signature, ...], tuple[Signature, ...]]:
    verified: dict[KeyRef, Signature] = {}
    unverified: dict[Signature, None] = {}
    for number, sig in parsed:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            unverified.setdefault(sig)
            continue
        if not verifier.verify(message, sig.signature):
            raise ProofError(
                "signature does not verify",
                position=number,
                expected=f"an Ed25519 signature of the note text by {sig.key}",
                got=sig.base64,
            )
        verified.setdefault((sig.name, sig.key_id), sig)
    return tuple(verified.values()), tuple(unverified)


def _index_keys(verifiers: Iterable[Verifier]) -> dict[KeyRef, Verifier]:
    """Known keys by (name, key ID); two different keys under one pair are ambiguous."""
    index: dict[KeyRef, Verifier] = {}
    for verifier in verifiers:
        ref = (verifier.name, verifier.key_id)
        if index.setdefault(ref, verifier) != verifier:
            raise InvalidInput(f"two different keys are named {_key_text(*ref)}: ambiguous")
    return index


def _key_text(name: str, key: int) -> str:
    return f"{name}+{key:08x}"
