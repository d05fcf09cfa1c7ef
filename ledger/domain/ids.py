"""Identity: the serial normal form, and the deterministic ids of items, parties and agreements.

An item's identity is manufacturer + model + serial in the normal form (`marking_form`, documented
in docs/identity.md): NFKC; every decimal digit to its ASCII digit; confusable characters folded to
their UTS #39 skeleton (ICU's spoof checker); case folded; separators, punctuation and symbols
removed. Default-ignorable, format, control, private-use, surrogate and unassigned characters are
refused, and so is a marking without a letter or digit. The serial as marked is kept verbatim.

Item ids are older than the normal form: `item_id` derives them from the legacy key (NFKC, case,
spaces and dashes folded), so every store keeps the ids it issued. Look-alikes, which have other
ids, are refused by the index of identities (ledger/store/serials.py), not by the id.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from uuid import UUID, uuid5

import icu  # type: ignore[import-untyped]

from ledger.domain.errors import InvalidInput

NAMESPACE = UUID("6f1c7a52-3d0e-4c55-9a51-8f3b1f0c2d7e")

MAX_TEXT = 200
_FOLDED = re.compile("[\\s\\-\u2010\u2011\u2012\u2013\u2014\u2015\u2212]+")  # spaces, dashes
_PARTY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")


def clean_text(value: str, *, field: str, max_length: int = MAX_TEXT) -> str:
    """NFKC-normalise a free-text field and refuse control characters and empty values."""
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        raise InvalidInput(f"{field} must not be empty")
    if len(text) > max_length:
        raise InvalidInput(f"{field} is {len(text)} characters long; the limit is {max_length}")
    if text.isascii() and text.isprintable():
        return text  # no control, format, surrogate, private-use or unassigned character
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text):
        raise InvalidInput(f"{field} contains a control or unassigned character")
    return text


MAX_SERIAL = 64
FOLD_ROUNDS = 4
FORM_CACHE = 8192
"""Normal forms kept (manufacturer and model names repeat on every issue of a programme)."""
REFUSED_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "a format character",
    "Cs": "a surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned character",
}
_REMOVED = ("Z", "P", "S")  # separators, punctuation, symbols: the Unicode major categories
_IGNORABLE = icu.UProperty.DEFAULT_IGNORABLE_CODE_POINT


def check_marking(value: str, *, field: str = "serial", max_length: int = MAX_SERIAL) -> str:
    """The marking as given (surrounding white space dropped), if its normal form may be taken:
    no default-ignorable, format, control, surrogate, private-use or unassigned character, and
    at least one letter or digit."""
    marked = value.strip()
    if not marked:
        raise InvalidInput(f"{field} must not be empty")
    if len(marked) > max_length:
        raise InvalidInput(f"{field} is {len(marked)} characters long; the limit is {max_length}")
    if marked.isascii() and marked.isprintable() and any(ch.isalnum() for ch in marked):
        return marked  # printable ASCII: no character refused, and NFKC changes none
    for text in (marked, unicodedata.normalize("NFKC", marked)):
        for ch in text:
            _refuse_invisible(ch, field, value)
    if not any(unicodedata.category(ch)[0] in "LN" for ch in marked):
        raise InvalidInput(f"{field} {value!r} has no letter or digit")
    return marked


def _refuse_invisible(ch: str, field: str, value: str) -> None:
    what = REFUSED_CATEGORIES.get(unicodedata.category(ch))
    if what is None and icu.Char.hasBinaryProperty(ch, _IGNORABLE):
        what = "a default-ignorable character"
    if what is not None:
        raise InvalidInput(f"{field} {value!r} contains {what} (U+{ord(ch):04X}), which is refused")


def marking_form(value: str, *, field: str = "serial", max_length: int = MAX_SERIAL) -> str:
    """The normal form of a serial (or of a model or manufacturer name, or a serial as read):
    two markings a person could not tell apart have the same form (docs/identity.md)."""
    form = _form(check_marking(value, field=field, max_length=max_length))
    if not form:
        raise InvalidInput(f"{field} {value!r} has no letter or digit")
    return form


@lru_cache(maxsize=FORM_CACHE)
def _form(marked: str) -> str:
    """The form of a marking `check_marking` passed, cached by the marking alone: the same
    serial's form is asked for with other arguments (the issue's identity, the index's lenient
    form of the entry), whose results `marking_form`'s own cache keeps apart."""
    text = _folded(unicodedata.normalize("NFKC", marked))
    if text.isascii():  # the same characters removed, by one table instead of one test each
        return text.translate(_ASCII_REMOVED)
    return unicodedata.normalize("NFC", "".join(ch for ch in text if _kept(ch)))


def _ascii_digit(ch: str) -> str:
    digit = unicodedata.decimal(ch, None)
    return ch if digit is None else str(digit)


def _kept(ch: str) -> bool:
    return unicodedata.category(ch)[0] not in _REMOVED


_ASCII_REMOVED = {i: None for i in range(128) if not _kept(chr(i))}
"""What `_kept` removes of ASCII (every ASCII digit is its own decimal digit, and NFC leaves
ASCII alone)."""


@lru_cache(maxsize=1)
def _spoof_checker() -> icu.SpoofChecker:
    return icu.SpoofChecker()


def _folded(text: str) -> str:
    """Digits, confusables and case folded together, to a fixed point: every decimal digit to
    ASCII; upper case, so that a small Cyrillic or Greek letter meets the Latin capital it looks
    like; then skeleton, case fold, skeleton, case fold. Three rounds at most reach the fixed point
    for every letter and digit of the BMP (tests/domain/test_serial_form.py checks it)."""
    for _ in range(FOLD_ROUNDS):
        digits = text if text.isascii() else "".join(_ascii_digit(ch) for ch in text)
        folded = _skeleton(_skeleton(digits.upper()).casefold()).casefold()
        if folded == text:
            break
        text = folded
    return text


def _skeleton(text: str) -> str:
    """UTS #39 skeleton: NFD, each character to its prototype in confusables.txt, NFD."""
    return str(_spoof_checker().getSkeleton(0, text))


def normalise_serial(serial: str) -> str:
    """The serial's normal form (`marking_form`); refuses what `check_marking` refuses."""
    return marking_form(serial)


def legacy_serial_key(serial: str) -> str:
    """The serial key of item ids before the normal form: NFKC, spaces and dashes folded, upper
    case. Only `item_id` uses it, so that ids issued before stay the ids of their items."""
    marked = clean_text(serial, field="serial", max_length=MAX_SERIAL)
    folded = _FOLDED.sub("", marked).upper()
    if not folded:
        raise InvalidInput(f"serial {serial!r} has no letters or digits")
    return folded


def _fold_name(value: str, field: str) -> str:
    return " ".join(clean_text(value, field=field).casefold().split())


def item_id(manufacturer: str, model: str, serial: str) -> UUID:
    """The item's aggregate id, from the legacy key (stable across versions of the normal form).
    The serial must pass `check_marking` first."""
    check_marking(serial)
    key = "|".join(
        (
            _fold_name(manufacturer, "manufacturer"),
            _fold_name(model, "model"),
            legacy_serial_key(serial),
        )
    )
    return uuid5(NAMESPACE, "item:" + key)


def identity_key(manufacturer: str, model: str, serial: str) -> str:
    """One text per marking: manufacturer, model and serial in the normal form, joined by '|'
    (which the normal form removes, so the parts cannot run into each other)."""
    return "|".join(
        (
            marking_form(manufacturer, field="manufacturer", max_length=MAX_TEXT),
            marking_form(model, field="model", max_length=MAX_TEXT),
            marking_form(serial),
        )
    )


def check_party_id(value: str, *, field: str = "party id") -> str:
    if not _PARTY_ID.match(value):
        raise InvalidInput(
            f"{field} {value!r} must be 1 to 100 letters, digits, '.', '_', ':' or '-',"
            " starting with a letter or digit"
        )
    return value


def party_uuid(party: str) -> UUID:
    return uuid5(NAMESPACE, "party:" + check_party_id(party))


def agreement_uuid(agreement: str) -> UUID:
    return uuid5(NAMESPACE, "agreement:" + check_party_id(agreement, field="agreement id"))


def token_uuid(token_hash: str) -> UUID:
    return uuid5(NAMESPACE, "token:" + token_hash)


def parse_item_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise InvalidInput(f"item id {value!r} is not a UUID") from None
