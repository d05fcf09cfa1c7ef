"""The log store: each stored event is appended to the Merkle log in the transaction that stores it.

eventsourcing has no hash chain of its own, and its PostgreSQL notification ids are ordered but not
gapless. So the ledger plugs in its own mapper and application recorders (the library's
`construct_mapper` hook and `APPLICATION_RECORDER_TOPIC`):

- `LogMapper` builds each event's canonical entry body (ledger/entries.py) next to its stored state.
- `SQLiteLogRecorder` and `PostgresLogRecorder` insert the events as the library does, then, inside
  the same transaction and while the library's write lock is held (SQLite's database lock, the
  PostgreSQL recorder's EXCLUSIVE table lock), append to `custody_log` one row per event (the next
  gapless `log_index`, the entry bytes with `prev` filled in, the RFC 6962 leaf hash) and to
  `custody_tree` every complete subtree hash the new leaves complete. If anything fails, nothing of
  the save is stored.
- `custody_checkpoints` keeps every signed checkpoint, by tree size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder, Mapper, ProgrammingError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore
from psycopg.sql import SQL

from ledger import merkle
from ledger.entries import Body, encode_entry, entry_body
from ledger.events import Reported
from ledger.merkle import Key, Node

LOG_TABLE, TREE_TABLE, CHECKPOINT_TABLE = "custody_log", "custody_tree", "custody_checkpoints"
NIL = UUID(int=0)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


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


@dataclass(frozen=True)
class LogRow:
    log_index: int
    aggregate_id: UUID
    aggregate_version: int
    leaf_hash: bytes
    entry: bytes


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


class Statements:
    """Every statement of the log store, written once, for either dialect."""

    def __init__(self, *, param: str, prefix: str, blob: str, integer: str, events: str) -> None:
        log, tree, checkpoints = (prefix + t for t in (LOG_TABLE, TREE_TABLE, CHECKPOINT_TABLE))
        columns = "log_index, aggregate_id, aggregate_version, leaf_hash, entry"
        p = param
        self.param, self.tree = param, tree
        self.create = [
            f"CREATE TABLE IF NOT EXISTS {log} (log_index {integer} PRIMARY KEY "
            f"CHECK (log_index >= 0), aggregate_id TEXT NOT NULL, aggregate_version {integer} "
            f"NOT NULL, leaf_hash {blob} NOT NULL, entry {blob} NOT NULL, "
            "UNIQUE (aggregate_id, aggregate_version))",
            f"CREATE TABLE IF NOT EXISTS {tree} (level {integer} NOT NULL, idx {integer} NOT NULL, "
            f"hash {blob} NOT NULL, PRIMARY KEY (level, idx))",
            f"CREATE TABLE IF NOT EXISTS {checkpoints} (size {integer} PRIMARY KEY, "
            "note TEXT NOT NULL)",
        ]
        self.size = f"SELECT COALESCE(MAX(log_index) + 1, 0) AS size FROM {log}"
        self.prev = (
            f"SELECT leaf_hash FROM {log} WHERE aggregate_id = {p} AND aggregate_version = {p}"
        )
        self.insert = f"INSERT INTO {log} ({columns}) VALUES ({p}, {p}, {p}, {p}, {p})"
        self.insert_node = f"INSERT INTO {tree} (level, idx, hash) VALUES ({p}, {p}, {p})"
        self.of_aggregate = (
            f"SELECT {columns} FROM {log} WHERE aggregate_id = {p} ORDER BY aggregate_version"
        )
        self.range = (
            f"SELECT {columns} FROM {log} WHERE log_index >= {p} AND log_index < {p} "
            "ORDER BY log_index"
        )
        self.by_aggregate_after = (
            f"SELECT {columns} FROM {log} WHERE (aggregate_id, aggregate_version) > ({p}, {p}) "
            f"ORDER BY aggregate_id, aggregate_version LIMIT {p}"
        )
        self.events_after = (
            f"SELECT originator_id, originator_version, topic, state FROM {events} "
            f"WHERE (originator_id, originator_version) > ({p}, {p}) "
            f"ORDER BY originator_id, originator_version LIMIT {p}"
        )
        self.count_nodes = f"SELECT COUNT(*) AS n FROM {tree}"
        self.count_events = f"SELECT COUNT(*) AS n FROM {events}"
        self.insert_checkpoint = (
            f"INSERT INTO {checkpoints} (size, note) VALUES ({p}, {p}) "
            "ON CONFLICT (size) DO NOTHING"
        )
        self.checkpoint_at = f"SELECT size, note FROM {checkpoints} WHERE size = {p}"
        self.cosign_checkpoint = f"UPDATE {checkpoints} SET note = {p} WHERE size = {p}"
        self.latest_checkpoint = f"SELECT size, note FROM {checkpoints} ORDER BY size DESC LIMIT 1"
        self.checkpoints = f"SELECT size, note FROM {checkpoints} ORDER BY size"

    def nodes(self, count: int) -> str:
        """The nodes at `count` (level, idx) pairs. OR-ed equalities, not `(level, idx) IN
        (VALUES ...)`: SQLite answers the latter with a full scan of the tree (193 ms per proof
        at 1,000,000 leaves, bench/run.py), the former with one primary-key search per pair."""
        p = self.param
        keys = " OR ".join([f"(level = {p} AND idx = {p})"] * count)
        return f"SELECT level, idx, hash FROM {self.tree} WHERE {keys}"

    def nodes_completed(self, levels: int) -> str:
        """Nodes of `levels` levels whose idx lies in a given range per level (one pair each)."""
        p = self.param
        ranges = " OR ".join([f"(level = {p} AND idx >= {p} AND idx < {p})"] * levels)
        return f"SELECT level, idx, hash FROM {self.tree} WHERE {ranges}"


class LogStore:
    """Appends and reads of the log, tree and checkpoints, shared by both recorders; they supply the
    statements in their dialect and a `_read` that runs one query in a read transaction."""

    sql: Statements

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    # Appending, inside the library's insert transaction -----------------------------------------

    def _append_to_log(
        self, cursor: Any, events: Sequence[StoredEvent], kwargs: Mapping[str, Any]
    ) -> None:
        cursor.execute(self.sql.size)
        size = int(cursor.fetchone()["size"])
        last: dict[UUID, bytes] = {}
        appended = [self._append_one(cursor, e, size + n, last) for n, e in enumerate(events)]
        leaves = [a.leaf_hash for a in appended]
        nodes = merkle.nodes_to_append(size, leaves, _CursorNodes(self.sql, cursor))
        for node in nodes:
            cursor.execute(self.sql.insert_node, node)
        receipt: Receipt | None = kwargs.get("receipt")
        if receipt is not None:
            receipt.appended[:] = appended  # replaced, not extended: PostgreSQL may retry

    def _append_one(
        self, cursor: Any, event: StoredEvent, index: int, last: dict[UUID, bytes]
    ) -> Appended:
        if not isinstance(event, LoggedEvent) or event.entry_body is None:
            raise ProgrammingError(f"event {event.topic} has no log entry; use the Ledger's mapper")
        aggregate_id = UUID(str(event.originator_id))
        prev = last.get(aggregate_id) or self._previous_leaf(cursor, aggregate_id, event)
        entry = encode_entry(event.entry_body, prev=prev)
        digest = merkle.leaf_hash(entry)
        cursor.execute(
            self.sql.insert, (index, str(aggregate_id), event.originator_version, digest, entry)
        )
        last[aggregate_id] = digest
        return Appended(aggregate_id, event.originator_version, index, digest)

    def _previous_leaf(self, cursor: Any, aggregate_id: UUID, event: StoredEvent) -> bytes | None:
        if event.originator_version == 1:
            return None
        cursor.execute(self.sql.prev, (str(aggregate_id), event.originator_version - 1))
        row = cursor.fetchone()
        if row is None:
            raise ProgrammingError(f"no log entry for the previous version of {aggregate_id}")
        return bytes(row["leaf_hash"])

    # Reading ------------------------------------------------------------------------------------

    def log_size(self) -> int:
        return int(self._read(self.sql.size, ())[0]["size"])

    def log_entries_of(self, aggregate_id: UUID) -> list[LogRow]:
        return [_row(r) for r in self._read(self.sql.of_aggregate, (str(aggregate_id),))]

    def log_entries(self, start: int, end: int) -> list[LogRow]:
        """Entries with start <= log_index < end, in log order."""
        return [_row(r) for r in self._read(self.sql.range, (start, end))]

    def log_entries_by_aggregate(self, after: tuple[str, int], limit: int) -> list[LogRow]:
        """Entries in (aggregate id, version) order after the given pair, for streaming checks."""
        return [_row(r) for r in self._read(self.sql.by_aggregate_after, (*after, limit))]

    def log_indexes_of(self, aggregate_id: UUID) -> dict[int, int]:
        """aggregate version -> log index"""
        return {r.aggregate_version: r.log_index for r in self.log_entries_of(aggregate_id)}

    def read_nodes(self, keys: Sequence[Key]) -> Mapping[Key, bytes]:
        """merkle.NodeReader over the stored tree (outside any write transaction)."""
        return _nodes(self._read(self.sql.nodes(len(keys)), _flat(keys)) if keys else [], keys)

    def nodes_completed(self, ranges: Sequence[tuple[int, int, int]]) -> list[Node]:
        """Stored nodes with `level = L and lo <= idx < hi` for each (L, lo, hi)."""
        rows = self._read(self.sql.nodes_completed(len(ranges)), _flat(ranges))
        return [(int(r["level"]), int(r["idx"]), bytes(r["hash"])) for r in rows]

    def stored_events_in_order(self, batch: int) -> Iterator[StoredEvent]:
        """The library's stored events in (aggregate id, version) order, read in batches."""
        after: tuple[Any, int] = (self._id_param(NIL), 0)
        while rows := self._read(self.sql.events_after, (*after, batch)):
            for row in rows:
                yield StoredEvent(
                    UUID(str(row["originator_id"])),
                    int(row["originator_version"]),
                    str(row["topic"]),
                    bytes(row["state"]),
                )
            after = (rows[-1]["originator_id"], int(rows[-1]["originator_version"]))

    def _id_param(self, aggregate_id: UUID) -> Any:
        raise NotImplementedError

    def count_nodes(self) -> int:
        return int(self._read(self.sql.count_nodes, ())[0]["n"])

    def count_events(self) -> int:
        return int(self._read(self.sql.count_events, ())[0]["n"])

    # Checkpoints --------------------------------------------------------------------------------

    def latest_checkpoint(self) -> tuple[int, str] | None:
        rows = self._read(self.sql.latest_checkpoint, ())
        return (int(rows[0]["size"]), str(rows[0]["note"])) if rows else None

    def checkpoint_at(self, size: int) -> str | None:
        rows = self._read(self.sql.checkpoint_at, (size,))
        return str(rows[0]["note"]) if rows else None

    def all_checkpoints(self) -> list[tuple[int, str]]:
        return [(int(r["size"]), str(r["note"])) for r in self._read(self.sql.checkpoints, ())]

    def store_checkpoint(self, size: int, note: str) -> str:
        """Keep the signed note for `size`; if another process stored one first, return that one."""
        self._write(self.sql.insert_checkpoint, (size, note))
        stored = self.checkpoint_at(size)
        assert stored is not None
        return stored

    def add_cosignatures(self, size: int, note: str) -> None:
        """Replace the note kept for `size` by the same note with witness cosignature lines."""
        self._write(self.sql.cosign_checkpoint, (note, size))

    def _write(self, sql: str, params: Sequence[Any]) -> None:
        raise NotImplementedError


class _CursorNodes:
    """merkle.NodeReader inside the append transaction."""

    def __init__(self, sql: Statements, cursor: Any) -> None:
        self.sql, self.cursor = sql, cursor

    def read_nodes(self, keys: Sequence[Key]) -> Mapping[Key, bytes]:
        if not keys:
            return {}
        self.cursor.execute(self.sql.nodes(len(keys)), _flat(keys))
        return _nodes(self.cursor.fetchall(), keys)


def _nodes(rows: Sequence[Any], keys: Sequence[Key]) -> Mapping[Key, bytes]:
    found = {(int(r["level"]), int(r["idx"])): bytes(r["hash"]) for r in rows}
    return {key: found[key] for key in keys if key in found}  # merkle reports any missing


def _flat(pairs: Sequence[Sequence[int]]) -> list[int]:
    return [value for pair in pairs for value in pair]


def _row(row: Any) -> LogRow:
    return LogRow(
        int(row["log_index"]),
        UUID(row["aggregate_id"]),
        int(row["aggregate_version"]),
        bytes(row["leaf_hash"]),
        bytes(row["entry"]),
    )


class SQLiteLogRecorder(LogStore, SQLiteApplicationRecorder):
    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        self.sql = Statements(
            param="?", prefix="", blob="BLOB", integer="INTEGER", events=events_table_name
        )
        super().__init__(datastore, events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *self.sql.create]

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql, params)
            return list(c.fetchall())

    def _write(self, sql: str, params: Sequence[Any]) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(sql, params)

    def _id_param(self, aggregate_id: UUID) -> Any:
        return aggregate_id.hex  # the library stores SQLite ids as hex text

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
        if not _IDENTIFIER.match(datastore.schema):
            raise ProgrammingError(f"schema name {datastore.schema!r} is not a plain identifier")
        prefix = f'"{datastore.schema}".'
        self.sql = Statements(
            param="%s",
            prefix=prefix,
            blob="bytea",
            integer="bigint",
            events=f'{prefix}"{events_table_name}"',
        )
        super().__init__(datastore, events_table_name=events_table_name)
        self.sql_create_statements.extend(SQL(s) for s in self.sql.create)  # type: ignore[misc]

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(sql, params)
            return list(curs.fetchall())

    def _write(self, sql: str, params: Sequence[Any]) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(sql, params)

    def _id_param(self, aggregate_id: UUID) -> Any:
        return aggregate_id

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        self._append_to_log(curs, stored_events, kwargs)
        return notification_ids
