"""C2SP tlog-checkpoint: the signed tree head of the log, as the text of a signed note.

Spec: c2sp.org/tlog-checkpoint, section "Note text": at least three non-empty lines, each ending in
a newline: the origin (non-empty), the tree size (ASCII decimal, no leading zeros unless 0), the
RFC 6962 root hash in standard base64, then optional non-empty extension lines. Section
"Signatures": the log's key name SHOULD match the origin, which sign_checkpoint enforces and
verify_checkpoint expects unless told another origin. Signature lines follow c2sp.org/signed-note
(ledger.notes). Parsing is strict: what to_text would not produce is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ledger.domain.errors import InvalidInput
from ledger.integrity.notes import open_statement, sign_note
from ledger.integrity.signing import Signer, Verifier, decode_base64, encode_base64

HASH_SIZE = 32
MAX_TREE_SIZE = 2**64 - 1
_TREE_SIZE = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        for extension in self.extensions:
            _check_line(extension, "extension line")
        if type(self.size) is not int or not 0 <= self.size <= MAX_TREE_SIZE:
            raise InvalidInput(
                f"tree size must be an integer from 0 to 2**64 - 1, got {self.size!r}"
            )
        if len(self.root_hash) != HASH_SIZE:
            raise InvalidInput(
                f"root hash is {len(self.root_hash)} bytes; expected {HASH_SIZE} (SHA-256)"
            )

    def to_text(self) -> str:
        lines = (self.origin, str(self.size), encode_base64(self.root_hash), *self.extensions)
        return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """The checkpoint in a note text, refused unless it is exactly as to_text writes it."""
    if not text.endswith("\n"):
        raise InvalidInput("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise InvalidInput(
            f"checkpoint has {len(lines)} lines; expected origin, tree size and root hash"
        )
    origin, size, root, *extensions = lines
    return Checkpoint(origin, _parse_size(size), _parse_root(root), tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """The checkpoint as a note signed by the log's key, whose name must be the origin."""
    if signer.name != checkpoint.origin:
        raise InvalidInput(
            f"the log key name must match the checkpoint origin: "
            f"expected {checkpoint.origin!r}, got {signer.name!r}"
        )
    return sign_note(checkpoint.to_text(), [signer])


def verify_checkpoint(note_text: str, verifier: Verifier, origin: str | None = None) -> Checkpoint:
    """The checkpoint signed by `verifier` in `note_text` for `origin` (default: the key name)."""
    return open_statement(note_text, verifier, origin, parse_checkpoint, "checkpoint")


def _check_line(line: str, what: str) -> None:
    if not line:
        raise InvalidInput(f"checkpoint {what} must not be empty")
    if any(ord(ch) < 0x20 for ch in line):
        raise InvalidInput(f"checkpoint {what} {line!r} must not contain control characters")


def _parse_size(line: str) -> int:
    if not _TREE_SIZE.fullmatch(line):
        raise InvalidInput(
            f"checkpoint tree size {line!r} is not a decimal number without leading zeros"
        )
    size = int(line)
    if size > MAX_TREE_SIZE:
        raise InvalidInput(f"checkpoint tree size {line} is larger than 2**64 - 1")
    return size


def _parse_root(line: str) -> bytes:
    root = decode_base64(line, what=f"checkpoint root hash {line!r}")
    if len(root) != HASH_SIZE:
        raise InvalidInput(
            f"checkpoint root hash is {len(root)} bytes; expected {HASH_SIZE} (SHA-256)"
        )
    return root
