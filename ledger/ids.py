"""Identity: normalised serials and the deterministic ids of items, parties and agreements.

An item's identity is manufacturer + model + normalised serial, so the same rifle issued twice maps
to the same aggregate id and the second issue is refused by the store itself (version 1 exists).
"""

from __future__ import annotations

import re
import unicodedata
from uuid import UUID, uuid5

from ledger.errors import InvalidInput

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
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text):
        raise InvalidInput(f"{field} contains a control or unassigned character")
    return text


def normalise_serial(serial: str) -> str:
    """Fold case, spaces and dashes: 'ab-12 345' and 'AB12345' are the same serial."""
    marked = clean_text(serial, field="serial", max_length=64)
    folded = _FOLDED.sub("", marked).upper()
    if not folded:
        raise InvalidInput(f"serial {serial!r} has no letters or digits")
    return folded


def _fold_name(value: str, field: str) -> str:
    return " ".join(clean_text(value, field=field).casefold().split())


def item_id(manufacturer: str, model: str, serial: str) -> UUID:
    key = "|".join(
        (
            _fold_name(manufacturer, "manufacturer"),
            _fold_name(model, "model"),
            normalise_serial(serial),
        )
    )
    return uuid5(NAMESPACE, "item:" + key)


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
