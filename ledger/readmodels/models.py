"""Read models: custody intervals, an item summary and each item's entries, kept beside the log
and following it with eventsourcing's tracking (docs/readmodels.md).

`CustodyViews` is a tracking recorder, a subclass of the library's SQLite or PostgreSQL one, on the
Ledger's own datastore. It adds three tables (their SQL: ledger/store/readmodel_tables.py):

- `custody_intervals`: bitemporal. Each row says the item was with `holder` in `status` over field
  time [valid_from, valid_to), as the ledger knew it over recording time [recorded_from,
  recorded_to); a NULL end is open.
- `item_summary`: one row per item: its marking, holder and status now (field-time order), the last
  verified inspection, the entry that last changed it. `open_findings` is left NULL for the
  policies to fill: findings depend on policy thresholds and the date asked about.
- `custody_item_entries`: one row per entry of an item (log index, version, type, field and
  recording time, the party it hands the item to): the entries custody at a time rests on, and
  what the next batch folds on from without decoding the item's old entries again.

The views follow `custody_log` in log-index order. The log is gapless, so the position is the last
applied log index: each batch is applied together with `Tracking("Custody", log_index + 1)` of its
last entry, in one transaction, so `max_tracking_id` counts the entries applied. A crash applies
nothing of its batch; a batch already applied (by another follower) is skipped, never applied twice.

An item's intervals are computed exactly as `ledger/domain/replay.py` replays: the entries recorded
by a time, folded in field-time order (ledger/readmodels/fold.py). Queries read the views as
they are: the follower (ledger/readmodels/follower.py) keeps them up to date, never a reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple
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
from ledger.domain.items import Item, Status
from ledger.domain.paging import Page, checked_limit, page_of, position
from ledger.domain.replay import CustodyState
from ledger.domain.times import aware_utc, format_time
from ledger.readmodels.fold import (
    Fold,
    Interval,
    IntervalRow,
    ItemEntry,
    Step,
    by_recording,
    fold_steps,
    known_intervals,
    timeline,
)
from ledger.store.dialect import dialect_of
from ledger.store.log import LogRow, LogStore, PostgresLogRecorder, SQLiteLogRecorder
from ledger.store.readmodel_tables import (
    ENTRIES_TABLE,
    INTERVALS_TABLE,
    MARKING,
    SUMMARY_TABLE,
    TABLE_NAMES,
    TRACKING_TABLE,
    ViewStatements,
    sqlite_tracking_statements,
)

__all__ = [
    "ENTRIES_TABLE",
    "INTERVALS_TABLE",
    "SUMMARY_TABLE",
    "TRACKING_TABLE",
    "CustodyViews",
    "Fleet",
    "Holding",
    "Holdings",
    "Interval",
    "IntervalRow",
    "ItemEntry",
    "ItemSummary",
    "follow",
    "known_intervals",
    "open_views",
    "rebuild",
    "summary_values",
    "timeline",
    "views_of",
]

APPLICATION_NAME = Ledger.name
"""The application whose log the views track ("Custody")."""
BATCH = 5000
"""Entries per transaction: a commit (and its fsync) per 5,000 entries."""
IN_CHUNK = 500
"""Items per `IN (...)` list."""
Progress = Callable[[int], None]


# The item summary ------------------------------------------------------------------------------


def summary_values(item_id: UUID, entries: Sequence[ItemEntry]) -> tuple[Any, ...] | None:
    """The item's `item_summary` row from its entries (in version order), `open_findings` left
    out; None before its issue is among them."""
    issued = next((e for e in entries if e.type == Item.Issued.TOPIC), None)
    if issued is None:
        return None
    steps = [e.step() for e in entries]
    return _summary_row(str(item_id), issued.payload, steps, fold_steps(steps)[-1])


def _summary_row(
    item_id: str, issued: Mapping[str, Any], steps: Sequence[Step], now: Interval
) -> tuple[Any, ...]:
    verified = [s.occurred_at for s in steps if s.verified]
    return (
        item_id,
        *(str(issued[k]) for k in MARKING),
        now.holder,
        now.status,
        max(verified, default=None),
        max(s.log_index for s in steps),
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


# The views: applying a batch with its tracking ---------------------------------------------------


class LogEntry(NamedTuple):
    """What the views read of a log entry (`LogRow` has its hash and receipt too)."""

    log_index: int
    aggregate_id: str
    aggregate_version: int
    entry: bytes


@dataclass
class _Writes:
    """What a batch writes, gathered, then sent with one `executemany` per statement."""

    steps: list[tuple[Any, ...]] = field(default_factory=list)
    cleared: list[tuple[str]] = field(default_factory=list)
    inserted: list[tuple[Any, ...]] = field(default_factory=list)
    closed: list[tuple[Any, ...]] = field(default_factory=list)
    summaries: list[tuple[Any, ...]] = field(default_factory=list)
    moved: list[tuple[Any, ...]] = field(default_factory=list)

    def rows(self, item: str, rows: Iterable[IntervalRow], kept: Mapping[Interval, str]) -> None:
        """Rows to store: one still open since it was `kept` changes nothing or is closed; any
        other is inserted."""
        for row in rows:
            i = row.interval
            if kept.get(i) == row.recorded_from:
                if row.recorded_to is not None:
                    self.closed.append((row.recorded_to, item, i.valid_from, row.recorded_from))
                continue
            values = (i.holder, i.status, i.valid_from, i.valid_to)
            self.inserted.append((item, *values, row.recorded_from, row.recorded_to))


class CustodyViews(TrackingRecorder):
    """The views over either dialect. The subclasses below pick the library's tracking recorder
    and supply the statements (ledger/store/readmodel_tables.py); `datastore.transaction` is the
    library's, on both."""

    sql: ViewStatements
    datastore: Any

    if TYPE_CHECKING:  # the library's tracking recorders define these, on their cursors

        def _max_tracking_id(self, application_name: str, c: Any) -> int | None: ...

        def _insert_tracking(self, c: Any, tracking: Tracking) -> None: ...

        def create_table(self) -> None: ...

    def position(self) -> int:
        """How many log entries the views have applied: the next log index to apply."""
        return self.max_tracking_id(APPLICATION_NAME) or 0

    def log_entries(self, start: int, end: int) -> list[LogEntry]:
        """The log's entries with start <= log_index < end, as much of them as the views read."""
        return [LogEntry(*_values(r)) for r in self._read(self.sql.log_range, (start, end))]

    def apply(self, rows: Sequence[LogRow | LogEntry]) -> int:
        """Apply the entries of `rows` (consecutive, in log order) the views have not applied yet,
        with their tracking, in one transaction: all of them, or on any error none. Answers how many
        it applied: 0 if another follower applied them first."""
        decoded = [
            (row, ItemEntry.decode(row.log_index, row.aggregate_version, row.entry)) for row in rows
        ]
        with self.datastore.transaction(commit=True) as c:
            for statement in self.sql.lock:  # one follower at a time, from here to the commit
                c.execute(statement)
            position = self._max_tracking_id(APPLICATION_NAME, c) or 0
            fresh = [(row, e) for row, e in decoded if row.log_index >= position]
            if not fresh:
                return 0
            _require_consecutive([row for row, _ in fresh], position)
            self._apply_entries(c, [(row.aggregate_id, e) for row, e in fresh if e is not None])
            self._insert_tracking(c, Tracking(APPLICATION_NAME, fresh[-1][0].log_index + 1))
        return len(fresh)

    def clear(self) -> None:
        """Drop every row of the views and their tracking, so that they follow from the start."""
        with self.datastore.transaction(commit=True) as c:
            for statement in self.sql.lock:
                c.execute(statement)
            for statement in self.sql.clear:
                c.execute(statement)
            c.execute(self.sql.clear_tracking, (APPLICATION_NAME,))

    def tables_exist(self, names: Sequence[str] = TABLE_NAMES) -> bool:
        """Whether the tables `names` (by default every table of the views) exist."""
        sql, params = self.sql.dialect.count_tables(names)
        return int(self._read(sql, params)[0]["n"]) == len(names)

    def _apply_entries(self, c: Any, entries: Sequence[tuple[UUID | str, ItemEntry]]) -> None:
        by_item: dict[str, list[ItemEntry]] = {}
        for item_id, entry in entries:
            by_item.setdefault(str(item_id), []).append(entry)
        if not by_item:
            return
        prior = self._steps(c, list(by_item))
        opened = self._open_rows(c, list(by_item))
        writes = _Writes()
        for item, new in by_item.items():
            self._apply_item(writes, item, new, prior.get(item, []), opened.get(item, {}))
        self._write(c, writes)

    def _apply_item(
        self,
        writes: _Writes,
        item: str,
        new: Sequence[ItemEntry],
        prior: Sequence[Step],
        opened: Mapping[Interval, str],
    ) -> None:
        """Bring the item's rows to what its entries up to `new` say. In recording order (the
        usual case) the open rows go on from where they were; an entry recorded before an earlier
        one (clocks of several writers) rewrites the item's rows from its first recording."""
        steps = new_steps = [e.step() for e in new]
        writes.steps.extend(_step_values(item, s) for s in steps)
        since = min(s.recorded_at for s in steps)
        fold = _resumed(prior, opened) if all(s.recorded_at < since for s in prior) else None
        if fold is None:
            writes.cleared.append((item,))
            fold, opened, steps = Fold(), {}, [*prior, *steps]
        rows: list[IntervalRow] = []
        for recorded, group in by_recording(steps):
            rows.extend(fold.add(recorded, group))
        writes.rows(item, [*rows, *fold.open_rows()], opened)
        self._summary(writes, item, new, [*prior, *new_steps], fold)

    def _summary(
        self,
        writes: _Writes,
        item: str,
        new: Sequence[ItemEntry],
        steps: Sequence[Step],
        fold: Fold,
    ) -> None:
        if not fold.intervals:
            return
        issued = next((e for e in new if e.type == Item.Issued.TOPIC), None)
        if issued is not None:
            writes.summaries.append(_summary_row(item, issued.payload, steps, fold.intervals[-1]))
            return
        verified = max((s.occurred_at for s in steps if s.verified), default=None)
        last = max(s.log_index for s in steps)
        now = fold.intervals[-1]
        writes.moved.append((now.holder, now.status, verified, last, item))

    def _write(self, c: Any, writes: _Writes) -> None:
        for sql, values in (
            (self.sql.delete_rows, writes.cleared),
            (self.sql.insert_step, writes.steps),
            (self.sql.close_row, writes.closed),
            (self.sql.insert_row, writes.inserted),
            (self.sql.upsert_summary, writes.summaries),
            (self.sql.move_summary, writes.moved),
        ):
            if values:
                c.executemany(sql, values)

    def _steps(self, c: Any, items: Sequence[str]) -> dict[str, list[Step]]:
        found: dict[str, list[Step]] = {}
        for r in self._in(c, self.sql.steps_of, items):
            found.setdefault(str(r[0]), []).append(_step(r))
        return found

    def _open_rows(self, c: Any, items: Sequence[str]) -> dict[str, dict[Interval, str]]:
        found: dict[str, dict[Interval, str]] = {}
        for r in self._in(c, self.sql.open_rows_of, items):
            row = _interval_row(r)
            found.setdefault(str(r[0]), {})[row.interval] = row.recorded_from
        return found

    def _in(self, c: Any, sql: str, items: Sequence[str]) -> list[Any]:
        found: list[Any] = []
        for start in range(0, len(items), IN_CHUNK):
            chunk = items[start : start + IN_CHUNK]
            c.execute(self.sql.marks(sql, len(chunk)), chunk)
            found.extend(_values(r) for r in c.fetchall())
        return found

    # Queries (they read the views as they are: a follower keeps them up to date) ---------------

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

    def custody_at(
        self, item: UUID, *, at: datetime, known_at: datetime | None = None
    ) -> CustodyState | None:
        """Custody at field time `at` as known at `known_at`, with the entries it rests on (the
        issue, then those that occurred by `at` in field order, as replay applies them); None if
        not issued by then. `NotApplied` if the views have not applied every entry of the item,
        or do not know it as an item. One read transaction."""
        field = format_time(aware_utc(at, field="at"))
        known = None if known_at is None else format_time(aware_utc(known_at, field="known_at"))
        steps_sql, params = self.sql.steps_now, [str(item), field]
        if known is not None:
            steps_sql, params = self.sql.steps_known, [*params, known]
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.sql.last_of, (str(item), APPLICATION_NAME))
            if not _applied(_values(c.fetchall()[0])):
                raise NotApplied(item)
            state = self._state_at(c, item, field, known)
            if state is None:
                c.execute(self.sql.summary, (str(item),))
                if not c.fetchall():
                    raise NotApplied(item)  # not an item: the reference says so
                return None
            c.execute(steps_sql, params)
            rows = c.fetchall()
        return _custody_state(item, at, known_at, state, rows)

    def _state_at(self, c: Any, item: UUID, field: str, known: str | None) -> Any:
        sql, params = self.sql.interval_now, [str(item), field, field]
        if known is not None:
            sql, params = self.sql.interval_known, [*params, known, known]
        c.execute(sql, params)
        found = c.fetchall()
        return _values(found[0]) if found else None

    def applied_all_of(self, item: UUID) -> bool | None:
        """Whether the views have applied every entry of the item; None if the log has none."""
        last, position = _values(self._read(self.sql.last_of, (str(item), APPLICATION_NAME))[0])
        return None if last is None else _applied((last, position))

    def summary(self, item: UUID | str) -> ItemSummary | None:
        found = self._read(self.sql.summary, (str(item_uuid(item)),))
        return _summary(found[0]) if found else None

    def table_rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the views in a fixed order, to compare (a rebuild equals what it
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
        self.sql = ViewStatements(dialect_of(datastore))
        super().__init__(datastore, **kwargs)
        self._create_tracking, self.insert_tracking_statement, select = sqlite_tracking_statements()
        self.select_max_tracking_id_statement = select

    def construct_create_table_statements(self) -> list[str]:
        return [sqlite_tracking_statements()[0], *self.sql.create]


class PostgresCustodyViews(CustodyViews, PostgresTrackingRecorder):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        self.sql = ViewStatements(dialect_of(datastore))  # refuses a schema not an identifier
        kwargs["tracking_table_name"] = TRACKING_TABLE
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.extend(SQL(s) for s in self.sql.create)  # type: ignore[misc]


class NotApplied(Exception):
    """The views cannot answer for this item: they lack some of its entries, or never had it."""


def _applied(row: Sequence[Any]) -> bool:
    """(the item's newest log index, the views' position): every entry of the item applied."""
    last, position = row
    return last is not None and int(last) < int(position or 0)


def _require_consecutive(rows: Sequence[LogRow | LogEntry], position: int) -> None:
    indexes = [row.log_index for row in rows]
    if indexes != list(range(position, position + len(rows))):
        raise IntegrityFailure(
            "the views must apply the log without gaps",
            position=position,
            expected=f"entries {position}..{position + len(rows) - 1}",
            got=f"{indexes[0]}..{indexes[-1]}",
        )


def _step(r: Sequence[Any]) -> Step:
    """A `custody_item_entries` row (item_id first) as a Step."""
    return Step(int(r[1]), int(r[2]), str(r[3]), str(r[4]), str(r[5]), r[6], bool(r[7]))


def _step_values(item: str, s: Step) -> tuple[Any, ...]:
    values = (s.log_index, s.version, s.type, s.occurred_at, s.recorded_at, s.party)
    return (item, *values, int(s.verified))


def _resumed(prior: Sequence[Step], opened: Mapping[Interval, str]) -> Fold | None:
    """The item's fold where the stored rows left it; None if they are not its timeline (the
    item's rows are then rewritten)."""
    try:
        return Fold(prior, opened)
    except ValueError:
        return None


def _custody_state(
    item: UUID, at: datetime, known_at: datetime | None, state: Any, rows: list[Any]
) -> CustodyState:
    """The answer from the interval and the entries (log index, version, occurred_at) in field
    order: the issue (version 1) first, as replay applies it."""
    steps = [_values(r) for r in rows] if rows and isinstance(rows[0], dict) else rows
    issue = next(i for i, s in enumerate(steps) if s[1] == 1)
    last = steps[-1] if issue < len(steps) - 1 or len(steps) == 1 else steps[-2]
    indexes = [steps[issue][0], *(s[0] for s in steps[:issue]), *(s[0] for s in steps[issue + 1 :])]
    return CustodyState(
        item_id=item,
        at=aware_utc(at, field="at"),
        known_at=None if known_at is None else aware_utc(known_at, field="known_at"),
        holder=str(state[0]),
        status=Status(state[1]),
        last_event_at=datetime.fromisoformat(str(last[2])),
        log_indexes=tuple(int(i) for i in indexes),
    )


def _values(row: Any) -> tuple[Any, ...]:
    """A row's values: psycopg's dict rows iterate over their keys, SQLite's rows over values."""
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)


def _interval_row(row: Any) -> IntervalRow:
    _, holder, status, valid_from, valid_to, recorded_from, recorded_to = _values(row)
    return IntervalRow(Interval(valid_from, valid_to, holder, status), recorded_from, recorded_to)


def holding_key(holding: Holding) -> tuple[str, str]:
    """The order of holdings and the key of their pages: (serial, item id)."""
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
    """Apply every entry of `store`'s log after the views' position, `batch` entries per
    transaction (the views read the log on its own datastore, `CustodyViews.log_entries`).
    Answers how many this call applied (other followers may have applied some meanwhile)."""
    applied = 0
    while True:
        start = views.position()
        rows = views.log_entries(start, start + batch)
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
    """The views on the Ledger's own datastore, their tables created if they are missing. Views
    made before `custody_item_entries` existed are cleared, to be followed from the start."""
    views = _views_on(ledger.log_store)
    if not views.tables_exist():
        older = views.tables_exist([TRACKING_TABLE])
        try:
            views.create_table()
        except PersistenceError:
            if not views.tables_exist():  # else another process created them meanwhile
                raise
        if older:
            views.clear()
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
class Holdings:
    """What a holder held, from the views as they were: `as_of_log_size` entries applied."""

    items: list[Holding]
    as_of_log_size: int


@dataclass(frozen=True)
class Fleet:
    """Fleet-wide reads of one Ledger from its views, as they are: a follower keeps them up to
    date (ledger/readmodels/follower.py), never a read. `catch_up` is the follower's step."""

    store: LogStore
    views: CustodyViews

    @classmethod
    def of(cls, ledger: Ledger) -> Fleet:
        return cls(ledger.log_store, open_views(ledger))

    def catch_up(self, progress: Progress | None = None) -> int:
        try:
            return follow(self.store, self.views, progress=progress)
        except OperationalError as error:
            raise Conflict(f"the read models are busy ({error}); retry") from None

    def position(self) -> int:
        return self.views.position()

    def holdings(
        self, holder: str, *, at: datetime, known_at: datetime | None = None
    ) -> list[Holding]:
        return self.views.holdings(holder, at=at, known_at=known_at)

    def holdings_as_of(
        self, holder: str, *, at: datetime, known_at: datetime | None = None
    ) -> Holdings:
        """The holdings with the log size they reflect (read before them: they may reflect
        more)."""
        size = self.views.position()
        return Holdings(self.views.holdings(holder, at=at, known_at=known_at), size)

    def holdings_page(
        self,
        holder: str,
        *,
        at: datetime,
        known_at: datetime | None = None,
        cursor: str | None,
        limit: int,
    ) -> tuple[Page[Holding], int]:
        """A page of `holdings` as the views are (no catch-up), keyed on (serial, item id), with
        the log size they reflect (read before them: they may reflect more)."""
        after = position("custody list", cursor, (str, str), bound=holder)
        size = self.views.position()
        rows = self.views.holdings(
            holder, at=at, known_at=known_at, after=after, limit=checked_limit(limit) + 1
        )
        return page_of("custody list", rows, holding_key, limit, bound=holder), size

    def custody_at(
        self, item: UUID | str, *, at: datetime, known_at: datetime | None = None
    ) -> tuple[str, Status]:
        found = self.views.interval_at(item, at=at, known_at=known_at)
        if found is None:
            raise NotFound(f"item {item} had not been issued by {format_time(at)}, or is unknown")
        return found

    def summary(self, item: UUID | str) -> ItemSummary:
        found = self.views.summary(item)
        if found is None:
            raise NotFound(f"item {item} not found")
        return found
