"""A store to tamper with behind the ledger's back: the tamper suite's (test_tamper.py), which the
receipts, verify-order, trusted-verify and CLI tests reuse.

`build` makes a store of SIZE entries with checkpoints at FIRST and SIZE. Layout of the log: 0-10
the programme (tests/programme.py), then per item an issue, a transfer and an inspection: item n of
the first batch at 11 + 3n, 12 + 3n and 13 + 3n; the batch's map root (appended before its
checkpoint is signed, ledger/integrity/maproots.py) at FIRST - 1; the second batch likewise from
FIRST on, its map root at SIZE - 1. `Raw` reaches its tables without the ledger. The fixtures
`ledger` and `raw` are for a test module to import, as test_tamper.py does.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest

from ledger.application.ledger import Ledger
from ledger.domain.errors import IntegrityFailure
from ledger.integrity.signing import Signer, generate_signer_key
from tests.conftest import Clock
from tests.programme import issue_transfer_inspect, register
from tests.verifying import verify_each_way

ORIGIN = "localhost/custody"
ITEMS = 6  # per batch, of three entries each
FIRST = 11 + 3 * ITEMS + 1  # the programme, the first batch, its map root
SIZE = FIRST + 3 * ITEMS + 1
TABLES = {
    "log": "custody_log",
    "tree": "custody_tree",
    "checkpoints": "custody_checkpoints",
    "serials": "custody_serials",
}


def build(url: str, clock: Clock) -> Ledger:
    ledger = Ledger(
        clock=clock,
        db=url,
        create_tables=True,
        signer=Signer.from_text(generate_signer_key(ORIGIN)),
    )
    register(ledger)
    for batch in ("A", "B"):
        for n in range(ITEMS):
            issue_transfer_inspect(ledger, f"{batch}-{n:04d}")
        ledger.tlog.checkpoint()
    return ledger


class Raw:
    """The store's tables, reached without the ledger. SQL names tables as {log}, {tree},
    {checkpoints} and {events}, and takes `?` parameters on either dialect."""

    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite:///")
        if self.sqlite:
            self.conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
            self.tables = TABLES | {"events": "stored_events"}
        else:
            base, schema = url.split("?schema=")
            self.conn = psycopg.connect(base)
            names = TABLES | {"events": "custody_events"}
            self.tables = {key: f'"{schema}"."{name}"' for key, name in names.items()}

    def run(self, sql: str, *params: Any) -> list[Any]:
        text = sql.format(**self.tables)
        cursor = self.conn.execute(text if self.sqlite else text.replace("?", "%s"), params)
        rows = list(cursor.fetchall()) if cursor.description else []
        self.conn.commit()
        return rows

    def change(
        self, table: str, column: str, where: tuple[Any, ...], how: Callable[[bytes], bytes]
    ) -> None:
        """Rewrite one bytes value; `where` is (condition, *params)."""
        condition, *params = where
        ((value,),) = self.run(f"SELECT {column} FROM {{{table}}} WHERE {condition}", *params)
        self.run(
            f"UPDATE {{{table}}} SET {column} = ? WHERE {condition}", how(bytes(value)), *params
        )

    def event(self, index: int) -> tuple[Any, ...]:
        """The events-table row key of the entry at `index`, as a `where` for change()."""
        ((aggregate_id, version),) = self.run(
            "SELECT aggregate_id, aggregate_version FROM {log} WHERE log_index = ?", index
        )
        uuid = UUID(aggregate_id)
        key = uuid.hex if self.sqlite else uuid
        return ("originator_id = ? AND originator_version = ?", key, int(version))

    def close(self) -> None:
        self.conn.close()


def built(url: str, clock: Clock) -> Iterator[Ledger]:
    """`build`, closed afterwards: for a fixture to `yield from`."""
    ledger = build(url, clock)
    yield ledger
    ledger.close()


def opened(url: str) -> Iterator[Raw]:
    """`Raw`, closed afterwards: for a fixture to `yield from`."""
    raw = Raw(url)
    yield raw
    raw.close()


@pytest.fixture
def ledger(db_url: str, clock: Clock) -> Iterator[Ledger]:
    yield from built(db_url, clock)


@pytest.fixture
def raw(ledger: Ledger, db_url: str) -> Iterator[Raw]:
    yield from opened(db_url)


def flip(at: int | bytes, mask: int = 0x01) -> Callable[[bytes], bytes]:
    """Flip bits of one byte: at an offset (modulo the length) or where a marker starts."""

    def change(data: bytes) -> bytes:
        changed = bytearray(data)
        changed[data.index(at) if isinstance(at, bytes) else at % len(data)] ^= mask
        return bytes(changed)

    return change


def assert_found(ledger: Ledger, position: int, message: str) -> None:
    """`verify`, in one process and in parallel (tests/verifying.py), fails at `position` with a
    message that starts with `message`."""
    with pytest.raises(IntegrityFailure, match=f"^{re.escape(message)}") as caught:
        verify_each_way(ledger, ledger.tlog.verifier())
    text = caught.value.message
    assert caught.value.position == position, text
    assert f" at position {position}" in text, text


def nodes_in(size: int) -> int:
    return sum(size >> level for level in range(size.bit_length()))


def forger(url: str, clock: Clock) -> Ledger:
    """A Ledger on the store at `url` under another key of the log's name: someone with write
    access to the database and the Ledger's code, but not the log key."""
    return Ledger(clock=clock, db=url, signer=Signer.from_text(generate_signer_key(ORIGIN)))


def delete_entries_from(raw: Raw, index: int) -> None:
    """Delete the log's entries from `index` on, their stored events and the tree nodes their
    leaves completed, as someone with write access to the database would before appending others
    in their place."""
    ((size,),) = raw.run("SELECT COUNT(*) FROM {log}")
    for at in range(index, size):
        where = raw.event(at)
        raw.run(f"DELETE FROM {{events}} WHERE {where[0]}", *where[1:])
    raw.run("DELETE FROM {log} WHERE log_index >= ?", index)
    for level in range(int(size).bit_length()):
        raw.run("DELETE FROM {tree} WHERE level = ? AND idx >= ?", level, index >> level)


def rewritten_from(url: str, index: int, clock: Clock) -> Ledger:
    """The store at `url` with its entries from `index` on deleted, and a `forger` on it to append
    others in their place (closed by the caller)."""
    raw = Raw(url)
    delete_entries_from(raw, index)
    raw.close()
    return forger(url, clock)
