"""Canonical entry bytes: what each stored event becomes in the Merkle log (docs/verification.md).

An entry is one JSON object, UTF-8, keys sorted, no insignificant white space, no floats:

    {"actor": ..., "aggregate_id": ..., "aggregate_version": ..., "format": "custody-entry/v1",
     "occurred_at": ..., "origin": ..., "payload": {...}, "prev": hex | null,
     "recorded_at": ..., "signature": base64 | null, "type": ...}

`format` separates domains and lets the format evolve. `prev` is the leaf hash of the same
aggregate's previous entry, so each item's history is a hash chain inside the log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any
from uuid import UUID

from ledger.domain.errors import InvalidInput
from ledger.domain.events import Reported
from ledger.domain.times import format_time

ENTRY_FORMAT = "custody-entry/v1"
MAX_ENTRY_BYTES = 64 * 1024
MAX_SAFE_INTEGER = 2**53 - 1
# Held in the entry's own fields; everything else of the stored event goes into `payload`, so the
# entry covers every value the stored event holds (the creating event's aggregate topic included).
ENVELOPE = frozenset(
    {"originator_id", "originator_version", "timestamp", "occurred_at", "actor", "signature"}
)
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
KEY_CACHE = 1024

Body = dict[str, Any]


def entry_body(event: Reported, *, origin: str) -> Body:
    """Everything of an entry but `prev`, which the log adds when it appends the entry."""
    payload = {k: v for k, v in vars(event).items() if k not in ENVELOPE}
    return {
        "format": ENTRY_FORMAT,
        "origin": origin,
        "aggregate_id": str(event.originator_id),
        "aggregate_version": event.originator_version,
        "type": type(event).TOPIC,  # type: ignore[attr-defined]
        "payload": json_value(payload),
        "occurred_at": format_time(event.occurred_at),
        "recorded_at": format_time(event.timestamp),
        "actor": event.actor,
        "signature": event.signature,
    }


def encode_entry(body: Body, *, prev: bytes | None) -> bytes:
    entry = canonical_json({**body, "prev": prev.hex() if prev is not None else None})
    if len(entry) > MAX_ENTRY_BYTES:
        raise InvalidInput(f"the entry is {len(entry)} bytes; the limit is {MAX_ENTRY_BYTES}")
    return entry


def canonical_json(value: Any) -> bytes:
    """UTF-8 JSON, keys sorted, no white space; a string UTF-8 cannot hold (a lone surrogate,
    which a JSON body may spell as an escape) is refused, never a crash."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        bad = error.object[error.start : error.end]
        raise InvalidInput(
            f"text must be valid Unicode: {bad!a} is a lone surrogate, which UTF-8 cannot hold"
        ) from None


def decode_entry(entry: bytes) -> Body:
    body = json.loads(entry.decode("utf-8"))
    if not isinstance(body, dict) or body.get("format") != ENTRY_FORMAT:
        raise InvalidInput(f"not a {ENTRY_FORMAT} entry")
    return body


MAX_DEPTH = 16
"""Nesting of lists and objects in a payload: deeper is refused, never a RecursionError."""


def json_value(value: Any, depth: int = 0) -> Any:
    """Map a payload value to the JSON types the canonical form allows; refuse floats."""
    if depth > MAX_DEPTH:
        raise InvalidInput(f"a value nested more than {MAX_DEPTH} levels cannot go into an entry")
    kind = type(value)
    if kind is str:  # the common cases first, by exact type; subclasses take the checks below
        return value
    if kind is dict:
        return {_key(k): json_value(v, depth + 1) for k, v in value.items()}
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Enum):
        return json_value(value.value, depth)
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise InvalidInput(f"integer {value} is too large for a canonical entry")
        return value
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {_key(k): json_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v, depth + 1) for v in value]
    raise InvalidInput(f"a {type(value).__name__} cannot go into an entry (floats never do)")


def _key(key: object) -> str:
    if type(key) is str and _valid_key(key):
        return key
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidInput(f"field name {key!r} must be lower-case ASCII letters, digits and '_'")
    return key


@lru_cache(maxsize=KEY_CACHE)
def _valid_key(key: str) -> bool:
    """`_KEY` matches it: asked for every field name of every entry, which repeat."""
    return _KEY.match(key) is not None
