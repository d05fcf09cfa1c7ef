"""The index of identities: every issued item's marking in the normal form (ledger/domain/ids.py),
kept
beside the log in the transaction that appends the item's `Issued` entry.

One table, `custody_serials`, one row per issued item, keyed by the log index of its `Issued`
entry: the item id, the serial as marked, the normal forms of manufacturer, model and serial, and
the fields a search filters by (category, calibre, lot). The log's recorders (ledger/store/log.py)
call
`SerialIndex.index` inside their insert transaction, under the store's write lock, so:

- an `Issued` whose identity (manufacturer, model and serial in the normal form) is already that of
  another item is refused as `DuplicateItem`, and nothing of the save is stored: a look-alike cannot
  slip in between a check and a write, from any process;
- the rows are exactly the issues the log holds: a crash stores both or neither.

The table is never created empty beside a log that has entries: it is created and filled from the
log in one transaction under the write lock, by the first issue (or search) of a process that finds
it missing, so stores older than the index get it then; `custody readmodels rebuild` fills it anew
(after an upgrade of ICU's confusables data, whose skeletons may change). Items issued before the
normal form whose serial it refuses are indexed by the form of what remains of it; two look-alike
items issued before are both kept (the index refuses only new ones).

Search: SQLite's FTS5 trigram index (`custody_serials_fts`, external content) answers GLOB
patterns; on PostgreSQL a pg_trgm GIN index answers LIKE, when the extension can be had (else a
scan answers: `SerialIndex.trigram` says which).
"""

# ruff: noqa: S608 - SQL text built from constant table names only; values go in as parameters.

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.persistence import ProgrammingError

from ledger.domain.errors import DuplicateItem, InvalidInput
from ledger.domain.ids import MAX_TEXT, check_marking, marking_form
from ledger.integrity.entries import Body, decode_entry
from ledger.store.dialect import Dialect

SERIALS_TABLE = "custody_serials"
FTS_TABLE = "custody_serials_fts"
TRIGRAM_INDEX = "custody_serials_trgm"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
ISSUED_TOPIC = "custody:Item.Issued"
FILL_BATCH = 5000
IN_CHUNK = 500
Issue = tuple[str, str, str, str]
"""(manufacturer, model, serial, item id) of an issue to be checked for a look-alike."""
COLUMNS = (
    "log_index",
    "item_id",
    "serial",
    "manufacturer_form",
    "model_form",
    "serial_form",
    "category",
    "calibre",
    "lot",
)
Read = Callable[[str, Sequence[Any]], list[Any]]


@dataclass(frozen=True)
class Marking:
    """One issued item as the index keeps it."""

    log_index: int
    item_id: str
    serial: str
    manufacturer_form: str
    model_form: str
    serial_form: str
    category: str
    calibre: str | None
    lot: str | None

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.manufacturer_form, self.model_form, self.serial_form)

    @classmethod
    def of_entry(cls, log_index: int, item_id: str, body: Body) -> Marking:
        payload = body["payload"]
        details = payload.get("details") or {}
        return cls(
            log_index,
            item_id,
            str(payload["serial"]),
            lenient_form(str(payload["manufacturer"]), max_length=MAX_TEXT),
            lenient_form(str(payload["model"]), max_length=MAX_TEXT),
            lenient_form(str(payload["serial"])),
            str(payload["category"]),
            _optional_form(details.get("calibre")),
            _optional_form(details.get("lot")),
        )

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, c) for c in COLUMNS)


def lenient_form(value: str, *, max_length: int = 64) -> str:
    """The normal form, or for a marking stored before the normal form that it refuses, the form
    of what is left without the refused characters (or, if nothing is, the marking case folded)."""
    try:
        return marking_form(value, max_length=max(max_length, len(value)))
    except InvalidInput:
        pass
    kept = "".join(ch for ch in value if _admissible(ch))
    try:
        return marking_form(kept, max_length=max(max_length, len(kept)))
    except InvalidInput:
        return value.casefold()


def _admissible(ch: str) -> bool:
    try:
        check_marking("a" + ch)
    except InvalidInput:
        return False
    return True


def _optional_form(value: object) -> str | None:
    return None if value is None else lenient_form(str(value), max_length=MAX_TEXT)


class SerialStatements:
    """The index's statements, for either dialect."""

    def __init__(self, dialect: Dialect) -> None:
        p, table, integer, sqlite = (
            dialect.param,
            dialect.table(SERIALS_TABLE),
            dialect.integer,
            dialect.sqlite,
        )
        self.dialect, self.table, self.sqlite, self.param = dialect, table, sqlite, p
        self.fts = dialect.table(FTS_TABLE)
        self.create = [
            f"CREATE TABLE IF NOT EXISTS {table} (log_index {integer} PRIMARY KEY,"
            " item_id TEXT NOT NULL UNIQUE, serial TEXT NOT NULL, manufacturer_form TEXT NOT NULL,"
            " model_form TEXT NOT NULL, serial_form TEXT NOT NULL, category TEXT NOT NULL,"
            " calibre TEXT, lot TEXT)",
            f"CREATE INDEX IF NOT EXISTS {SERIALS_TABLE}_identity ON {table}"
            " (serial_form, model_form, manufacturer_form)",
        ]
        if sqlite:
            self.create.append(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {self.fts} USING fts5(serial_form,"
                f" content='{SERIALS_TABLE}', content_rowid='log_index', tokenize='trigram')"
            )
        self.insert = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join([p] * 9)})"
        self.insert_fts = f"INSERT INTO {self.fts} (rowid, serial_form) VALUES ({p}, {p})"
        self.same_identity = (
            f"SELECT {', '.join(COLUMNS)} FROM {table} WHERE serial_form = {p}"
            f" AND model_form = {p} AND manufacturer_form = {p} AND item_id <> {p}"
            " ORDER BY log_index LIMIT 1"
        )
        self.by_serial = f"SELECT {', '.join(COLUMNS)} FROM {table} WHERE serial_form = {p}"
        self.of_item = f"SELECT {', '.join(COLUMNS)} FROM {table} WHERE item_id = {p}"
        self.clear = [f"DELETE FROM {table}"]
        if sqlite:
            self.clear.append(f"INSERT INTO {self.fts} ({FTS_TABLE}) VALUES ('delete-all')")
        self.trigram_index = dialect.table(TRIGRAM_INDEX)
        self.log_after = (
            f"SELECT log_index, aggregate_id, entry FROM {dialect.table('custody_log')}"
            f" WHERE log_index >= {p} ORDER BY log_index LIMIT {p}"
        )

    def trigram(self, schema: str) -> str:
        """The pg_trgm GIN index, with the operator class of the extension's schema."""
        if not _IDENTIFIER.match(schema):
            raise ProgrammingError(f"pg_trgm's schema {schema!r} is not a plain identifier")
        return (
            f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON {self.table}"
            f' USING gin (serial_form "{schema}".gin_trgm_ops)'
        )


class SerialIndex:
    """The index of one store: kept inside the recorders' write transactions, read by searches."""

    def __init__(self, sql: SerialStatements, read: Read) -> None:
        self.sql = sql
        self._read = read
        self._ready = False
        self.trigram = sql.sqlite
        """True if a trigram index serves searches (always on SQLite; pg_trgm on PostgreSQL).
        Like `ready`, it takes what a transaction found only once that transaction commits."""
        self._trigram_found = sql.sqlite

    @property
    def ready(self) -> bool:
        """True once this process saw the table exist, committed (it is never dropped while in
        use). Set by the store after the transaction that created it commits, never inside it:
        another thread would read a table not yet committed, or one rolled back."""
        return self._ready

    @ready.setter
    def ready(self, committed: bool) -> None:
        self._ready = committed
        if committed:
            self.trigram = self._trigram_found

    # Kept in the write transaction --------------------------------------------------------------

    def index(self, cursor: Any, issued: Sequence[tuple[int, str, Body]]) -> bool:
        """Index the `Issued` entries of this transaction (log index, item id, entry body),
        refusing any whose identity is another item's, among the stored and these; answers
        whether the table is there once this transaction commits (then the store sets `ready`)."""
        if not issued:
            return self.ready
        if not self.ready:
            self.ensure(cursor, end=issued[0][0])  # the entries before this append's
        for log_index, item_id, body in issued:
            marking = Marking.of_entry(log_index, item_id, body)
            self._refuse_look_alike(cursor, marking, body)
            self._insert(cursor, marking)
        return True

    def _refuse_look_alike(self, cursor: Any, marking: Marking, body: Body) -> None:
        cursor.execute(self.sql.same_identity, (*reversed(marking.identity), marking.item_id))
        found = cursor.fetchone()
        if found is not None:
            raise look_alike(body["payload"], _marking(found))

    def _insert(self, cursor: Any, marking: Marking) -> None:
        cursor.execute(self.sql.insert, marking.values())
        if self.sql.sqlite:
            cursor.execute(self.sql.insert_fts, (marking.log_index, marking.serial_form))

    def ensure(self, cursor: Any, *, end: int | None = None) -> None:
        """Create the index and fill it from the log's entries before `end` (all if None) if this
        store has none yet (under the store's write lock, in the caller's transaction, which
        sets `ready` once it commits)."""
        if not self._exists(cursor):
            for statement in self.sql.create:
                cursor.execute(statement)
            self.fill(cursor, end=end)
        if not self.sql.sqlite:  # said by `trigram` once the store sets `ready`, committed
            self._trigram_found = self._pg_trigram(cursor)

    def _pg_trigram(self, cursor: Any) -> bool:
        """A pg_trgm GIN index on the serial forms, if it exists or can be made: the extension is
        created (in schema public) if the role may; if not, searches scan, and this says False."""
        cursor.execute("SELECT COUNT(to_regclass(%s)) AS n", (self.sql.trigram_index,))
        if int(cursor.fetchone()["n"]) == 1:
            return True
        cursor.execute("SAVEPOINT custody_trigram")
        try:
            cursor.execute(
                "SELECT extnamespace::regnamespace::text AS s FROM pg_extension"
                " WHERE extname = 'pg_trgm'"
            )
            found = cursor.fetchone()
            if found is None:
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
            schema = "public" if found is None else str(found["s"]).strip('"')
            cursor.execute(self.sql.trigram(schema))
        except psycopg.Error:  # not allowed, or not installed: searches scan instead
            cursor.execute("ROLLBACK TO SAVEPOINT custody_trigram")
            return False
        cursor.execute("RELEASE SAVEPOINT custody_trigram")
        return True

    def _exists(self, cursor: Any) -> bool:
        cursor.execute(*self.sql.dialect.count_tables([SERIALS_TABLE]))
        return int(cursor.fetchone()["n"]) == 1

    def fill(self, cursor: Any, *, end: int | None = None) -> int:
        """Index every `Issued` entry of the log before `end` (the table empty); answers how
        many."""
        count = 0
        for log_index, item_id, body in _issued_entries(cursor, self.sql, end):
            self._insert(cursor, Marking.of_entry(log_index, item_id, body))
            count += 1
        return count

    def refill(self, cursor: Any) -> int:
        """Empty the index and fill it again from the log (`custody readmodels rebuild`)."""
        if not self._exists(cursor):
            for statement in self.sql.create:
                cursor.execute(statement)
        for statement in self.sql.clear:
            cursor.execute(statement)
        return self.fill(cursor)

    # Reads --------------------------------------------------------------------------------------

    def by_serial(self, serial_form: str) -> list[Marking]:
        return [_marking(r) for r in self._read(self.sql.by_serial, (serial_form,))]

    def by_serials(self, forms: Sequence[str]) -> list[Marking]:
        """The items of any of these serial forms, read IN_CHUNK at a time."""
        return self._chunked("serial_form", forms)

    def of_items(self, item_ids: Sequence[str]) -> list[Marking]:
        return self._chunked("item_id", item_ids)

    def _chunked(self, column: str, values: Sequence[str]) -> list[Marking]:
        found: list[Marking] = []
        for start in range(0, len(values), IN_CHUNK):
            chunk = values[start : start + IN_CHUNK]
            sql = (
                f"SELECT {', '.join(COLUMNS)} FROM {self.sql.table} WHERE {column} IN"
                f" ({', '.join([self.sql.param] * len(chunk))})"
            )
            found += [_marking(r) for r in self._read(sql, chunk)]
        return found

    def of_item(self, item_id: str) -> Marking | None:
        found = self._read(self.sql.of_item, (item_id,))
        return _marking(found[0]) if found else None

    def look_alike_of(
        self, manufacturer: str, model: str, serial: str, item_id: str
    ) -> Marking | None:
        """The item already issued with this identity, other than `item_id`; None if none."""
        identity = (
            marking_form(serial),
            marking_form(model, field="model", max_length=MAX_TEXT),
            marking_form(manufacturer, field="manufacturer", max_length=MAX_TEXT),
        )
        found = self._read(self.sql.same_identity, (*identity, item_id))
        return _marking(found[0]) if found else None

    def look_alikes_of(self, issues: Sequence[Issue]) -> dict[Issue, Marking | None]:
        """`look_alike_of` each of these (manufacturer, model, serial, item id), read by their
        serial forms IN_CHUNK at a time instead of one query each: the earliest other item of the
        same identity, or None. One whose normal form is refused is left out (its own
        `look_alike_of` refuses it)."""
        identities: dict[Issue, tuple[str, str, str]] = {}
        for issue in issues:
            manufacturer, model, serial, _ = issue
            try:
                identities[issue] = (
                    marking_form(manufacturer, field="manufacturer", max_length=MAX_TEXT),
                    marking_form(model, field="model", max_length=MAX_TEXT),
                    marking_form(serial),
                )
            except InvalidInput:
                continue
        stored: dict[tuple[str, str, str], list[Marking]] = {}
        for marking in self.by_serials(sorted({form[2] for form in identities.values()})):
            stored.setdefault(marking.identity, []).append(marking)
        return {
            issue: min(
                (m for m in stored.get(identity, ()) if m.item_id != issue[3]),
                key=lambda m: m.log_index,
                default=None,
            )
            for issue, identity in identities.items()
        }

    def rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """The rows of a query over the index (ledger/readmodels/search.py builds them)."""
        return self._read(sql, params)


def look_alike(payload: Any, other: Marking) -> DuplicateItem:
    return DuplicateItem(
        f"{payload['manufacturer']} {payload['model']} serial {payload['serial']!r} looks like"
        f" serial {other.serial!r} of item {other.item_id}, issued already (normal form"
        f" {other.serial_form!r}; docs/identity.md)"
    )


def _issued_entries(
    cursor: Any, sql: SerialStatements, end: int | None
) -> Iterator[tuple[int, str, Body]]:
    """Every `Issued` entry of the log before `end`, read in batches through the transaction's
    cursor."""
    start, marker = 0, ISSUED_TOPIC.encode()
    while True:
        limit = FILL_BATCH if end is None else min(FILL_BATCH, end - start)
        cursor.execute(sql.log_after, (start, limit))
        rows = list(cursor.fetchall())
        if not rows:
            return
        for row in rows:
            entry = bytes(row["entry"])
            if marker in entry:  # cheap before decoding; the type decides
                body = decode_entry(entry)
                if body["type"] == ISSUED_TOPIC:
                    yield int(row["log_index"]), str(row["aggregate_id"]), body
        start = int(rows[-1]["log_index"]) + 1


def _marking(row: Any) -> Marking:
    return Marking(*(row[c] for c in COLUMNS))
