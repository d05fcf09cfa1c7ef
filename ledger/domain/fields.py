"""Checks of the plain fields of a command, shared by the Ledger's use cases."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

from ledger.domain.errors import InvalidInput
from ledger.domain.ids import clean_text, parse_item_id

E = TypeVar("E", bound=StrEnum)
DETAIL_FIELDS = frozenset(
    {
        "calibre",
        "country_of_manufacture",
        "year",
        "value",
        "lot",
        "lot_size",
        "description",
        "location",
    }
)


def member(enum: type[E], value: str, field: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidInput(f"{field} {value!r} is not one of: {allowed}") from None


def optional_text(value: str | None, field: str) -> str | None:
    return None if value is None else clean_text(value, field=field, max_length=500)


def sha256_hex(value: str) -> str:
    digest = value.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInput(f"evidence {value!r} is not a SHA-256 hex digest")
    return digest


def item_uuid(item: UUID | str) -> UUID:
    return item if isinstance(item, UUID) else parse_item_id(item)


def details(given: dict[str, Any]) -> dict[str, Any]:
    """The optional marking fields; values are text or whole numbers, never floats."""
    unknown = set(given) - DETAIL_FIELDS
    if unknown:
        raise InvalidInput(f"unknown item fields: {', '.join(sorted(unknown))}")
    checked: dict[str, Any] = {}
    for key, value in given.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise InvalidInput(f"{key} must be text or a whole number")
        checked[key] = value if isinstance(value, int) else clean_text(value, field=key)
    if "value" in checked:
        _decimal(str(checked["value"]))
    return checked


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"value {text!r} is not a decimal number") from None
