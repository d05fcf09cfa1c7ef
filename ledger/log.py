"""The log store: every stored event is appended to the log in the same transaction as the event.

eventsourcing has no hash chain of its own, and its PostgreSQL notification ids are ordered but not
gapless. So the ledger plugs in its own mapper and application recorders (the library's
`construct_mapper` hook and `APPLICATION_RECORDER_TOPIC`):

- `LogMapper` builds each event's canonical entry body (ledger/entries.py) next to its stored state.
- `SQLiteLogRecorder` and `PostgresLogRecorder` insert the events as the library does, then, inside
  the same transaction and while the library's write lock is held (SQLite's database lock, the
  PostgreSQL recorder's EXCLUSIVE table lock), append one row per event to `custody_log`: the next
  gapless `log_index`, the entry bytes with `prev` filled in, and the RFC 6962 leaf hash. If
  anything fails, nothing of the save is stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder, Mapper, ProgrammingError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore
from psycopg.sql import SQL, Identifier

from ledger.entries import Body, encode_entry, entry_body
from ledger.events import Reported

LOG_TABLE = "custody_log"


def leaf_hash(entry: bytes) -> bytes:
    """RFC 6962 section 2.1: MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return hashlib.sha256(b"\x00" + entry).digest()


@dataclass(frozen=True)
class LoggedEvent(StoredEvent):
    """A stored event with the body of its log entry (None for snapshots, which are not logged)."""

    entry_body: Body | None = None


@dataclass(frozen=True)
class Appended:
    aggregate_id: UUID
    aggregate_version: int
    log_index: int
    leaf_hash: bytes


@dataclass
class Receipt:
    """Filled in by the recorder as it appends, so a save can answer with its log indexes."""

    appended: list[Appended] = field(default_factory=list)

    def log_index(self, aggregate_id: UUID) -> int:
        return max(a.log_index for a in self.appended if a.aggregate_id == aggregate_id)


class LogMapper(Mapper[UUID]):
    def __init__(self, transcoder: JSONTranscoder, *, origin: str) -> None:
        super().__init__(transcoder=transcoder)
        self.origin = origin

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        stored = super().to_stored_event(domain_event)
        if not isinstance(domain_event, Reported):
            return stored  # a snapshot: kept in its own table, never part of the log
        body = entry_body(domain_event, origin=self.origin)
        return LoggedEvent(
            stored.originator_id, stored.originator_version, stored.topic, stored.state, body
        )


@dataclass(frozen=True)
class LogRow:
    log_index: int
    aggregate_id: UUID
    aggregate_version: int
    leaf_hash: bytes
    entry: bytes


class LogStore:
    """Appends and reads of `custody_log`, shared by both recorders; they supply SQL in their
    dialect and a `_read` that runs one query in a read transaction."""

    sql_size: Any
    sql_prev: Any
    sql_insert: Any
    sql_of_aggregate: Any
    sql_range: Any

    def _read(self, sql: Any, params: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    def log_size(self) -> int:
        return int(self._read(self.sql_size, ())[0]["size"])

    def log_entries_of(self, aggregate_id: UUID) -> list[LogRow]:
        return [_row(r) for r in self._read(self.sql_of_aggregate, (str(aggregate_id),))]

    def log_entries(self, start: int, end: int) -> list[LogRow]:
        """Entries with start <= log_index < end, in log order."""
        return [_row(r) for r in self._read(self.sql_range, (start, end))]

    def log_indexes_of(self, aggregate_id: UUID) -> dict[int, int]:
        """aggregate version -> log index"""
        return {r.aggregate_version: r.log_index for r in self.log_entries_of(aggregate_id)}

    def _append_to_log(
        self, cursor: Any, events: Sequence[StoredEvent], kwargs: Mapping[str, Any]
    ) -> None:
        receipt: Receipt | None = kwargs.get("receipt")
        if receipt is not None:
            receipt.appended.clear()  # the PostgreSQL recorder may retry a whole transaction
        cursor.execute(self.sql_size)
        size = int(cursor.fetchone()["size"])
        last: dict[UUID, bytes] = {}
        for offset, event in enumerate(events):
            appended = self._append_one(cursor, event, size + offset, last)
            if receipt is not None:
                receipt.appended.append(appended)

    def _append_one(
        self, cursor: Any, event: StoredEvent, index: int, last: dict[UUID, bytes]
    ) -> Appended:
        if not isinstance(event, LoggedEvent) or event.entry_body is None:
            raise ProgrammingError(f"event {event.topic} has no log entry; use the Ledger's mapper")
        aggregate_id = UUID(str(event.originator_id))
        prev = last.get(aggregate_id) or self._previous_leaf(cursor, aggregate_id, event)
        entry = encode_entry(event.entry_body, prev=prev)
        digest = leaf_hash(entry)
        cursor.execute(
            self.sql_insert, (index, str(aggregate_id), event.originator_version, digest, entry)
        )
        last[aggregate_id] = digest
        return Appended(aggregate_id, event.originator_version, index, digest)

    def _previous_leaf(self, cursor: Any, aggregate_id: UUID, event: StoredEvent) -> bytes | None:
        if event.originator_version == 1:
            return None
        cursor.execute(self.sql_prev, (str(aggregate_id), event.originator_version - 1))
        row = cursor.fetchone()
        if row is None:
            raise ProgrammingError(f"no log entry for the previous version of {aggregate_id}")
        return bytes(row["leaf_hash"])


def _row(row: Any) -> LogRow:
    return LogRow(
        int(row["log_index"]),
        UUID(row["aggregate_id"]),
        int(row["aggregate_version"]),
        bytes(row["leaf_hash"]),
        bytes(row["entry"]),
    )


_COLUMNS = "(log_index, aggregate_id, aggregate_version, leaf_hash, entry)"
_SELECT = "SELECT log_index, aggregate_id, aggregate_version, leaf_hash, entry FROM "


class SQLiteLogRecorder(LogStore, SQLiteApplicationRecorder):
    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)
        self.sql_size = f"SELECT COALESCE(MAX(log_index) + 1, 0) AS size FROM {LOG_TABLE}"
        self.sql_prev = (
            f"SELECT leaf_hash FROM {LOG_TABLE} WHERE aggregate_id = ? AND aggregate_version = ?"
        )
        self.sql_insert = f"INSERT INTO {LOG_TABLE} {_COLUMNS} VALUES (?, ?, ?, ?, ?)"
        self.sql_of_aggregate = (
            f"{_SELECT}{LOG_TABLE} WHERE aggregate_id = ? ORDER BY aggregate_version"
        )
        self.sql_range = (
            f"{_SELECT}{LOG_TABLE} WHERE log_index >= ? AND log_index < ? ORDER BY log_index"
        )

    def _read(self, sql: Any, params: Sequence[Any]) -> list[Any]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql, params)
            return list(c.fetchall())

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {LOG_TABLE} ("
            "log_index INTEGER PRIMARY KEY CHECK (log_index >= 0), "
            "aggregate_id TEXT NOT NULL, "
            "aggregate_version INTEGER NOT NULL, "
            "leaf_hash BLOB NOT NULL, "
            "entry BLOB NOT NULL, "
            "UNIQUE (aggregate_id, aggregate_version))",
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        self._append_to_log(c, stored_events, kwargs)
        return notification_ids


class PostgresLogRecorder(LogStore, PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        if datastore.enable_db_functions:
            raise ProgrammingError("POSTGRES_ENABLE_DB_FUNCTIONS would bypass the log; turn it off")
        super().__init__(datastore, events_table_name=events_table_name)
        table = Identifier(datastore.schema, LOG_TABLE)
        self.sql_size = SQL("SELECT COALESCE(MAX(log_index) + 1, 0) AS size FROM {}").format(table)
        self.sql_prev = SQL(
            "SELECT leaf_hash FROM {} WHERE aggregate_id = %s AND aggregate_version = %s"
        ).format(table)
        self.sql_insert = SQL("INSERT INTO {} " + _COLUMNS + " VALUES (%s, %s, %s, %s, %s)").format(
            table
        )
        self.sql_of_aggregate = SQL(
            _SELECT + "{} WHERE aggregate_id = %s ORDER BY aggregate_version"
        ).format(table)
        self.sql_range = SQL(
            _SELECT + "{} WHERE log_index >= %s AND log_index < %s ORDER BY log_index"
        ).format(table)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "log_index bigint PRIMARY KEY CHECK (log_index >= 0), "
                "aggregate_id text NOT NULL, "
                "aggregate_version bigint NOT NULL, "
                "leaf_hash bytea NOT NULL, "
                "entry bytea NOT NULL, "
                "UNIQUE (aggregate_id, aggregate_version))"
            ).format(table)
        )

    def _read(self, sql: Any, params: Sequence[Any]) -> list[Any]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(sql, params)
            return list(curs.fetchall())

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        self._append_to_log(curs, stored_events, kwargs)
        return notification_ids
