"""The log store: each stored event is appended to the Merkle log in the transaction that stores it.

eventsourcing has no hash chain of its own, and its PostgreSQL notification ids are ordered but not
gapless. So the ledger plugs in its own mapper and application recorders (the library's
`construct_mapper` hook and `APPLICATION_RECORDER_TOPIC`):

- `LogMapper` builds each event's canonical entry body (ledger/integrity/entries.py) next to its
    stored state.
- `SQLiteLogRecorder` and `PostgresLogRecorder`, in the transaction in which the library inserts the
  events and while its write lock is held (SQLite's database lock, the PostgreSQL recorder's
  EXCLUSIVE table lock), append to `custody_log` one row per event (the next gapless `log_index`,
  the entry bytes with `prev` filled in, the RFC 6962 leaf hash) and to `custody_tree` every
  complete subtree hash the new leaves complete. If anything fails, nothing of the save is stored.
  The rows go in with one `executemany` per table, as the library's own do.
- `_Tail` spares the append two reads: the previous leaf hash of an aggregate this process wrote
  last, and the tree's right edge at the size this process left it. Both are immutable once
  committed, so they are published after the commit and used only where they still apply.
- `StatementCachingPool` gives SQLite connections a statement cache (the library's has one slot).
- `custody_checkpoints` keeps every signed checkpoint, by tree size.
- Each appended row carries its receipt (ledger/integrity/receipts.py): the log key's Ed25519
    signature,
  made in the same transaction, that the log holds this leaf at this index. A store opened
  without the key (`receipt_signer`) refuses to append anything.
"""

from __future__ import annotations

import copy
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    InterfaceError,
    JSONTranscoder,
    Mapper,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
)
from psycopg.sql import SQL

from ledger.domain.errors import Conflict, CustodyError
from ledger.domain.events import Reported
from ledger.integrity import merkle
from ledger.integrity.entries import Body, canonical_json, encode_entry, entry_body
from ledger.integrity.maproots import committed
from ledger.integrity.merkle import Key, Node
from ledger.integrity.receipts import EntryReceipt, receipt_signature
from ledger.integrity.signing import Signer
from ledger.store.dialect import SQLITE, Dialect, dialect_of
from ledger.store.serials import ISSUED_TOPIC, SerialIndex, SerialStatements

LOG_TABLE, TREE_TABLE, CHECKPOINT_TABLE = "custody_log", "custody_tree", "custody_checkpoints"
STATEMENT_CACHE = 128
"""Prepared statements each SQLite connection keeps (Python's default; see StatementCachingPool)."""
NIL = UUID(int=0)
ITEM_ENTRY = b'"type":"custody:Item.'
"""What an item's entry, and no other, holds in its canonical JSON: the start of its `type`."""


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
    receipt: bytes = b""
    """the log key's signature of the entry's receipt (ledger/integrity/receipts.py)"""
    recorded_at: str = ""


@dataclass
class Receipt:
    """Filled in by the recorder as it appends, so a save can answer with its log indexes."""

    appended: list[Appended] = field(default_factory=list)

    def log_index(self, aggregate_id: UUID) -> int:
        return self.newest(aggregate_id).log_index

    def newest(self, aggregate_id: UUID) -> Appended:
        """The aggregate's last appended entry in this save."""
        return max(
            (a for a in self.appended if a.aggregate_id == aggregate_id),
            key=lambda a: a.log_index,
        )


VerifyRow = tuple[int, str, int, bytes, bytes, bytes | None, bytes | None]
"""log_index, aggregate_id, aggregate_version, leaf_hash, entry, leaf hash of the version before,
receipt signature"""
StoredRow = tuple[Any, int, str, bytes]
"""originator_id (as the dialect stores it), originator_version, topic, state"""
_VERIFY_ROW = itemgetter(
    "log_index", "aggregate_id", "aggregate_version", "leaf_hash", "entry", "prev", "receipt"
)
_STORED_ROW = itemgetter("originator_id", "originator_version", "topic", "state")


@dataclass(frozen=True)
class LogRow:
    log_index: int
    aggregate_id: UUID
    aggregate_version: int
    leaf_hash: bytes
    entry: bytes
    receipt: bytes | None = None
    """the log key's signature of the entry's receipt (ledger/integrity/receipts.py)"""


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

    def __init__(self, dialect: Dialect, *, events: str) -> None:
        tables = (LOG_TABLE, TREE_TABLE, CHECKPOINT_TABLE)
        log, tree, checkpoints = (dialect.table(t) for t in tables)
        columns = "log_index, aggregate_id, aggregate_version, leaf_hash, entry, receipt"
        p, blob, integer = dialect.param, dialect.blob, dialect.integer
        self.dialect, self.param, self.tree, self.log = dialect, p, tree, log
        self.create = [
            f"CREATE TABLE IF NOT EXISTS {log} (log_index {integer} PRIMARY KEY "
            f"CHECK (log_index >= 0), aggregate_id TEXT NOT NULL, aggregate_version {integer} "
            f"NOT NULL, leaf_hash {blob} NOT NULL, entry {blob} NOT NULL, "
            f"receipt {blob} NOT NULL, UNIQUE (aggregate_id, aggregate_version))",
            f"CREATE TABLE IF NOT EXISTS {tree} (level {integer} NOT NULL, idx {integer} NOT NULL, "
            f"hash {blob} NOT NULL, PRIMARY KEY (level, idx))",
            f"CREATE TABLE IF NOT EXISTS {checkpoints} (size {integer} PRIMARY KEY, "
            "note TEXT NOT NULL)",
        ]
        self.size = f"SELECT COALESCE(MAX(log_index) + 1, 0) AS size FROM {log}"
        self.prev = (
            f"SELECT leaf_hash FROM {log} WHERE aggregate_id = {p} AND aggregate_version = {p}"
        )
        self.insert = f"INSERT INTO {log} ({columns}) VALUES ({p}, {p}, {p}, {p}, {p}, {p})"
        self.insert_node = f"INSERT INTO {tree} (level, idx, hash) VALUES ({p}, {p}, {p})"
        self.of_aggregate = (
            f"SELECT {columns} FROM {log} WHERE aggregate_id = {p} ORDER BY aggregate_version"
        )
        self.indexes_of = (  # from the (aggregate_id, aggregate_version) index, no entry read
            f"SELECT aggregate_version, log_index FROM {log} WHERE aggregate_id = {p}"
        )
        self.of_aggregate_after = (
            f"SELECT {columns} FROM {log} WHERE aggregate_id = {p} AND aggregate_version > {p} "
            f"ORDER BY aggregate_version LIMIT {p}"
        )
        self.range = (
            f"SELECT {columns} FROM {log} WHERE log_index >= {p} AND log_index < {p} "
            "ORDER BY log_index"
        )
        self.events_after = (
            f"SELECT originator_id, originator_version, topic, state FROM {events} "
            f"WHERE (originator_id, originator_version) > ({p}, {p}) "
            f"ORDER BY originator_id, originator_version LIMIT {p}"
        )
        self.heads_range = (
            f"SELECT log_index, aggregate_id, aggregate_version, leaf_hash FROM {log} "
            f"WHERE log_index >= {p} AND log_index < {p} ORDER BY log_index"
        )
        self.last_of_aggregate = (
            f"SELECT {columns} FROM {log} WHERE aggregate_id = {p} AND log_index < {p} "
            "ORDER BY log_index DESC LIMIT 1"
        )
        self.count_nodes = f"SELECT COUNT(*) AS n FROM {tree}"
        self.count_events = f"SELECT COUNT(*) AS n FROM {events}"
        # custody verify (ledger/verification/verify.py) -------------------------------------------
        self.events = events
        self.verify_range = (
            f"SELECT log_index, aggregate_id, aggregate_version, leaf_hash, entry, receipt, "
            f"CASE WHEN aggregate_version > 1 THEN (SELECT p.leaf_hash FROM {log} p "
            "WHERE p.aggregate_id = l.aggregate_id "
            "AND p.aggregate_version = l.aggregate_version - 1) END AS prev "
            f"FROM {log} l WHERE log_index >= {p} AND log_index < {p} ORDER BY log_index"
        )
        self.count_keys = (
            f"SELECT (SELECT COUNT(*) FROM {log}) AS n, (SELECT COUNT(*) FROM "
            f"(SELECT DISTINCT aggregate_id, aggregate_version FROM {log}) AS k) AS keys"
        )
        self.insert_checkpoint = (
            f"INSERT INTO {checkpoints} (size, note) VALUES ({p}, {p}) "
            "ON CONFLICT (size) DO NOTHING"
        )
        self.checkpoint_at = f"SELECT size, note FROM {checkpoints} WHERE size = {p}"
        self.cosign_checkpoint = f"UPDATE {checkpoints} SET note = {p} WHERE size = {p}"
        self.latest_checkpoint = f"SELECT size, note FROM {checkpoints} ORDER BY size DESC LIMIT 1"
        self.checkpoints = f"SELECT size, note FROM {checkpoints} ORDER BY size"
        self.write_lock = f"UPDATE {checkpoints} SET size = size WHERE 0 = 1"
        """A write that changes nothing: SQLite's write lock, taken before anything is read."""

    def of_aggregates(self, count: int, *, columns: str, where: str = "") -> str:
        """`columns` of the entries of `count` aggregates (ids as parameters, after those of
        `where`)."""
        also = f"{where} AND " if where else ""
        return (
            f"SELECT {columns} FROM {self.log} WHERE {also}"
            f"aggregate_id IN ({self.dialect.marks(count)})"
        )

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

    def first_entries_of(self, count: int) -> str:
        """The aggregate ids, among `count` given, that have a first entry in the log (one
        search of the (aggregate_id, aggregate_version) index each)."""
        marks = ", ".join([self.param] * count)
        return (
            f"SELECT aggregate_id FROM {self.log} "
            f"WHERE aggregate_version = 1 AND aggregate_id IN ({marks})"
        )

    def mentioning(self, count: int) -> str:
        """The aggregate ids of the entries that hold the first parameter and any of `count`
        more (exact bytes): one scan of the log."""
        p = self.param
        found = "instr(entry, {}) > 0" if self.dialect.sqlite else "position({} in entry) > 0"
        anyone = " OR ".join([found.format(p)] * count)
        return (
            f"SELECT DISTINCT aggregate_id FROM {self.log} WHERE {found.format(p)} AND ({anyone})"
        )

    def events_of(self, count: int) -> str:
        """The library's stored events of `count` aggregates, each aggregate's in version order."""
        return (
            f"SELECT originator_id, originator_version, topic, state FROM {self.events} "
            f"WHERE originator_id IN ({self.dialect.marks(count)}) "
            "ORDER BY originator_id, originator_version"
        )

    def events_in_notification_order(self, notification_id: str) -> str:
        """Stored events after a notification id, in the order the library recorded them."""
        p, n = self.param, notification_id
        return (
            f"SELECT {n} AS notification_id, originator_id, originator_version, topic, state "
            f"FROM {self.events} WHERE {n} > {p} ORDER BY {n} LIMIT {p}"
        )


class LogStore:
    """Appends and reads of the log, tree and checkpoints, shared by both recorders; they supply the
    statements in their dialect and a `_read` that runs one query in a read transaction."""

    sql: Statements

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    def _snapshot_cursor(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    @contextmanager
    def snapshot(self) -> Iterator[LogStore]:
        """This store, read through one read-only transaction: every read sees the store as it
        was at one moment, whatever other writers commit meanwhile (`custody verify`)."""
        with self._snapshot_cursor() as cursor:

            def read(sql: str, params: Sequence[Any]) -> list[Any]:
                cursor.execute(sql, params)
                return list(cursor.fetchall())

            pinned = copy.copy(self)
            pinned._read = read  # type: ignore[method-assign]
            yield pinned

    # Appending, inside the library's insert transaction -----------------------------------------

    _tail: _Tail
    receipt_signer: Signer | None = None
    """The log's key, which signs each appended entry's receipt (the Ledger hands it over)."""
    serials: SerialIndex
    """The index of identities (ledger/store/serials.py), kept in the append's transaction."""

    def _append_to_log(
        self, cursor: Any, events: Sequence[StoredEvent], kwargs: Mapping[str, Any]
    ) -> None:
        cursor.execute(self.sql.size)
        size = int(cursor.fetchone()["size"])
        appended, rows = self._entries(cursor, events, size)
        frontier = self._frontier(cursor, size)
        nodes = merkle.nodes_to_append(size, [a.leaf_hash for a in appended], frontier)
        if rows:
            cursor.executemany(self.sql.insert, rows)
            cursor.executemany(self.sql.insert_node, nodes)
        indexed = self.serials.index(cursor, _issued(events, appended))
        appending: _Appending | None = kwargs.get(APPENDING)
        if appending is not None:  # replaced, not extended: PostgreSQL may retry
            appending.appended, appending.size = appended, size + len(appended)
            appending.serials_ready = indexed
            appending.frontier = _frontier_after(appending.size, frontier.nodes, nodes)
        receipt: Receipt | None = kwargs.get("receipt")
        if receipt is not None:
            receipt.appended[:] = appended

    def _entries(
        self, cursor: Any, events: Sequence[StoredEvent], size: int
    ) -> tuple[list[Appended], list[tuple[Any, ...]]]:
        """Each event's entry (its `prev` filled in), leaf hash and log row, in append order."""
        signer = self.receipt_signer
        if signer is None:
            raise CustodyError(
                "this ledger was opened without its signing key (CUSTODY_KEY), which signs "
                "every entry's receipt: nothing was recorded"
            )
        last: dict[UUID, bytes] = {}
        appended, rows = [], []
        for index, event in enumerate(events, start=size):
            if not isinstance(event, LoggedEvent) or event.entry_body is None:
                raise ProgrammingError(
                    f"event {event.topic} has no log entry; use the Ledger's mapper"
                )
            aggregate_id, version = _uuid(event.originator_id), event.originator_version
            _check_map_root(event.entry_body, index)
            prev = last.get(aggregate_id) or self._previous_leaf(cursor, aggregate_id, version)
            entry = encode_entry(event.entry_body, prev=prev)
            digest = last[aggregate_id] = merkle.leaf_hash(entry)
            body = event.entry_body
            receipt = EntryReceipt(body["origin"], index, digest, body["recorded_at"])
            signature = receipt_signature(receipt, signer)
            rows.append((index, str(aggregate_id), version, digest, entry, signature))
            appended.append(
                Appended(aggregate_id, version, index, digest, signature, receipt.recorded_at)
            )
        return appended, rows

    def _previous_leaf(self, cursor: Any, aggregate_id: UUID, version: int) -> bytes | None:
        if version == 1:
            return None
        known = self._tail.leaf(aggregate_id, version - 1)
        if known is not None:
            return known
        cursor.execute(self.sql.prev, (str(aggregate_id), version - 1))
        row = cursor.fetchone()
        if row is None:
            raise ProgrammingError(f"no log entry for the previous version of {aggregate_id}")
        return bytes(row["leaf_hash"])

    def _frontier(self, cursor: Any, size: int) -> merkle.MemoryNodeStore:
        """The tree's right edge at `size`: as this process committed it, if the log is still at
        that size, else read from the store (merkle.nodes_to_append reports any node missing)."""
        frontier = merkle.MemoryNodeStore()
        known = self._tail.frontier(size)
        if known is None:
            keys = merkle.frontier_keys(size)
            known = _CursorNodes(self.sql, cursor).read_nodes(keys)
        frontier.nodes.update(known)
        return frontier

    def _insert_then_publish(self, insert: Any, stored_events: Any, kwargs: Any) -> Any:
        """Run the library's insert transaction, then (committed) publish what it appended."""
        appending = _Appending()
        notification_ids = insert(stored_events, **kwargs, **{APPENDING: appending})
        self._tail.publish(appending)
        self.serials.ready |= appending.serials_ready  # committed: other threads may read it
        return notification_ids

    # Reading ------------------------------------------------------------------------------------

    def log_size(self) -> int:
        return int(self._read(self.sql.size, ())[0]["size"])

    def log_entries_of(self, aggregate_id: UUID) -> list[LogRow]:
        return [_row(r) for r in self._read(self.sql.of_aggregate, (str(aggregate_id),))]

    def log_entries_after(self, aggregate_id: UUID, version: int, limit: int) -> list[LogRow]:
        """Up to `limit` entries of the aggregate after `version`, oldest first (a page of its
        history: one search of the (aggregate_id, aggregate_version) index)."""
        params = (str(aggregate_id), version, limit)
        return [_row(r) for r in self._read(self.sql.of_aggregate_after, params)]

    def log_entries(self, start: int, end: int) -> list[LogRow]:
        """Entries with start <= log_index < end, in log order."""
        return [_row(r) for r in self._read(self.sql.range, (start, end))]

    def head_rows(self, start: int, end: int) -> list[tuple[int, UUID, int, bytes]]:
        """(log index, aggregate id, version, leaf hash) of entries start <= log_index < end."""
        return [
            (
                int(r["log_index"]),
                UUID(r["aggregate_id"]),
                int(r["aggregate_version"]),
                bytes(r["leaf_hash"]),
            )
            for r in self._read(self.sql.heads_range, (start, end))
        ]

    def last_entry_of(self, aggregate_id: UUID, before: int) -> LogRow | None:
        """The aggregate's newest entry with log_index < `before`, if any."""
        rows = self._read(self.sql.last_of_aggregate, (str(aggregate_id), before))
        return _row(rows[0]) if rows else None

    def items_mentioning(self, parties: Sequence[str]) -> set[UUID]:
        """The items whose entries name any of `parties` (as actor or in any field: the exact
        bytes of the id's canonical JSON), in one scan of the log."""
        if not parties:
            return set()
        needles = [canonical_json(party) for party in parties]
        rows = self._read(self.sql.mentioning(len(needles)), [ITEM_ENTRY, *needles])
        return {UUID(str(row["aggregate_id"])) for row in rows}

    def logged(self, aggregate_ids: Sequence[UUID]) -> set[UUID]:
        """Those of `aggregate_ids` that have entries in the log, read 500 at a time."""
        found: set[UUID] = set()
        for start in range(0, len(aggregate_ids), 500):
            chunk = [str(a) for a in aggregate_ids[start : start + 500]]
            rows = self._read(self.sql.first_entries_of(len(chunk)), chunk)
            found.update(UUID(str(r["aggregate_id"])) for r in rows)
        return found

    def log_indexes_of(self, aggregate_id: UUID) -> dict[int, int]:
        """aggregate version -> log index"""
        found = self._read(self.sql.indexes_of, (str(aggregate_id),))
        return {int(r["aggregate_version"]): int(r["log_index"]) for r in found}

    def stored_events_of(self, aggregate_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """The library's stored events of these aggregates, each one's in version order, read
        500 aggregates a query (what the library's `select_events` reads for one)."""
        found: dict[UUID, list[StoredEvent]] = {}
        for start in range(0, len(aggregate_ids), 500):
            chunk = [self._id_param(a) for a in aggregate_ids[start : start + 500]]
            for row in self._read(self.sql.events_of(len(chunk)), chunk):
                aggregate_id = UUID(str(row["originator_id"]))
                found.setdefault(aggregate_id, []).append(
                    StoredEvent(
                        aggregate_id,
                        int(row["originator_version"]),
                        str(row["topic"]),
                        bytes(row["state"]),
                    )
                )
        return found

    def log_indexes_of_each(self, aggregate_ids: Sequence[UUID]) -> dict[UUID, dict[int, int]]:
        """`log_indexes_of` each of these aggregates, read 500 aggregates a query."""
        found: dict[UUID, dict[int, int]] = {}
        columns = "aggregate_id, aggregate_version, log_index"
        for start in range(0, len(aggregate_ids), 500):
            chunk = [str(a) for a in aggregate_ids[start : start + 500]]
            for row in self._read(self.sql.of_aggregates(len(chunk), columns=columns), chunk):
                indexes = found.setdefault(UUID(str(row["aggregate_id"])), {})
                indexes[int(row["aggregate_version"])] = int(row["log_index"])
        return found

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

    # Reading the entries of some aggregates (`custody verify`'s derived step) ------------------

    def written_since(self, aggregate_ids: Sequence[str], position: int) -> set[str]:
        """Those of `aggregate_ids` with an entry at or after log index `position`."""
        where = f"log_index >= {self.sql.param}"
        found = self._of_aggregates("DISTINCT aggregate_id", aggregate_ids, where, position)
        return {str(row["aggregate_id"]) for row in found}

    def first_entries(self, aggregate_ids: Sequence[str]) -> list[tuple[str, bytes]]:
        """(aggregate id, entry) of the first entry of each of `aggregate_ids` the log has."""
        found = self._of_aggregates("aggregate_id, entry", aggregate_ids, "aggregate_version = 1")
        return [(str(row["aggregate_id"]), bytes(row["entry"])) for row in found]

    def entries_before(
        self, aggregate_ids: Sequence[str], position: int
    ) -> list[tuple[int, str, int, bytes]]:
        """(log index, aggregate id, version, entry) of the entries of `aggregate_ids` before
        log index `position`, by aggregate id and version."""
        columns = "log_index, aggregate_id, aggregate_version, entry"
        where = f"log_index < {self.sql.param}"
        found = [
            (int(r["log_index"]), str(r["aggregate_id"]), int(r["aggregate_version"]), r["entry"])
            for r in self._of_aggregates(columns, aggregate_ids, where, position)
        ]
        return [(i, a, v, bytes(e)) for i, a, v, e in sorted(found, key=itemgetter(1, 2))]

    def _of_aggregates(
        self, columns: str, aggregate_ids: Sequence[str], where: str = "", *params: Any
    ) -> list[Any]:
        if not aggregate_ids:
            return []
        sql = self.sql.of_aggregates(len(aggregate_ids), columns=columns, where=where)
        return self._read(sql, [*params, *aggregate_ids])

    # Reading for `custody verify` (ledger/verification/verify.py): plain tuples, no object per row

    notification_id: str
    """The events table's notification id column, in the recorder's dialect."""

    def verify_rows(self, start: int, end: int) -> list[VerifyRow]:
        """Entries with start <= log_index < end in log order, each with the leaf hash of its
        aggregate's previous version (None for version 1, or if the log has no such entry)."""
        return list(map(_VERIFY_ROW, self._read(self.sql.verify_range, (start, end))))

    def stored_events_in_log_order(self, batch: int) -> Iterator[StoredRow]:
        """The library's stored events in notification order, read in batches. The recorders
        append each event's entry in the transaction that inserts it, in the same order, so this
        is the log's order too."""
        sql, after = self.sql.events_in_notification_order(self.notification_id), 0
        while rows := self._read(sql, (after, batch)):
            yield from map(_STORED_ROW, rows)
            after = int(rows[-1]["notification_id"])

    def count_log_keys(self) -> tuple[int, int]:
        """(log rows, distinct (aggregate id, version) pairs among them), read at one instant."""
        row = self._read(self.sql.count_keys, ())[0]
        return int(row["n"]), int(row["keys"])

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

    # The index of identities (ledger/store/serials.py) --------------------------------------------

    def ensure_serials(self) -> None:
        """Create and fill the index of identities if the store has none yet."""
        if not self.serials.ready:
            with self._locked_cursor() as cursor:
                self.serials.ensure(cursor)
            self.serials.ready = True  # committed: before, another thread would read no table

    def rebuild_serials(self) -> int:
        """Fill the index of identities anew from the log; answers how many items it holds."""
        with self._locked_cursor() as cursor:
            count = self.serials.refill(cursor)
        self.serials.ready = True
        return count

    def _locked_cursor(self) -> AbstractContextManager[Any]:
        """A write transaction holding the store's write lock from its first statement."""
        raise NotImplementedError


APPENDING = "custody_appending"
"""The keyword argument that carries an `_Appending` through the library's insert_events."""
TAIL_AGGREGATES = 16_384
"""How many aggregates' newest leaf hashes `_Tail` keeps (about 5 MiB)."""


@dataclass
class _Appending:
    """What one insert transaction appended, held back until it commits."""

    appended: list[Appended] = field(default_factory=list)
    size: int = 0
    frontier: dict[Key, bytes] | None = None  # at `size`; None if a node was missing
    serials_ready: bool = False  # the index of identities is there once this commits


class _Tail:
    """The log's tail as this process last committed it: the newest leaf hash of each aggregate it
    wrote lately, and the tree's right edge (frontier) at the size its last append left.

    Both are facts that never change once committed: the leaf hash of (aggregate, version) and the
    hash of a complete subtree. So the next append may use them instead of reading them again,
    because (1) they are published only after their transaction commits (`publish`), and (2) a
    leaf hash is used only as the `prev` of the version right after it, and the frontier only when
    the size read under the write lock is the very size it was left at. When another process (or
    thread) appended meanwhile, the sizes differ and the edge is read from the store; its writes
    to other versions of an aggregate never match a version kept here. Nothing here is served to a
    reader of the log: roots, proofs and `custody verify` read the store.
    """

    def __init__(self, max_aggregates: int = TAIL_AGGREGATES) -> None:
        self._lock = threading.Lock()
        self._max = max_aggregates
        self._leaves: dict[UUID, tuple[int, bytes]] = {}
        self._size, self._frontier = -1, dict[Key, bytes]()

    def leaf(self, aggregate_id: UUID, version: int) -> bytes | None:
        """The leaf hash of the aggregate's `version`, if that is the newest this process wrote."""
        known = self._leaves.get(aggregate_id)
        return known[1] if known is not None and known[0] == version else None

    def frontier(self, size: int) -> Mapping[Key, bytes] | None:
        with self._lock:
            return self._frontier if self._size == size else None

    def publish(self, appending: _Appending) -> None:
        with self._lock:
            for a in appending.appended:
                self._leaves.pop(a.aggregate_id, None)  # re-inserted last: evicted last
                self._leaves[a.aggregate_id] = (a.aggregate_version, a.leaf_hash)
            while len(self._leaves) > self._max:
                del self._leaves[next(iter(self._leaves))]
            if appending.frontier is not None:
                self._size, self._frontier = appending.size, appending.frontier


def _issued(
    events: Sequence[StoredEvent], appended: Sequence[Appended]
) -> list[tuple[int, str, Body]]:
    """The `Issued` entries among the appended ones: (log index, item id, entry body)."""
    return [
        (a.log_index, str(a.aggregate_id), event.entry_body)
        for event, a in zip(events, appended, strict=True)
        if event.topic == ISSUED_TOPIC and isinstance(event, LoggedEvent) and event.entry_body
    ]


def _check_map_root(body: Body, index: int) -> None:
    """A map-root entry must cover exactly the entries before it (ledger/integrity/maproots.py):
    one that
    another write overtook is refused, and the committer computes the map again."""
    commit = committed(body)
    if commit is not None and commit[0] != index:
        raise Conflict(f"the map root covers {commit[0]} entries but would be entry {index}")


def _frontier_after(
    size: int, before: Mapping[Key, bytes], nodes: Sequence[Node]
) -> dict[Key, bytes] | None:
    """The right edge at `size`, from the edge before the append and the nodes it added."""
    keys = merkle.frontier_keys(size)
    wanted = set(keys)
    found = {key: digest for key, digest in before.items() if key in wanted}
    found.update(((level, idx), digest) for level, idx, digest in nodes if (level, idx) in wanted)
    return found if len(found) == len(keys) else None


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


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _flat(pairs: Sequence[Sequence[int]]) -> list[int]:
    return [value for pair in pairs for value in pair]


def _row(row: Any) -> LogRow:
    return LogRow(
        int(row["log_index"]),
        UUID(row["aggregate_id"]),
        int(row["aggregate_version"]),
        bytes(row["leaf_hash"]),
        bytes(row["entry"]),
        None if row["receipt"] is None else bytes(row["receipt"]),
    )


class StatementCachingPool(SQLiteConnectionPool):
    """eventsourcing's SQLite connection pool, whose connections keep their prepared statements.

    The library opens each connection with `cached_statements=True`, which Python reads as a cache
    of one statement, so every statement of a write (BEGIN, the events' insert, the log's size
    query and inserts) and of a read was prepared again each time: about 8 us a statement, 40 us
    of a write (docs/performance.md). `_create_connection` is the library's own (9.5.6) but for
    that one argument.
    """

    @classmethod
    def like(cls, pool: SQLiteConnectionPool) -> StatementCachingPool:
        """A pool with `pool`'s settings; `pool` is closed (it has lent no connection yet)."""
        pool.close()
        return cls(
            db_name=pool.db_name,
            lock_timeout=pool.lock_timeout,
            pool_size=pool.pool_size,
            max_overflow=pool.max_overflow,
            pool_timeout=pool.pool_timeout,
            max_age=pool.max_age,
            pre_ping=pool.pre_ping,
        )

    def _create_connection(self) -> SQLiteConnection:
        try:
            c = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # auto-commit mode: the library issues BEGIN itself
                cached_statements=STATEMENT_CACHE,
                timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
        except (sqlite3.Error, TypeError) as e:
            raise InterfaceError(e) from e
        if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:
            mode = c.execute("PRAGMA journal_mode;").fetchone()[0]
            if mode.lower() != "wal":
                c.execute("PRAGMA journal_mode=WAL;")
                self.journal_mode_was_changed_to_wal = True
            self.is_journal_mode_wal = True
        c.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=c, max_age=self.max_age)


class SQLiteLogRecorder(LogStore, SQLiteApplicationRecorder):
    notification_id = "rowid"

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        self.sql = Statements(SQLITE, events=events_table_name)
        self._tail = _Tail()
        self.serials = SerialIndex(SerialStatements(SQLITE), self._read)
        if not isinstance(datastore.pool, StatementCachingPool):
            datastore.pool = StatementCachingPool.like(datastore.pool)
        super().__init__(datastore, events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *self.sql.create]

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql, params)
            return list(c.fetchall())

    def _snapshot_cursor(self) -> AbstractContextManager[Any]:
        return self.datastore.transaction(commit=False)  # BEGIN: one WAL snapshot from its read

    def _write(self, sql: str, params: Sequence[Any]) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(sql, params)

    def _id_param(self, aggregate_id: UUID) -> Any:
        return aggregate_id.hex  # the library stores SQLite ids as hex text

    @contextmanager
    def _locked_cursor(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as c:
            c.execute(self.sql.write_lock)
            yield c

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        insert = super().insert_events
        result: Sequence[int] | None = self._insert_then_publish(insert, stored_events, kwargs)
        return result

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        self._append_to_log(c, stored_events, kwargs)
        return notification_ids


class PostgresLogRecorder(LogStore, PostgresApplicationRecorder):
    notification_id = "notification_id"

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        if datastore.enable_db_functions:
            raise ProgrammingError("POSTGRES_ENABLE_DB_FUNCTIONS would bypass the log; turn it off")
        dialect = dialect_of(datastore)
        self.sql = Statements(dialect, events=dialect.table(f'"{events_table_name}"'))
        self._tail = _Tail()
        self.serials = SerialIndex(SerialStatements(dialect), self._read)
        super().__init__(datastore, events_table_name=events_table_name)
        self.sql_create_statements.extend(SQL(s) for s in self.sql.create)  # type: ignore[misc]

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(sql, params)
            return list(curs.fetchall())

    @contextmanager
    def _snapshot_cursor(self) -> Iterator[Any]:
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            curs.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield curs

    def _write(self, sql: str, params: Sequence[Any]) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(sql, params)

    def _id_param(self, aggregate_id: UUID) -> Any:
        return aggregate_id

    @contextmanager
    def _locked_cursor(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as curs:
            self._lock_table(curs)  # the library's lock, which every append takes
            yield curs

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        insert = super().insert_events  # retried by the library as a whole: published once
        result: Sequence[int] | None = self._insert_then_publish(insert, stored_events, kwargs)
        return result

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        """Append in the library's hook that runs first in the insert transaction, under the
        library's own table lock (taken here; its insert takes it again, which is a no-op).

        Not after the insert (`_fetch_ids_after_insert_events`): the library catches any exception
        raised there, lets the transaction commit, and only then raises it again, so an append
        that failed half way left events without entries, or entries without tree nodes."""
        super()._insert_events(curs, stored_events, **kwargs)
        if stored_events:
            self._lock_table(curs)
            self._append_to_log(curs, stored_events, kwargs)
