"""Backups of a whole ledger: `custody export` writes one file; `custody restore` rebuilds a store
from it, on SQLite or PostgreSQL, and keeps nothing unless the result verifies (docs/backup.md).

The file, custody-backup/v1, is JSON lines in log order (each line canonical JSON, as entries are),
so neither command holds more than one batch in memory:

    {"record": "header", "format", "origin", "vkey", "size", "exported_at"}
    {"record": "entry", "log_index", "aggregate_id", "aggregate_version", "leaf_hash", "entry",
     "receipt", "topic", "state"}               one per log entry; entry, receipt (the log key's
                                                signature of its receipt) and state in base64
    {"record": "checkpoint", "size", "note"}    right after the entry that completes its size
    {"record": "end", "entries", "checkpoints", "sha256"}   SHA-256 of every byte before this line

Each entry travels with the library's stored event (topic and state bytes) verbatim. An entry is
derived from its stored event, not the other way round: the stored state keeps the attribute order
and the type tags (`{"_type_": "datetime_iso", ...}`) that the entry's canonical JSON drops, and
step 4 of `custody verify` compares the two byte for byte.

A restore is one transaction. It refuses a store that holds anything; writes the events, entries,
tree nodes and checkpoints; checks each checkpoint's signature by the trusted key, and its root,
where the file reaches its size; checks the end record; then runs `custody verify`'s own code
(ledger/verification/verify.py, which checks every entry's receipt too) on the store it wrote,
before
committing. A failure, or a crash, keeps nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, Self
from uuid import UUID

from eventsourcing.persistence import Notification, ProgrammingError, StoredEvent

from ledger.application.ledger import Ledger
from ledger.domain.errors import CustodyError, IntegrityFailure, InvalidInput
from ledger.domain.times import format_time
from ledger.integrity import merkle
from ledger.integrity.checkpoints import Checkpoint, verify_checkpoint
from ledger.integrity.entries import canonical_json, decode_entry
from ledger.integrity.merkle import Node
from ledger.integrity.signing import Verifier, decode_base64, encode_base64
from ledger.store.log import LogRow, LogStore, PostgresLogRecorder, SQLiteLogRecorder
from ledger.verification.verify import verify_store

FORMAT = "custody-backup/v1"
BATCH = 1000
MAX_LINE = 1 << 20
"""The longest line read: an entry is at most 64 KiB, its event about as much, base64 adds 1/3."""
GZIP_MAGIC = b"\x1f\x8b"
Progress = Callable[[int], None]
Record = dict[str, Any]


class Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...


class Source(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Header:
    origin: str
    vkey: str
    size: int
    exported_at: str


@dataclass(frozen=True)
class Summary:
    """What a backup holds: its entries, its checkpoints, the root signed at its size, and the
    SHA-256 its end record carries."""

    entries: int
    checkpoints: int
    root: bytes
    sha256: str


@dataclass(frozen=True)
class _Entry:
    log_index: int
    aggregate_id: UUID
    aggregate_version: int
    leaf_hash: bytes
    entry: bytes
    receipt: bytes
    topic: str
    state: bytes


@dataclass(frozen=True)
class _Signed:
    size: int
    note: str


# Export -------------------------------------------------------------------------------------------


def export_file(
    ledger: Ledger,
    path: Path,
    *,
    verifier: Verifier,
    now: datetime,
    progress: Progress | None = None,
    batch: int = BATCH,
) -> Summary:
    """Write the backup to `path` (gzip if it ends in .gz) through a temporary file renamed when
    complete, so a failed export never leaves a file that looks like a backup."""
    partial = path.with_name(path.name + ".partial")
    try:
        with _open_for_writing(partial, compress=path.suffix == ".gz") as out:
            summary = export_log(
                ledger, out, verifier=verifier, now=now, progress=progress, batch=batch
            )
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return summary


def export_log(
    ledger: Ledger,
    out: Sink,
    *,
    verifier: Verifier,
    now: datetime,
    progress: Progress | None = None,
    batch: int = BATCH,
) -> Summary:
    """Write the ledger up to its latest signed checkpoint: every entry with its stored event, and
    every checkpoint up to that size. Entries appended meanwhile lie beyond it and are left out,
    so the file is one consistent prefix of the log even while the ledger takes writes."""
    step = progress or _ignore
    store = ledger.log_store
    latest = _latest_checkpoint(store, verifier, ledger.origin)
    writer = _Writer(out)
    writer.write(_header(ledger.origin, verifier, latest.size, now))
    checkpoints = _Pending([_Signed(s, n) for s, n in store.all_checkpoints() if s <= latest.size])
    events = _stored_events(ledger, batch)
    for start in range(0, latest.size, batch):
        end = min(start + batch, latest.size)
        rows = store.log_entries(start, end)
        _require_gapless(rows, start, end)
        for row in rows:
            writer.write_all(_checkpoint_record(c) for c in checkpoints.up_to(row.log_index))
            writer.write(_entry_record(row, _paired(row, next(events, None))))
        step(len(rows))
    writer.write_all(_checkpoint_record(c) for c in checkpoints.up_to(latest.size))
    return Summary(latest.size, writer.count("checkpoint"), latest.root_hash, writer.end())


def _latest_checkpoint(store: LogStore, verifier: Verifier, origin: str) -> Checkpoint:
    found = store.latest_checkpoint()
    if found is None:
        raise CustodyError(
            "the store has no signed checkpoint yet, so a backup would prove nothing"
        )
    size, note = found
    checkpoint = _open_checkpoint(note, size, verifier, origin)
    if checkpoint.size != size:
        raise IntegrityFailure(
            "the latest checkpoint is kept under another size",
            position=size,
            expected=str(size),
            got=str(checkpoint.size),
        )
    return checkpoint


def _stored_events(ledger: Ledger, batch: int) -> Iterator[Notification]:
    """The library's stored events in notification order, which is the log's order: the log
    store appends an event's entry in the transaction, and under the lock, that stores it."""
    start: int | None = None
    while page := ledger.recorder.select_notifications(start, batch, inclusive_of_start=False):
        yield from page
        start = page[-1].id


def _paired(row: LogRow, stored: StoredEvent | None) -> StoredEvent:
    wanted = (str(row.aggregate_id), row.aggregate_version)
    got = (str(stored.originator_id), stored.originator_version) if stored else None
    if stored is None or got != wanted:
        raise IntegrityFailure(
            "the stored events and the log disagree (run `custody verify`)",
            position=row.log_index,
            expected=f"event {wanted}",
            got=f"{got}",
        )
    return stored


def _require_gapless(rows: Sequence[LogRow], start: int, end: int) -> None:
    indexes = [r.log_index for r in rows]
    if indexes != list(range(start, end)):
        raise IntegrityFailure(
            "the log has a gap (run `custody verify`)",
            position=start,
            expected=f"entries {start} to {end - 1}",
            got=f"{len(indexes)} entries",
        )


def _header(origin: str, verifier: Verifier, size: int, now: datetime) -> Record:
    return {
        "record": "header",
        "format": FORMAT,
        "origin": origin,
        "vkey": verifier.vkey,
        "size": size,
        "exported_at": format_time(now),
    }


def _entry_record(row: LogRow, stored: StoredEvent) -> Record:
    return {
        "record": "entry",
        "log_index": row.log_index,
        "aggregate_id": str(row.aggregate_id),
        "aggregate_version": row.aggregate_version,
        "leaf_hash": row.leaf_hash.hex(),
        "entry": encode_base64(row.entry),
        "receipt": encode_base64(row.receipt or b""),
        "topic": stored.topic,
        "state": encode_base64(stored.state),
    }


def _checkpoint_record(signed: _Signed) -> Record:
    return {"record": "checkpoint", "size": signed.size, "note": signed.note}


class _Pending:
    """Checkpoints in size order, handed out as the export reaches their size."""

    def __init__(self, checkpoints: Sequence[_Signed]) -> None:
        self.waiting = sorted(checkpoints, key=lambda c: c.size, reverse=True)

    def up_to(self, size: int) -> list[_Signed]:
        due = []
        while self.waiting and self.waiting[-1].size <= size:
            due.append(self.waiting.pop())
        return due


class _Writer:
    """Writes records as lines, hashing every byte for the end record."""

    def __init__(self, out: Sink) -> None:
        self.out = out
        self.digest = hashlib.sha256()
        self.counts: dict[str, int] = {}

    def write(self, record: Record) -> None:
        line = canonical_json(record) + b"\n"
        self.digest.update(line)
        self.out.write(line)
        self.counts[record["record"]] = self.count(record["record"]) + 1

    def write_all(self, records: Iterator[Record] | Sequence[Record]) -> None:
        for record in records:
            self.write(record)

    def count(self, kind: str) -> int:
        return self.counts.get(kind, 0)

    def end(self) -> str:
        sha256 = self.digest.hexdigest()
        end = {
            "record": "end",
            "entries": self.count("entry"),
            "checkpoints": self.count("checkpoint"),
            "sha256": sha256,
        }
        self.out.write(canonical_json(end) + b"\n")
        return sha256


# Reading a backup ---------------------------------------------------------------------------------


def read_header(path: Path) -> Header:
    with _open_for_reading(path) as source:
        return _Reader(source).header()


def file_verifier(header: Header) -> Verifier:
    """The log key the file names: trusting it trusts the file (prefer a key of your own)."""
    try:
        return Verifier.from_vkey(header.vkey)
    except InvalidInput as error:
        raise IntegrityFailure(
            f"the backup's log key is not a verifier key: {error.message}"
        ) from None


class _Reader:
    """The file's records, line by line, hashing every byte the end record must account for."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.line = 0
        self.digest = hashlib.sha256()
        self.counts = {"entry": 0, "checkpoint": 0}

    def header(self) -> Header:
        record = self._next()
        if record is None or record.get("record") != "header":
            raise self._damaged("the first line is not a custody backup header")
        if record.get("format") != FORMAT:
            raise self._damaged(f"the format is {record.get('format')!r}, not {FORMAT!r}")
        return Header(
            self._text(record, "origin"),
            self._text(record, "vkey"),
            self._count(record, "size"),
            self._text(record, "exported_at"),
        )

    def records(self) -> Iterator[_Entry | _Signed]:
        """Entries and checkpoints up to the end record, which is checked when reached."""
        while (record := self._next()) is not None:
            kind = record.get("record")
            if kind == "end":
                self._check_end(record)
                return
            if kind == "entry":
                yield self._entry(record)
            elif kind == "checkpoint":
                yield _Signed(self._count(record, "size"), self._text(record, "note"))
            else:
                raise self._damaged(f"unknown record {kind!r}")
            self.counts[kind] += 1
        raise IntegrityFailure(
            f"the backup ends after line {self.line} without its end record: it is truncated"
        )

    def _next(self) -> Record | None:
        raw = self._readline(MAX_LINE + 1)
        if not raw:
            return None
        self.line += 1
        if not raw.endswith(b"\n"):
            raise self._damaged("the line is cut short (truncated) or longer than 1 MiB")
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):
            raise self._damaged("the line is not JSON") from None
        if not isinstance(record, dict):
            raise self._damaged("the line is not a JSON object")
        if record.get("record") != "end":
            self.digest.update(raw)
        return record

    def _check_end(self, record: Record) -> None:
        expected = {"entries": self.counts["entry"], "checkpoints": self.counts["checkpoint"]}
        for name, count in expected.items():
            if record.get(name) != count:
                raise self._damaged(
                    f"the end record counts {record.get(name)!r} {name}, not {count}"
                )
        if record.get("sha256") != self.digest.hexdigest():
            raise IntegrityFailure(
                "the backup's SHA-256 is not the one its end record carries: it was changed or"
                " damaged",
                expected=self.digest.hexdigest(),
                got=repr(record.get("sha256")),
            )
        if self._readline(1):
            raise self._damaged("there is more after the end record")

    def _readline(self, limit: int) -> bytes:
        try:
            return self.source.readline(limit)
        except (EOFError, gzip.BadGzipFile, zlib.error):
            raise self._damaged("the compressed stream is cut short or corrupt") from None

    def _entry(self, record: Record) -> _Entry:
        try:
            return _Entry(
                self._count(record, "log_index"),
                UUID(self._text(record, "aggregate_id")),
                self._count(record, "aggregate_version"),
                bytes.fromhex(self._text(record, "leaf_hash")),
                decode_base64(self._text(record, "entry"), what="entry"),
                decode_base64(self._text(record, "receipt"), what="receipt"),
                self._text(record, "topic"),
                decode_base64(self._text(record, "state"), what="state"),
            )
        except (InvalidInput, ValueError) as error:
            raise self._damaged(f"a malformed entry record ({error})") from None

    def _text(self, record: Mapping[str, Any], name: str) -> str:
        value = record.get(name)
        if not isinstance(value, str):
            raise self._damaged(f"{name} is missing or not text")
        return value

    def _count(self, record: Mapping[str, Any], name: str) -> int:
        value = record.get(name)
        if type(value) is not int or value < 0:
            raise self._damaged(f"{name} is missing or not a whole number")
        return value

    def _damaged(self, why: str) -> IntegrityFailure:
        return IntegrityFailure(f"the backup is damaged at line {self.line}: {why}")


# Restore ------------------------------------------------------------------------------------------


def restore_file(
    ledger: Ledger,
    path: Path,
    *,
    trusted: Verifier,
    progress: Progress | None = None,
    batch: int = BATCH,
) -> Summary:
    with _open_for_reading(path) as source:
        return restore_log(ledger, source, trusted=trusted, progress=progress, batch=batch)


def restore_log(
    ledger: Ledger,
    source: Source,
    *,
    trusted: Verifier,
    progress: Progress | None = None,
    batch: int = BATCH,
) -> Summary:
    """Rebuild the backup in `source` into the ledger's store, which must be empty, in one
    transaction that commits only once the store verifies with the `trusted` key. Progress counts
    the entries written, then the verification's steps (three per entry in all)."""
    step = progress or _ignore
    reader = _Reader(source)
    header = reader.header()
    _check_trust(header, trusted, ledger.origin)
    with _restoring(ledger.log_store) as target:
        _require_empty(target)
        restorer = _Restorer(target, trusted, header.origin, batch, step)
        for record in reader.records():
            restorer.add(record)
        summary = restorer.finish(header, reader.digest.hexdigest())
        verify_store(target, ledger.mapper, trusted, origin=header.origin, progress=step)
    return summary


def _check_trust(header: Header, trusted: Verifier, origin: str) -> None:
    if header.origin != origin:
        raise InvalidInput(
            f"the backup is of the log {header.origin!r}, not {origin!r}: restore it with "
            f"CUSTODY_ORIGIN={header.origin}"
        )
    if trusted.name != header.origin:
        raise IntegrityFailure(
            "the trusted key is another log's", expected=header.origin, got=trusted.name
        )
    if header.vkey != trusted.vkey:
        raise IntegrityFailure(
            "the backup names another log key than the one trusted",
            expected=trusted.vkey,
            got=header.vkey,
        )


def _require_empty(store: LogStore) -> None:
    size, events, latest = store.log_size(), store.count_events(), store.latest_checkpoint()
    if size or events or latest is not None:
        raise CustodyError(
            f"the target store is not empty ({size} entries, {events} events, "
            f"{'a' if latest else 'no'} checkpoint); restore only into a new SQLite file or an "
            "empty PostgreSQL schema (docs/backup.md)"
        )


class _Restorer:
    """Writes the file's records in order, checking what each can prove where it is met."""

    def __init__(
        self, target: _Restoring, trusted: Verifier, origin: str, batch: int, step: Progress
    ) -> None:
        self.target, self.trusted, self.origin = target, trusted, origin
        self.batch, self.step = batch, step
        self.size = 0
        self.pending: list[_Entry] = []
        self.signed: list[Checkpoint] = []

    def add(self, record: _Entry | _Signed) -> None:
        if isinstance(record, _Signed):
            self.flush()
            self.add_checkpoint(record)
            return
        expected = self.size + len(self.pending)
        if record.log_index != expected:
            raise IntegrityFailure(
                "the backup's entries are not in log order",
                position=expected,
                expected=f"entry {expected}",
                got=f"entry {record.log_index}",
            )
        self.pending.append(record)
        if len(self.pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        leaves = [_leaf_hash(e) for e in self.pending]
        self.target.restore_events(
            [
                StoredEvent(e.aggregate_id, e.aggregate_version, e.topic, e.state)
                for e in self.pending
            ]
        )
        self.target.restore_entries(self.pending)
        self.target.restore_nodes(merkle.nodes_to_append(self.size, leaves, self.target))
        self.size += len(self.pending)
        self.step(len(self.pending))
        self.pending = []

    def add_checkpoint(self, signed: _Signed) -> None:
        last = self.signed[-1].size if self.signed else -1
        if signed.size != self.size or signed.size <= last:
            raise IntegrityFailure(
                "a checkpoint is out of place: each follows the entry that completes its size",
                position=self.size,
                expected=f"a checkpoint of size {self.size}",
                got=f"size {signed.size}",
            )
        checkpoint = _open_checkpoint(signed.note, signed.size, self.trusted, self.origin)
        root = merkle.root(self.size, self.target)
        if (checkpoint.size, checkpoint.root_hash) != (self.size, root):
            raise IntegrityFailure(
                f"the entries do not give the root the checkpoint at size {self.size} signs",
                position=self.size,
                expected=f"size {self.size} root {root.hex()}",
                got=f"size {checkpoint.size} root {checkpoint.root_hash.hex()}",
            )
        self.target.restore_checkpoint(signed.size, signed.note)
        self.signed.append(checkpoint)

    def finish(self, header: Header, sha256: str) -> Summary:
        self.flush()
        if not self.signed:
            raise IntegrityFailure("the backup holds no signed checkpoint, so nothing proves it")
        last = self.signed[-1]
        if last.size != self.size:
            raise IntegrityFailure(
                f"entries {last.size} to {self.size - 1} follow the last signed checkpoint, and"
                " nothing signs them",
                position=last.size,
                expected=f"a checkpoint of size {self.size}",
                got=f"the last at size {last.size}",
            )
        if header.size != self.size:
            raise IntegrityFailure(
                "the backup holds another number of entries than its header says",
                expected=str(header.size),
                got=str(self.size),
            )
        return Summary(self.size, len(self.signed), last.root_hash, sha256)


def _leaf_hash(entry: _Entry) -> bytes:
    """The entry's leaf hash, checked; and its event's topic, checked to be the entry's type. The
    topic names the class that decodes the event, so only a topic that a signed entry names (once
    the checkpoints are checked) is ever looked up."""
    digest = merkle.leaf_hash(entry.entry)
    if digest != entry.leaf_hash:
        raise IntegrityFailure(
            "the entry does not hash to its leaf hash",
            position=entry.log_index,
            expected=digest.hex(),
            got=entry.leaf_hash.hex(),
        )
    try:
        kind = decode_entry(entry.entry).get("type")
    except (InvalidInput, ValueError):
        kind = None
    if kind != entry.topic:
        raise IntegrityFailure(
            "the stored event's topic is not its entry's type",
            position=entry.log_index,
            expected=repr(kind),
            got=repr(entry.topic),
        )
    return digest


def _open_checkpoint(note: str, size: int, verifier: Verifier, origin: str) -> Checkpoint:
    try:
        return verify_checkpoint(note, verifier, origin)
    except IntegrityFailure as error:
        raise IntegrityFailure(
            f"the checkpoint at size {size} is not signed by the trusted key",
            position=size,
            expected=error.expected or verifier.vkey,
            got=error.got or error.message,
        ) from None
    except InvalidInput as error:
        raise IntegrityFailure(
            f"the checkpoint at size {size} is malformed", position=size, got=error.message
        ) from None


# The target store, inside the restore's one transaction -------------------------------------------


class _Restoring(LogStore):
    """A copy of the target store whose reads and writes run on the restore's transaction, so
    that the Merkle code and `verify_store` read the rows before they are committed. It overrides
    only `_read` and `_write`, the two methods through which LogStore reaches its database; the
    rest (statements, dialect) is the store's own, copied from it."""

    cursor: Any

    @classmethod
    def of(cls, store: LogStore, cursor: Any) -> Self:
        target = cls.__new__(cls)
        target.__dict__.update(vars(store))
        target.cursor = cursor
        return target

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        self.cursor.execute(sql, params)
        return list(self.cursor.fetchall())

    def _write(self, sql: str, params: Sequence[Any]) -> None:
        self.cursor.execute(sql, params)

    @contextmanager
    def snapshot(self) -> Iterator[LogStore]:
        yield self  # already one transaction, the restore's, which sees its own rows

    def restore_events(self, events: Sequence[StoredEvent]) -> None:
        raise NotImplementedError

    def restore_entries(self, entries: Sequence[_Entry]) -> None:
        self.cursor.executemany(
            self.sql.insert,
            [
                (
                    e.log_index,
                    str(e.aggregate_id),
                    e.aggregate_version,
                    e.leaf_hash,
                    e.entry,
                    e.receipt,
                )
                for e in entries
            ],
        )

    def restore_nodes(self, nodes: Sequence[Node]) -> None:
        if nodes:
            self.cursor.executemany(self.sql.insert_node, nodes)

    def restore_checkpoint(self, size: int, note: str) -> None:
        self._write(self.sql.insert_checkpoint, (size, note))


class _SQLiteRestoring(_Restoring, SQLiteLogRecorder):
    def restore_events(self, events: Sequence[StoredEvent]) -> None:
        """The library's insert, with ids as it stores them on SQLite (hex)."""
        self.cursor.executemany(
            self.insert_events_statement,
            [
                (UUID(str(e.originator_id)).hex, e.originator_version, e.topic, e.state)
                for e in events
            ],
        )


class _PostgresRestoring(_Restoring, PostgresLogRecorder):
    def lock(self) -> None:
        """The library's own write lock (and lock timeout): writers wait, readers do not."""
        for statement in self.lock_table_statements:
            self.cursor.execute(statement)

    def restore_events(self, events: Sequence[StoredEvent]) -> None:
        """The library's insert: one array of its composite type."""
        composite = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in events
        ]
        self.cursor.execute(self.insert_events_statement, (composite,))


@contextmanager
def _restoring(store: LogStore) -> Iterator[_Restoring]:
    """One transaction on the store's datastore: committed if the block ends, else rolled back."""
    if isinstance(store, SQLiteLogRecorder):
        with store.datastore.transaction(commit=True) as cursor:
            yield _SQLiteRestoring.of(store, cursor)
    elif isinstance(store, PostgresLogRecorder):
        with store.datastore.transaction(commit=True) as cursor:
            target = _PostgresRestoring.of(store, cursor)
            target.lock()
            yield target
    else:
        raise ProgrammingError(f"no restore for a {type(store).__name__}")


# Files --------------------------------------------------------------------------------------------


@contextmanager
def _open_for_writing(path: Path, *, compress: bool) -> Iterator[Sink]:
    with gzip.open(path, "wb") if compress else path.open("wb") as out:
        yield out


@contextmanager
def _open_for_reading(path: Path) -> Iterator[Source]:
    with path.open("rb") as raw:
        if raw.read(2) != GZIP_MAGIC:
            raw.seek(0)
            yield raw
            return
    with gzip.open(path, "rb") as unzipped:
        yield unzipped


def _ignore(_: int) -> None:
    return None
