"""Read models: custody intervals and an item summary, kept beside the log and following it with
eventsourcing's tracking (docs/readmodels.md).

`CustodyViews` is a tracking recorder, a subclass of the library's SQLite or PostgreSQL one, on the
Ledger's own datastore. It adds two tables:

- `custody_intervals`: bitemporal. Each row says the item was with `holder` in `status` over field
  time [valid_from, valid_to), as the ledger knew it over recording time [recorded_from,
  recorded_to); a NULL end is open.
- `item_summary`: one row per item: its marking, holder and status now (field-time order), the last
  verified inspection, the entry that last changed it. `open_findings` is left NULL for the
  policies to fill: findings depend on policy thresholds and the date asked about.

The views follow `custody_log` in log-index order. The log is gapless, so the position is the last
applied log index: each batch is applied together with `Tracking("Custody", log_index + 1)` of its
last entry, in one transaction, so `max_tracking_id` counts the entries applied. A crash applies
nothing of its batch; a batch already applied (by another follower) is skipped, never applied twice.

An item's intervals are computed exactly as `ledger/domain/replay.py` replays: the entries recorded
by a
time, folded in field-time order. Queries read the views only; `Fleet` catches them up first.
"""

# ruff: noqa: S608 - SQL text built from constant table names only; values go in as parameters.

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import (
    OperationalError,
    PersistenceError,
    ProgrammingError,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder
from psycopg.sql import SQL

from ledger.application.ledger import Ledger
from ledger.domain.errors import Conflict, IntegrityFailure, NotFound
from ledger.domain.fields import item_uuid
from ledger.domain.items import InspectionResult, Item, Status
from ledger.domain.paging import Page, checked_limit, page_of, position
from ledger.domain.times import aware_utc, format_time
from ledger.integrity.entries import decode_entry
from ledger.store.log import LOG_TABLE, LogRow, LogStore, PostgresLogRecorder, SQLiteLogRecorder

APPLICATION_NAME = Ledger.name
"""The application whose log the views track ("Custody")."""
TRACKING_TABLE = "custody_views_tracking"
INTERVALS_TABLE = "custody_intervals"
SUMMARY_TABLE = "item_summary"
ITEM_TOPIC = "custody:Item."
BATCH = 1000
Progress = Callable[[int], None]
State = tuple[str, str]
"""(holder, status)"""


# The fold: an item's custody over field time, as known from some of its entries -----------------


@dataclass(frozen=True)
class ItemEntry:
    """One log entry of an item, as the views read it. Times are canonical RFC 3339 text
    (`format_time`: fixed width, UTC), so they order as text."""

    log_index: int
    version: int
    type: str
    occurred_at: str
    recorded_at: str
    payload: Mapping[str, Any]

    @classmethod
    def decode(cls, log_index: int, version: int, entry: bytes) -> ItemEntry | None:
        """The entry if it is an item's; None for parties, tokens, nonces, flags."""
        body = decode_entry(entry)
        if not str(body["type"]).startswith(ITEM_TOPIC):
            return None
        return cls(
            log_index,
            version,
            str(body["type"]),
            str(body["occurred_at"]),
            str(body["recorded_at"]),
            body["payload"],
        )


@dataclass(frozen=True)
class Interval:
    """Holder and status over field time [valid_from, valid_to); valid_to None: still so."""

    valid_from: str
    valid_to: str | None
    holder: str
    status: str


@dataclass(frozen=True)
class IntervalRow:
    """An interval as known over recording time [recorded_from, recorded_to); None: still known."""

    interval: Interval
    recorded_from: str
    recorded_to: str | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.interval.valid_from, self.recorded_from)


def transition(entry: ItemEntry, state: State) -> State:
    """What the event's `apply` (ledger/domain/items.py) does to holder and status; others keep
    both."""
    holder, status = state
    match entry.type:
        case Item.Transferred.TOPIC:
            return str(entry.payload["to"]), status
        case Item.ReportedLost.TOPIC:
            return holder, Status.LOST.value
        case Item.Recovered.TOPIC:
            return str(entry.payload["by"]), Status.IN_CUSTODY.value
        case Item.Disposed.TOPIC:
            return holder, Status.DISPOSED.value
    return state


def timeline(entries: Sequence[ItemEntry]) -> tuple[Interval, ...]:
    """The item's custody over field time from these entries (in version order), folded as
    `ledger.replay.custody_at` does: the issue first, then the rest by (occurred_at, version).
    Empty before the issue is among them."""
    issued = next((e for e in entries if e.type == Item.Issued.TOPIC), None)
    if issued is None:
        return ()
    state: State = (str(issued.payload["recipient"]), Status.IN_CUSTODY.value)
    points = {issued.occurred_at: state}
    for entry in sorted((e for e in entries if e is not issued), key=_field_order):
        state = transition(entry, state)
        points[max(entry.occurred_at, issued.occurred_at)] = state  # replay applies the issue first
    return _intervals(points)


def _field_order(entry: ItemEntry) -> tuple[str, int]:
    return (entry.occurred_at, entry.version)


def _intervals(points: Mapping[str, State]) -> tuple[Interval, ...]:
    """Points in time order (the state after everything at each time) -> maximal intervals."""
    changes: list[tuple[str, State]] = []
    for at, state in points.items():
        if not changes or changes[-1][1] != state:
            changes.append((at, state))
    ends = [at for at, _ in changes[1:]]
    return tuple(
        Interval(at, end, *state) for (at, state), end in zip(changes, [*ends, None], strict=True)
    )


def known_intervals(
    entries: Sequence[ItemEntry], *, since: str | None, open_rows: Mapping[Interval, str]
) -> list[IntervalRow]:
    """The item's interval rows over recording time: at each recording time of `entries` from
    `since` on (all if None), the timeline of the entries recorded by then. `open_rows` (interval ->
    recorded_from) are the runs still open before `since`; an interval a later timeline drops is
    closed at that recording time, a new one opened."""
    still_open = dict(open_rows)
    rows: list[IntervalRow] = []
    for recorded in sorted(
        {e.recorded_at for e in entries if since is None or e.recorded_at >= since}
    ):
        known = timeline([e for e in entries if e.recorded_at <= recorded])
        for interval in [i for i in still_open if i not in known]:
            rows.append(IntervalRow(interval, still_open.pop(interval), recorded))
        for interval in known:
            still_open.setdefault(interval, recorded)
    return rows + [IntervalRow(i, since_, None) for i, since_ in still_open.items()]


def summary_values(item_id: UUID, entries: Sequence[ItemEntry]) -> tuple[Any, ...] | None:
    """The item's `item_summary` row from its entries (in version order), `open_findings` left
    out; None before its issue is among them."""
    now = timeline(entries)
    if not now:
        return None
    issued = next(e for e in entries if e.type == Item.Issued.TOPIC).payload
    marking = ("serial", "normalised_serial", "category", "programme", "agreement")
    verified = [
        e.occurred_at
        for e in entries
        if e.type == Item.Inspected.TOPIC
        and e.payload.get("result") == InspectionResult.VERIFIED.value
    ]
    return (
        str(item_id),
        *(str(issued[k]) for k in marking),
        str(issued["recipient"]),
        now[-1].holder,
        now[-1].status,
        max(verified, default=None),
        entries[-1].log_index,
    )


# What the queries answer ----------------------------------------------------------------------


@dataclass(frozen=True)
class Holding:
    item_id: UUID
    serial: str
    category: str
    holder: str
    status: Status


@dataclass(frozen=True)
class ItemSummary:
    item_id: UUID
    serial: str
    normalised_serial: str
    category: str
    programme: str
    agreement: str
    recipient: str
    holder: str
    status: Status
    last_verified_at: str | None
    last_log_index: int
    open_findings: int | None


# The views: tables, statements, and applying a batch with its tracking ---------------------------


class ViewStatements:
    """Every statement of the views, written once, for either dialect."""

    def __init__(self, *, param: str, prefix: str, time: str, integer: str, lock: list[str]):
        p = param
        tracking, intervals, summary, log = (
            prefix + t for t in (TRACKING_TABLE, INTERVALS_TABLE, SUMMARY_TABLE, LOG_TABLE)
        )
        self.tables = [tracking, intervals, summary]
        self.lock = lock
        self.create = [
            f"CREATE TABLE IF NOT EXISTS {intervals} (item_id TEXT NOT NULL, holder TEXT NOT NULL,"
            f" status TEXT NOT NULL, valid_from {time} NOT NULL, valid_to {time},"
            f" recorded_from {time} NOT NULL, recorded_to {time},"
            " PRIMARY KEY (item_id, valid_from, recorded_from))",
            f"CREATE INDEX IF NOT EXISTS {INTERVALS_TABLE}_holder ON {intervals}"
            " (holder, valid_from)",
            f"CREATE TABLE IF NOT EXISTS {summary} (item_id TEXT PRIMARY KEY, serial TEXT NOT NULL,"
            " normalised_serial TEXT NOT NULL, category TEXT NOT NULL, programme TEXT NOT NULL,"
            " agreement TEXT NOT NULL, recipient TEXT NOT NULL, holder TEXT NOT NULL,"
            f" status TEXT NOT NULL, last_verified_at {time}, last_log_index {integer} NOT NULL,"
            f" open_findings {integer})",
            f"CREATE INDEX IF NOT EXISTS {SUMMARY_TABLE}_serial ON {summary} (normalised_serial)",
        ]
        self.entries_before = (
            f"SELECT log_index, aggregate_version, entry FROM {log} WHERE aggregate_id = {p}"
            f" AND log_index < {p} ORDER BY aggregate_version"
        )
        columns = "holder, status, valid_from, valid_to, recorded_from, recorded_to"
        self.rows_of = f"SELECT {columns} FROM {intervals} WHERE item_id = {p}"
        self.open_rows_of = self.rows_of + " AND recorded_to IS NULL"
        self.insert_row = (
            f"INSERT INTO {intervals} (item_id, {columns}) VALUES ({', '.join([p] * 7)})"
        )
        self.update_row = (
            f"UPDATE {intervals} SET holder = {p}, status = {p}, valid_to = {p}, recorded_to = {p}"
            f" WHERE item_id = {p} AND valid_from = {p} AND recorded_from = {p}"
        )
        self.delete_row = (
            f"DELETE FROM {intervals} WHERE item_id = {p} AND valid_from = {p}"
            f" AND recorded_from = {p}"
        )
        computed = [
            "serial",
            "normalised_serial",
            "category",
            "programme",
            "agreement",
            "recipient",
            "holder",
            "status",
            "last_verified_at",
            "last_log_index",
        ]
        self.upsert_summary = (
            f"INSERT INTO {summary} (item_id, {', '.join(computed)}) VALUES"
            f" ({', '.join([p] * (len(computed) + 1))}) ON CONFLICT (item_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in computed)
        )
        self.clear = [f"DELETE FROM {intervals}", f"DELETE FROM {summary}"]
        self.clear_tracking = f"DELETE FROM {tracking} WHERE application_name = {p}"
        in_field = f"i.valid_from <= {p} AND (i.valid_to IS NULL OR i.valid_to > {p})"
        self.known = f"i.recorded_from <= {p} AND (i.recorded_to IS NULL OR i.recorded_to > {p})"
        self.current = "i.recorded_to IS NULL"
        self.holdings = (
            f"SELECT i.item_id, s.serial, s.category, i.holder, i.status FROM {intervals} i"
            f" JOIN {summary} s ON s.item_id = i.item_id WHERE i.holder = {p} AND {in_field}"
        )
        self.holdings_order = " ORDER BY s.serial, i.item_id"
        self.holdings_after = f" AND (s.serial, i.item_id) > ({p}, {p})"
        self.limit = f" LIMIT {p}"
        self.interval_at = (
            f"SELECT i.holder, i.status FROM {intervals} i WHERE i.item_id = {p} AND {in_field}"
        )
        self.summary = f"SELECT * FROM {summary} WHERE item_id = {p}"
        self.all_rows = {
            INTERVALS_TABLE: f"SELECT item_id, {columns} FROM {intervals}"
            " ORDER BY item_id, valid_from, recorded_from",
            SUMMARY_TABLE: f"SELECT * FROM {summary} ORDER BY item_id",
        }


class CustodyViews(TrackingRecorder):
    """The views over either dialect. The subclasses below pick the library's tracking recorder
    and supply the statements; `datastore.transaction` is the library's, on both."""

    sql: ViewStatements
    datastore: Any

    if TYPE_CHECKING:  # the library's tracking recorders define these, on their cursors

        def _max_tracking_id(self, application_name: str, c: Any) -> int | None: ...

        def _insert_tracking(self, c: Any, tracking: Tracking) -> None: ...

        def create_table(self) -> None: ...

    def position(self) -> int:
        """How many log entries the views have applied: the next log index to apply."""
        return self.max_tracking_id(APPLICATION_NAME) or 0

    def apply(self, rows: Sequence[LogRow]) -> int:
        """Apply the entries of `rows` (consecutive, in log order) the views have not applied yet,
        with their tracking, in one transaction: all of them, or on any error none. Answers how many
        it applied: 0 if another follower applied them first."""
        with self.datastore.transaction(commit=True) as c:
            for statement in self.sql.lock:  # one follower at a time, from here to the commit
                c.execute(statement)
            position = self._max_tracking_id(APPLICATION_NAME, c) or 0
            fresh = [row for row in rows if row.log_index >= position]
            if not fresh:
                return 0
            _require_consecutive(fresh, position)
            self._apply_entries(c, fresh)
            self._insert_tracking(c, Tracking(APPLICATION_NAME, fresh[-1].log_index + 1))
        return len(fresh)

    def clear(self) -> None:
        """Drop every row of the views and their tracking, so that they follow from the start."""
        with self.datastore.transaction(commit=True) as c:
            for statement in self.sql.lock:
                c.execute(statement)
            for statement in self.sql.clear:
                c.execute(statement)
            c.execute(self.sql.clear_tracking, (APPLICATION_NAME,))

    def tables_exist(self) -> bool:
        raise NotImplementedError

    def _apply_entries(self, c: Any, rows: Sequence[LogRow]) -> None:
        by_item: dict[UUID, list[ItemEntry]] = {}
        for row in rows:
            entry = ItemEntry.decode(row.log_index, row.aggregate_version, row.entry)
            if entry is not None:
                by_item.setdefault(row.aggregate_id, []).append(entry)
        for item_id, new in by_item.items():
            self._apply_item(c, item_id, new)

    def _apply_item(self, c: Any, item_id: UUID, new: Sequence[ItemEntry]) -> None:
        """Bring the item's rows to what its entries up to `new` say. In recording order (the
        usual case) the open rows go on from where they were; an entry recorded before an earlier
        one (clocks of several writers) rewrites the item's rows from its first recording."""
        c.execute(self.sql.entries_before, (str(item_id), new[0].log_index))
        prior = [e for r in c.fetchall() if (e := _decoded(r)) is not None]
        entries, since = [*prior, *new], min(e.recorded_at for e in new)
        if all(e.recorded_at < since for e in prior):
            stored = self._rows(c, self.sql.open_rows_of, item_id)
            opened = {row.interval: row.recorded_from for row in stored}
            wanted = known_intervals(entries, since=since, open_rows=opened)
        else:
            stored = self._rows(c, self.sql.rows_of, item_id)
            wanted = known_intervals(entries, since=None, open_rows={})
        self._replace_rows(c, item_id, stored, wanted)
        self._upsert_summary(c, item_id, entries)

    def _rows(self, c: Any, sql: str, item_id: UUID) -> list[IntervalRow]:
        c.execute(sql, (str(item_id),))
        return [_interval_row(r) for r in c.fetchall()]

    def _replace_rows(
        self, c: Any, item_id: UUID, stored: Sequence[IntervalRow], wanted: Sequence[IntervalRow]
    ) -> None:
        """Close superseded rows (recorded_to set), insert new ones, delete what is no more."""
        old, new, item = {r.key: r for r in stored}, {r.key: r for r in wanted}, str(item_id)
        for key in old.keys() - new.keys():
            c.execute(self.sql.delete_row, (item, *key))
        for key, row in new.items():
            i = row.interval
            if key not in old:
                c.execute(
                    self.sql.insert_row,
                    (
                        item,
                        i.holder,
                        i.status,
                        i.valid_from,
                        i.valid_to,
                        row.recorded_from,
                        row.recorded_to,
                    ),
                )
            elif old[key] != row:
                changed = (i.holder, i.status, i.valid_to, row.recorded_to)
                c.execute(self.sql.update_row, (*changed, item, *key))

    def _upsert_summary(self, c: Any, item_id: UUID, entries: Sequence[ItemEntry]) -> None:
        values = summary_values(item_id, entries)
        if values is not None:
            c.execute(self.sql.upsert_summary, values)

    # Queries (they read the views as they are: `Fleet` catches up first) ------------------------

    def holdings(
        self,
        holder: str,
        *,
        at: datetime,
        known_at: datetime | None = None,
        after: tuple[Any, ...] | None = None,
        limit: int | None = None,
    ) -> list[Holding]:
        """The items `holder` held (was the last holder of, whatever the status) at field time
        `at`, as known at recording time `known_at` (default: everything applied), in (serial,
        item id) order: those after `after`, `limit` at most."""
        sql, params = self._when(self.sql.holdings, (holder,), at, known_at)
        if after is not None:
            sql, params = sql + self.sql.holdings_after, (*params, *after)
        sql += self.sql.holdings_order
        if limit is not None:
            sql, params = sql + self.sql.limit, (*params, limit)
        return [_holding(r) for r in self._read(sql, params)]

    def interval_at(
        self, item: UUID | str, *, at: datetime, known_at: datetime | None = None
    ) -> tuple[str, Status] | None:
        """(holder, status) at field time `at` as known at `known_at`; None if not issued then."""
        sql, params = self._when(self.sql.interval_at, (str(item_uuid(item)),), at, known_at)
        found = self._read(sql, params)
        return (str(found[0]["holder"]), Status(found[0]["status"])) if found else None

    def summary(self, item: UUID | str) -> ItemSummary | None:
        found = self._read(self.sql.summary, (str(item_uuid(item)),))
        return _summary(found[0]) if found else None

    def table_rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of both views in a fixed order, to compare (a rebuild equals what it
        replaced)."""
        return {
            table: [_values(r) for r in self._read(sql, ())]
            for table, sql in self.sql.all_rows.items()
        }

    def _when(
        self, sql: str, params: tuple[Any, ...], at: datetime, known_at: datetime | None
    ) -> tuple[str, tuple[Any, ...]]:
        field = format_time(aware_utc(at, field="at"))
        if known_at is None:
            return f"{sql} AND {self.sql.current}", (*params, field, field)
        known = format_time(aware_utc(known_at, field="known_at"))
        return f"{sql} AND {self.sql.known}", (*params, field, field, known, known)

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql, params)
            return list(c.fetchall())


class SQLiteCustodyViews(CustodyViews, SQLiteTrackingRecorder):
    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        if not datastore.single_row_tracking:
            raise ProgrammingError("the views need the library's single-row tracking")
        self.sql = ViewStatements(
            param="?",
            prefix="",
            time="TEXT",
            integer="INTEGER",
            lock=[f"UPDATE {TRACKING_TABLE} SET notification_id = notification_id WHERE 0 = 1"],
        )  # a write that changes nothing takes SQLite's write lock before anything is read
        super().__init__(datastore, **kwargs)
        t = TRACKING_TABLE  # the library's statements, on the views' own tracking table
        self.insert_tracking_statement = (
            f"INSERT INTO {t} VALUES (:application_name, :notification_id) "
            "ON CONFLICT (application_name) DO UPDATE SET notification_id = :notification_id "
            f"WHERE {t}.notification_id < :notification_id RETURNING notification_id"
        )
        self.select_max_tracking_id_statement = (
            f"SELECT MAX(notification_id) FROM {t} WHERE application_name=?"
        )

    def construct_create_table_statements(self) -> list[str]:
        tracking = (
            f"CREATE TABLE IF NOT EXISTS {TRACKING_TABLE} (application_name TEXT, "
            "notification_id INTEGER, PRIMARY KEY (application_name)) WITHOUT ROWID"
        )
        return [tracking, *self.sql.create]

    def tables_exist(self) -> bool:
        names = [TRACKING_TABLE, INTERVALS_TABLE, SUMMARY_TABLE]
        sql = "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN (?, ?, ?)"
        return int(self._read(sql, names)[0]["n"]) == len(names)


class PostgresCustodyViews(CustodyViews, PostgresTrackingRecorder):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        schema = datastore.schema
        if not (schema.isascii() and schema.isidentifier()):
            raise ProgrammingError(f"schema name {schema!r} is not a plain identifier")
        self.sql = ViewStatements(
            param="%s",
            prefix=f'"{schema}".',
            time='TEXT COLLATE "C"',  # canonical times order as bytes, whatever the locale
            integer="bigint",
            lock=[
                f"SET LOCAL lock_timeout = '{int(datastore.lock_timeout)}s'",
                f'LOCK TABLE "{schema}".{TRACKING_TABLE} IN EXCLUSIVE MODE',
            ],
        )
        kwargs["tracking_table_name"] = TRACKING_TABLE
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.extend(SQL(s) for s in self.sql.create)  # type: ignore[misc]

    def tables_exist(self) -> bool:
        sql = "SELECT COUNT(to_regclass(name)) AS n FROM unnest(%s::text[]) AS name"
        return int(self._read(sql, (self.sql.tables,))[0]["n"]) == len(self.sql.tables)


def _require_consecutive(rows: Sequence[LogRow], position: int) -> None:
    indexes = [row.log_index for row in rows]
    if indexes != list(range(position, position + len(rows))):
        raise IntegrityFailure(
            "the views must apply the log without gaps",
            position=position,
            expected=f"entries {position}..{position + len(rows) - 1}",
            got=f"{indexes[0]}..{indexes[-1]}",
        )


def _values(row: Any) -> tuple[Any, ...]:
    """A row's values: psycopg's dict rows iterate over their keys, SQLite's rows over values."""
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)


def _decoded(row: Any) -> ItemEntry | None:
    return ItemEntry.decode(
        int(row["log_index"]), int(row["aggregate_version"]), bytes(row["entry"])
    )


def _interval_row(row: Any) -> IntervalRow:
    interval = Interval(row["valid_from"], row["valid_to"], row["holder"], row["status"])
    return IntervalRow(interval, row["recorded_from"], row["recorded_to"])


def _holding_key(holding: Holding) -> tuple[str, str]:
    return holding.serial, str(holding.item_id)


def _holding(row: Any) -> Holding:
    return Holding(
        UUID(row["item_id"]), row["serial"], row["category"], row["holder"], Status(row["status"])
    )


def _summary(row: Any) -> ItemSummary:
    values = {f.name: row[f.name] for f in fields(ItemSummary)}
    return ItemSummary(
        **values | {"item_id": UUID(row["item_id"]), "status": Status(row["status"])}
    )


# Following the log ------------------------------------------------------------------------------


def follow(
    store: LogStore, views: CustodyViews, *, batch: int = BATCH, progress: Progress | None = None
) -> int:
    """Apply every entry after the views' position, `batch` entries per transaction. Answers how
    many this call applied (other followers may have applied some meanwhile)."""
    applied = 0
    while True:
        start = views.position()
        rows = store.log_entries(start, start + batch)
        if not rows:
            return applied
        done = views.apply(rows)
        applied += done
        if progress is not None:
            progress(done)


def rebuild(
    store: LogStore, views: CustodyViews, *, batch: int = BATCH, progress: Progress | None = None
) -> int:
    """Drop the views' rows and tracking and follow the log from its first entry."""
    views.clear()
    return follow(store, views, batch=batch, progress=progress)


def open_views(ledger: Ledger) -> CustodyViews:
    """The views on the Ledger's own datastore, their tables created if they are missing."""
    views = _views_on(ledger.log_store)
    if not views.tables_exist():
        try:
            views.create_table()
        except PersistenceError:
            if not views.tables_exist():  # else another process created them meanwhile
                raise
    return views


def views_of(store: LogStore) -> CustodyViews:
    """The views on the store's own datastore as they are: no table is created (`custody verify`
    reads a store without writing to it)."""
    return _views_on(store)


def _views_on(store: LogStore) -> CustodyViews:
    if isinstance(store, SQLiteLogRecorder):
        return SQLiteCustodyViews(store.datastore)
    if isinstance(store, PostgresLogRecorder):
        return PostgresCustodyViews(store.datastore)
    raise ProgrammingError(f"no views for a {type(store).__name__}")


@dataclass(frozen=True)
class Fleet:
    """Fleet-wide reads of one Ledger from its views. Each catches the views up with the log
    first, so an answer includes every entry recorded before it was asked."""

    store: LogStore
    views: CustodyViews

    @classmethod
    def of(cls, ledger: Ledger) -> Fleet:
        return cls(ledger.log_store, open_views(ledger))

    def catch_up(self) -> int:
        try:
            return follow(self.store, self.views)
        except OperationalError as error:
            raise Conflict(f"the read models are busy ({error}); retry") from None

    def holdings(
        self, holder: str, *, at: datetime, known_at: datetime | None = None
    ) -> list[Holding]:
        self.catch_up()
        return self.views.holdings(holder, at=at, known_at=known_at)

    def holdings_page(
        self,
        holder: str,
        *,
        at: datetime,
        known_at: datetime | None = None,
        cursor: str | None,
        limit: int,
    ) -> Page[Holding]:
        """A page of `holdings`, keyed on (serial, item id)."""
        after = position("custody list", cursor, (str, str), bound=holder)
        self.catch_up()
        rows = self.views.holdings(
            holder, at=at, known_at=known_at, after=after, limit=checked_limit(limit) + 1
        )
        return page_of("custody list", rows, _holding_key, limit, bound=holder)

    def custody_at(
        self, item: UUID | str, *, at: datetime, known_at: datetime | None = None
    ) -> tuple[str, Status]:
        self.catch_up()
        found = self.views.interval_at(item, at=at, known_at=known_at)
        if found is None:
            raise NotFound(f"item {item} had not been issued by {format_time(at)}, or is unknown")
        return found

    def summary(self, item: UUID | str) -> ItemSummary:
        self.catch_up()
        found = self.views.summary(item)
        if found is None:
            raise NotFound(f"item {item} not found")
        return found
