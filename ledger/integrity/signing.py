"""Ed25519 note keys in the C2SP signed-note form, and the private key file.

Spec: c2sp.org/signed-note, section "Format" (key names: non-empty, no Unicode spaces, no '+'),
section "Signatures" (key ID = SHA-256(key name || 0x0A || signature type || public key)[:4],
big-endian) and section "Ed25519 signatures" (signature type 0x01, RFC 8032 keys). The key texts
are those of golang.org/x/mod/sumdb/note (package doc, "Verifying Notes" and "Signing Notes"):

    verifier key  <name>+<8 hex digits key id>+base64(0x01 || 32-byte public key)
    signer key    PRIVATE+KEY+<name>+<8 hex digits key id>+base64(0x01 || 32-byte seed)

A signer key is a secret: no message, repr or log line here ever contains its key data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Generic, Self, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.domain.errors import InvalidInput

ED25519 = 0x01
KEY_SIZE = 32
PRIVATE_PREFIX = "PRIVATE+KEY+"
MAX_KEY_FILE_BYTES = 4096
_HEX_ID = re.compile(r"[0-9a-fA-F]{8}")
_KEY_TEXT_SHAPE = "<name>+<8 hex digits>+<base64 key>"


def check_key_name(name: str) -> str:
    """Return `name` if it is a valid note key name (signed-note, "Format"), else raise."""
    if not name:
        raise InvalidInput("key name must not be empty")
    if "+" in name:
        raise InvalidInput(f"key name {name!r} must not contain '+'")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in name):
        raise InvalidInput(f"key name {name!r} must not contain spaces or control characters")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"key name {name!r} is not valid UTF-8") from None
    return name


def key_id(name: str, public_key: bytes, signature_type: int = ED25519) -> int:
    """The key ID: SHA-256(name || 0x0A || signature type || public key)[:4], type 0x01 unless told
    (0x04 is a tlog-cosignature Ed25519 key, ledger/witness/cosignatures.py)."""
    prefix = name.encode("utf-8") + b"\n" + bytes([signature_type])
    return int.from_bytes(hashlib.sha256(prefix + public_key).digest()[:4], "big")


def decode_base64(text: str, *, what: str) -> bytes:
    """Decode canonical standard base64 (RFC 4648 section 4); `text` never appears in errors."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{what} is not standard base64") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise InvalidInput(f"{what} is not canonical base64 (padding or trailing bits)")
    return data


def encode_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class NamedVerifier:
    """A named Ed25519 public key of one signature type, in the C2SP vkey form
    <name>+<key id>+base64(type || key): the key ID is derived from the name and key, never taken
    on trust. Subclasses say the type (`SIGNATURE_TYPE`, `TYPE_NAME`) and what to call it."""

    SIGNATURE_TYPE: ClassVar[int]
    TYPE_NAME: ClassVar[str]
    WHAT: ClassVar[str]

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.public_key) != KEY_SIZE:
            raise InvalidInput(
                f"Ed25519 public key is {len(self.public_key)} bytes; expected {KEY_SIZE}"
            )

    @classmethod
    def from_vkey(cls, vkey: str) -> Self:
        name, claimed_id, data = split_key_text(vkey, what=cls.WHAT)
        key = typed_key_data(
            data, what=cls.WHAT, signature_type=cls.SIGNATURE_TYPE, type_name=cls.TYPE_NAME
        )
        verifier = cls(name, key)
        check_key_id(claimed_id, verifier.key_id, name)
        return verifier

    @property
    def key_id(self) -> int:
        return key_id(self.name, self.public_key, self.SIGNATURE_TYPE)

    @property
    def vkey(self) -> str:
        data = encode_base64(bytes([self.SIGNATURE_TYPE]) + self.public_key)
        return f"{self.name}+{self.key_id:08x}+{data}"


@dataclass(frozen=True)
class Verifier(NamedVerifier):
    """A known public key of a signed note (signature type 0x01, Ed25519)."""

    SIGNATURE_TYPE: ClassVar[int] = ED25519
    TYPE_NAME: ClassVar[str] = "Ed25519"
    WHAT: ClassVar[str] = "verifier key"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


V = TypeVar("V")


class NamedKey(Generic[V]):
    """A named Ed25519 private key of one signature type, in the C2SP key text form
    PRIVATE+KEY+<name>+<key id>+base64(type || seed). Its repr names the key, never its secret.
    Subclasses say the type (`SIGNATURE_TYPE`, `TYPE_NAME`), what to call it (`WHAT`), and which
    verifier its public half makes (`_verifier`)."""

    __slots__ = ("_private_key", "name")
    SIGNATURE_TYPE: ClassVar[int]
    TYPE_NAME: ClassVar[str]
    WHAT: ClassVar[str]

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self.name = check_key_name(name)
        self._private_key = private_key

    @classmethod
    def from_text(cls, text: str) -> Self:
        if not text.startswith(PRIVATE_PREFIX):
            raise InvalidInput(f"{cls.WHAT} must have the form {PRIVATE_PREFIX}{_KEY_TEXT_SHAPE}")
        name, claimed_id, data = split_key_text(text[len(PRIVATE_PREFIX) :], what=cls.WHAT)
        seed = typed_key_data(
            data, what=cls.WHAT, signature_type=cls.SIGNATURE_TYPE, type_name=cls.TYPE_NAME
        )
        key = cls(name, Ed25519PrivateKey.from_private_bytes(seed))
        check_key_id(claimed_id, key.key_id, name)
        return key

    def _verifier(self, public_key: bytes) -> V:
        raise NotImplementedError

    @property
    def private_key(self) -> Ed25519PrivateKey:
        """The key object, for signing other formats (ledger/integrity/submissions.py) with the
        same key."""
        return self._private_key

    @property
    def verifier(self) -> V:
        return self._verifier(self._private_key.public_key().public_bytes_raw())

    @property
    def key_id(self) -> int:
        return key_id(
            self.name,
            self._private_key.public_key().public_bytes_raw(),
            signature_type=self.SIGNATURE_TYPE,
        )

    def sign(self, message: bytes) -> bytes:
        return self._private_key.sign(message)

    def to_text(self) -> str:
        """The key text: a secret, to be stored with write_private_key_file only."""
        data = encode_base64(bytes([self.SIGNATURE_TYPE]) + self._private_key.private_bytes_raw())
        return f"{PRIVATE_PREFIX}{self.name}+{self.key_id:08x}+{data}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name}+{self.key_id:08x})"


class Signer(NamedKey[Verifier]):
    """A note signer's key: signature type 0x01 (Ed25519)."""

    __slots__ = ()
    SIGNATURE_TYPE = ED25519
    TYPE_NAME = "Ed25519"
    WHAT = "signer key"

    def _verifier(self, public_key: bytes) -> Verifier:
        return Verifier(self.name, public_key)


def generate_signer_key(name: str) -> str:
    """A new signer key text for `name`; its public half is Signer.from_text(skey).verifier.vkey."""
    return Signer(name, Ed25519PrivateKey.generate()).to_text()


def write_private_key_file(
    path: str | os.PathLike[str], text: str, *, check: Callable[[str], object] | None = None
) -> None:
    """Create `path` with mode 0600 holding the key `text` (checked by `check`, by default as a
    signer key); never overwrite a file."""
    (check or Signer.from_text)(text)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        raise InvalidInput(f"refusing to overwrite the existing file {os.fspath(path)}") from None
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text + "\n")
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        os.unlink(path)
        raise


def read_private_key_file(
    path: str | os.PathLike[str], *, check: Callable[[str], object] | None = None
) -> str:
    """The key text in `path` (checked by `check`, by default as a signer key), refused if it is
    not a regular file or if group or others have any access to it."""
    content = _read_key_text(path)
    if len(content) > MAX_KEY_FILE_BYTES:
        raise InvalidInput(f"key file {os.fspath(path)} is larger than {MAX_KEY_FILE_BYTES} bytes")
    text = content.removesuffix("\n")
    (check or Signer.from_text)(text)
    return text


def _read_key_text(path: str | os.PathLike[str]) -> str:
    """Up to MAX_KEY_FILE_BYTES + 1 characters, read after the file's type and mode are checked on
    the open descriptor. Opened without blocking: a FIFO in the key's place is refused, not waited
    on."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        _check_key_file_mode(os.fstat(fd), os.fspath(path))
    except BaseException:
        os.close(fd)
        raise
    try:
        with os.fdopen(fd, encoding="utf-8") as file:
            return file.read(MAX_KEY_FILE_BYTES + 1)
    except UnicodeDecodeError:
        raise InvalidInput(f"key file {os.fspath(path)} is not UTF-8 text") from None


def _check_key_file_mode(status: os.stat_result, path: str) -> None:
    if not stat.S_ISREG(status.st_mode):
        raise InvalidInput(f"key file {path} is not a regular file")
    mode = stat.S_IMODE(status.st_mode)
    if mode & 0o077:
        raise InvalidInput(
            f"key file {path} is accessible by group or others: expected mode 0600, "
            f"got {mode:04o} (run: chmod 600 {path})"
        )


def split_key_text(text: str, *, what: str) -> tuple[str, int, bytes]:
    """Split `<name>+<hex id>+<base64>`; the base64 part is secret for signer keys."""
    parts = text.split("+", 2)
    if len(parts) != 3 or not _HEX_ID.fullmatch(parts[1]):
        raise InvalidInput(f"{what} must have the form {_KEY_TEXT_SHAPE}")
    name, hex_id, data = parts
    return check_key_name(name), int(hex_id, 16), decode_base64(data, what=f"{what} data")


def typed_key_data(key: bytes, *, what: str, signature_type: int, type_name: str) -> bytes:
    """The 32 key bytes of `type || key`, if `type` is `signature_type`."""
    if not key or key[0] != signature_type:
        got = f"0x{key[0]:02x}" if key else "nothing"
        raise InvalidInput(
            f"{what} has signature type {got}; expected 0x{signature_type:02x} ({type_name})"
        )
    if len(key) != 1 + KEY_SIZE:
        raise InvalidInput(f"{what} holds {len(key) - 1} key bytes; expected {KEY_SIZE}")
    return key[1:]


def check_key_id(claimed: int, derived: int, name: str) -> None:
    if claimed != derived:
        raise InvalidInput(
            f"key id of {name} does not match its key: expected {derived:08x}, got {claimed:08x}"
        )
