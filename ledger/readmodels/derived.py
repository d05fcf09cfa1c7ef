"""`custody verify`'s derived-state step: the tables computed from the log must be what the log says
(docs/verification.md, section 6; docs/readmodels.md).

The log is verified byte for byte, but the fleet-wide answers (`/v1/custody`, the unaccounted
report, custody at a time) read tables derived from it: `custody_intervals`, `item_summary` and
`custody_item_entries`
(ledger/readmodels/models.py)
and the stored policy accounts (policies/accounts.py, checked by policies/audit.py through the same
`compare_items`). An edit of those tables changes the answers without touching the log. So each is
recomputed here from the log, one chunk of items at a time in the order the items were issued, and
compared row by row with what is stored; the first row that differs is named with what the log
says and what the table holds. Memory holds one chunk of items, never the whole table.

The tables follow the log with tracking, and may be behind it: a row is compared with what the
entries up to the table's tracked position say, never with later ones, and the answer says how far
behind the position is. If the position moves while a chunk is read (a server is catching up), the
chunk is compared again at the new position before anything is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any
from uuid import UUID

from ledger.application.ledger import Ledger
from ledger.domain.errors import IntegrityFailure
from ledger.readmodels.fold import Step
from ledger.readmodels.models import (
    ENTRIES_TABLE,
    INTERVALS_TABLE,
    SUMMARY_TABLE,
    CustodyViews,
    ItemEntry,
    known_intervals,
    summary_values,
    views_of,
)
from ledger.store.dialect import Database
from ledger.store.item_rows import ItemRows
from ledger.store.log import LogStore

CHUNK = 500
ATTEMPTS = 5
"""Times a chunk is compared again because the tracked position moved meanwhile."""
Row = tuple[Any, ...]
Rows = dict[str, list[Row]]
"""item id -> its rows, in the table's key order"""


@dataclass(frozen=True)
class DerivedChecked:
    """A derived table found equal to its recomputation: `rows` compared, as of the first
    `position` log entries, of `size`."""

    table: str
    rows: int
    position: int
    size: int
    note: str = ""
    """Why some rows were not compared, if some were not."""

    @property
    def behind(self) -> int:
        return self.size - self.position


@dataclass(frozen=True)
class Table:
    """One derived table as `compare_items` reads it: its name, the tracked position, the stored
    rows of some items, the rows the log says they must have (as of a position), how many rows it
    has, and every item id it holds rows of."""

    name: str
    position: Callable[[], int]
    stored: Callable[[Sequence[str], int], Rows]
    expected: Callable[[Sequence[str], int], Rows]
    count: Callable[[], int]
    item_ids: Callable[[], Iterable[str]]


def compare_items(
    ledger: Ledger, tables: Sequence[Table], skip: set[str] | None = None
) -> list[DerivedChecked]:
    """Compare the tables' rows of every issued item (but `skip`) with what the log says, a chunk
    of items at a time, every table for a chunk before the next; raise IntegrityFailure at the
    first row that differs, or at a row of an item the log never issued."""
    size, positions = ledger.log_store.log_size(), [t.position() for t in tables]
    rows = [0] * len(tables)
    for chunk in _chunks(str(i) for i in ledger.item_ids()):
        wanted = [item for item in chunk if not skip or item not in skip]
        for n, table in enumerate(tables):
            rows[n] += _compare_chunk(table, wanted)
    for n, table in enumerate(tables):
        skipped = sum(
            len(r) for c in _chunks(sorted(skip or ())) for r in table.stored(c, size).values()
        )
        if table.count() != rows[n] + skipped:  # more rows than the items compared have
            _check_no_stray_rows(ledger, table)
    return [
        DerivedChecked(t.name, n, position, size)
        for t, n, position in zip(tables, rows, positions, strict=True)
    ]


def written_since(ledger: Ledger, items: Sequence[str], position: int) -> set[str]:
    """Those of `items` with an entry at or after log index `position`."""
    return ledger.log_store.written_since(items, position)


def check_read_models(ledger: Ledger) -> list[DerivedChecked]:
    """`custody_intervals` and `item_summary` against the log; [] if they were never built."""
    views = views_of(ledger.log_store)
    if not views.tables_exist():
        return []
    return compare_items(ledger, _Views(ledger.log_store, views).tables(views))


def _chunks(items: Iterable[str]) -> Iterator[list[str]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, CHUNK)):
        yield chunk


def _compare_chunk(table: Table, items: Sequence[str]) -> int:
    """How many stored rows of `items` equal the log's; IntegrityFailure at the first that does
    not, once the position stood still while the chunk was read."""
    for attempt in range(1, ATTEMPTS + 1):
        position = table.position()
        stored, expected = table.stored(items, position), table.expected(items, position)
        difference = _first_difference(table.name, items, stored, expected)
        if difference is None:
            return sum(len(rows) for rows in stored.values())
        if table.position() == position or attempt == ATTEMPTS:
            raise difference
    raise AssertionError("unreachable")


def _first_difference(
    name: str, items: Sequence[str], stored: Rows, expected: Rows
) -> IntegrityFailure | None:
    for item in items:
        got, wanted = stored.get(item, []), expected.get(item, [])
        for index in range(max(len(got), len(wanted))):
            found = got[index] if index < len(got) else None
            should = wanted[index] if index < len(wanted) else None
            if found != should:
                return IntegrityFailure(
                    f"{name} differs from the log: row {index + 1} of item {item}",
                    expected=_text(should),
                    got=_text(found),
                )
    return None


def _check_no_stray_rows(ledger: Ledger, table: Table) -> None:
    """Every item the table has rows of is an item of the log (one issued after the items were
    listed, or skipped, is); a page of item ids at a time."""
    for page in _chunks(table.item_ids()):
        issued = _issued_items(ledger.log_store, page)
        stray = next((item for item in page if item not in issued), None)
        if stray is not None:
            raise IntegrityFailure(
                f"{table.name} has rows of item {stray}, which the log does not have",
                expected="no row",
                got=f"rows of {stray}",
            )


def _issued_items(store: LogStore, items: Sequence[str]) -> set[str]:
    """Those of `items` that are items of the log (their first entry is an item's)."""
    first = store.first_entries(items)
    return {item for item, entry in first if ItemEntry.decode(0, 1, entry) is not None}


def _text(row: Row | None) -> str:
    return "no row" if row is None else "(" + ", ".join(repr(v) for v in row) + ")"


INTERVAL_COLUMNS = "item_id, holder, status, valid_from, valid_to, recorded_from, recorded_to"
ENTRY_COLUMNS = "item_id, log_index, version, type, occurred_at, recorded_at, party, verified"
SUMMARY_COLUMNS = (
    "item_id, serial, normalised_serial, category, programme, agreement, recipient,"
    " holder, status, last_verified_at, last_log_index, open_findings"
)


class _Views:
    """The read models' rows, and the log entries of items, a chunk at a time."""

    def __init__(self, store: LogStore, views: CustodyViews) -> None:
        self.store = store
        database = Database(views.datastore)
        self.intervals = ItemRows(database, INTERVALS_TABLE, INTERVAL_COLUMNS)
        self.summary = ItemRows(database, SUMMARY_TABLE, SUMMARY_COLUMNS)
        self.entries = ItemRows(database, ENTRIES_TABLE, ENTRY_COLUMNS)
        self._last: tuple[tuple[tuple[str, ...], int], dict[str, list[ItemEntry]]] | None = None

    def tables(self, views: CustodyViews) -> list[Table]:
        return [
            Table(
                INTERVALS_TABLE,
                views.position,
                self.stored_intervals,
                self.expected_intervals,
                self.intervals.count,
                self.intervals.item_ids,
            ),
            Table(
                SUMMARY_TABLE,
                views.position,
                self.stored_summaries,
                self.expected_summaries,
                self.summary.count,
                self.summary.item_ids,
            ),
            Table(
                ENTRIES_TABLE,
                views.position,
                self.stored_entries,
                self.expected_entries,
                self.entries.count,
                self.entries.item_ids,
            ),
        ]

    def stored_entries(self, items: Sequence[str], position: int) -> Rows:
        rows = self.entries.of_items(items)
        return _by_item(sorted(rows, key=lambda r: (r[0], r[2])))

    def expected_entries(self, items: Sequence[str], position: int) -> Rows:
        return {
            item: [_entry_row(item, entry.step()) for entry in entries]
            for item, entries in self._entries(items, position).items()
        }

    def stored_intervals(self, items: Sequence[str], position: int) -> Rows:
        rows = self.intervals.of_items(items)
        return _by_item(sorted(rows, key=lambda r: (r[0], r[3], r[5])))

    def stored_summaries(self, items: Sequence[str], position: int) -> Rows:
        return _by_item(self.summary.of_items(items))

    def expected_intervals(self, items: Sequence[str], position: int) -> Rows:
        expected: Rows = {}
        for item, entries in self._entries(items, position).items():
            rows = known_intervals(entries, since=None, open_rows={})
            expected[item] = sorted(
                (
                    (
                        item,
                        r.interval.holder,
                        r.interval.status,
                        r.interval.valid_from,
                        r.interval.valid_to,
                        r.recorded_from,
                        r.recorded_to,
                    )
                    for r in rows
                ),
                key=lambda r: (r[3], r[5]),
            )
        return expected

    def expected_summaries(self, items: Sequence[str], position: int) -> Rows:
        expected: Rows = {}
        for item, entries in self._entries(items, position).items():
            values = summary_values(UUID(item), entries)
            expected[item] = [] if values is None else [(*values, None)]
        return expected

    def _entries(self, items: Sequence[str], position: int) -> dict[str, list[ItemEntry]]:
        """Each item's entries before `position`, in version order; the last chunk's are kept,
        as both tables ask for the same chunk in turn."""
        key = (tuple(items), position)
        if self._last is None or self._last[0] != key:
            self._last = (key, self._read_entries(items, position))
        return self._last[1]

    def _read_entries(self, items: Sequence[str], position: int) -> dict[str, list[ItemEntry]]:
        entries: dict[str, list[ItemEntry]] = {}
        for index, item, version, entry in self.store.entries_before(items, position):
            decoded = ItemEntry.decode(index, version, entry)
            if decoded is not None:
                entries.setdefault(item, []).append(decoded)
        return entries


def _entry_row(item: str, s: Step) -> Row:
    verified = int(s.verified)
    return (item, s.log_index, s.version, s.type, s.occurred_at, s.recorded_at, s.party, verified)


def _by_item(rows: Iterable[Row]) -> Rows:
    found: Rows = {}
    for row in rows:
        found.setdefault(str(row[0]), []).append(row)
    return found
