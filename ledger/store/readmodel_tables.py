"""The read models' tables and every statement on them, written once for either dialect
(docs/readmodels.md, "Tables"). ledger/readmodels/models.py runs them.

- `custody_views_tracking`: the library's single-row tracking table, the read models' own;
- `custody_intervals`: bitemporal custody, one row per interval as known over recording time;
- `item_summary`: one row per item;
- `custody_item_entries`: one row per entry of an item, what custody at a time reads: its log
  index, version, kind, field and recording times, and the party it hands the item to.
"""

# ruff: noqa: S608 - SQL text built from constant table names only; values go in as parameters.

from __future__ import annotations

from ledger.store.dialect import Dialect
from ledger.store.log import LOG_TABLE

TRACKING_TABLE = "custody_views_tracking"
INTERVALS_TABLE = "custody_intervals"
SUMMARY_TABLE = "item_summary"
ENTRIES_TABLE = "custody_item_entries"
TABLE_NAMES = (TRACKING_TABLE, INTERVALS_TABLE, SUMMARY_TABLE, ENTRIES_TABLE)
INTERVAL_COLUMNS = "holder, status, valid_from, valid_to, recorded_from, recorded_to"
ENTRY_COLUMNS = "log_index, version, type, occurred_at, recorded_at, party, verified"
MARKING = ("serial", "normalised_serial", "category", "programme", "agreement", "recipient")
"""The item's issue fields a table of items repeats, by these names: `item_summary` here, and the
stored accounts (accounts_tables.py)."""
SUMMARY_COMPUTED = (*MARKING, "holder", "status", "last_verified_at", "last_log_index")


class ViewStatements:
    """Every statement of the views, in one dialect (ledger/store/dialect.py): its placeholder,
    table names, column types (times are text that orders as bytes), write lock and upsert; on
    SQLite, the entries are stored in their key's order (WITHOUT ROWID)."""

    def __init__(self, dialect: Dialect):
        self.dialect = d = dialect
        p, time, integer = d.param, d.text, d.integer
        clustered = " WITHOUT ROWID" if d.sqlite else ""
        tracking, intervals, summary, entries, log = (
            d.table(t)
            for t in (TRACKING_TABLE, INTERVALS_TABLE, SUMMARY_TABLE, ENTRIES_TABLE, LOG_TABLE)
        )
        self.lock = d.lock(TRACKING_TABLE, "notification_id")
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
            f"CREATE TABLE IF NOT EXISTS {entries} (item_id TEXT NOT NULL,"
            f" log_index {integer} NOT NULL, version {integer} NOT NULL, type TEXT NOT NULL,"
            f" occurred_at {time} NOT NULL, recorded_at {time} NOT NULL, party TEXT,"
            f" verified {integer} NOT NULL, PRIMARY KEY (item_id, occurred_at, version))"
            + clustered,  # custody at T reads an item's entries in field order, from the key
        ]
        self.steps_of = (
            f"SELECT item_id, {ENTRY_COLUMNS} FROM {entries} WHERE item_id IN"
            " ({marks}) ORDER BY item_id, version"
        )
        self.insert_step = (
            f"INSERT INTO {entries} (item_id, {ENTRY_COLUMNS}) VALUES ({', '.join([p] * 8)})"
        )
        self.rows_of = f"SELECT item_id, {INTERVAL_COLUMNS} FROM {intervals} WHERE item_id IN"
        self.open_rows_of = self.rows_of + " ({marks}) AND recorded_to IS NULL"
        self.insert_row = (
            f"INSERT INTO {intervals} (item_id, {INTERVAL_COLUMNS}) VALUES ({', '.join([p] * 7)})"
        )
        self.close_row = (
            f"UPDATE {intervals} SET recorded_to = {p}"
            f" WHERE item_id = {p} AND valid_from = {p} AND recorded_from = {p}"
        )
        self.delete_rows = f"DELETE FROM {intervals} WHERE item_id = {p}"
        self.upsert_summary = d.upsert(SUMMARY_TABLE, ("item_id", *SUMMARY_COMPUTED), ("item_id",))
        self.clear = [
            f"DELETE FROM {intervals}",
            f"DELETE FROM {summary}",
            f"DELETE FROM {entries}",
        ]
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
        steps_by = (
            f"SELECT log_index, version, occurred_at FROM {entries}"
            f" WHERE item_id = {p} AND occurred_at <= {p}"
        )
        in_field_order = " ORDER BY occurred_at, version"
        self.steps_now = steps_by + in_field_order
        self.steps_known = f"{steps_by} AND recorded_at <= {p}{in_field_order}"
        # One interval at most is in force at (T, R); the newest start at or before T is it, so
        # the key is read backwards from T and the read stops there, not at every older interval.
        newest_first = " ORDER BY i.valid_from DESC LIMIT 1"
        self.interval_now = f"{self.interval_at} AND {self.current}{newest_first}"
        self.interval_known = f"{self.interval_at} AND {self.known}{newest_first}"
        self.summary = f"SELECT * FROM {summary} WHERE item_id = {p}"
        self.all_rows = {
            INTERVALS_TABLE: f"SELECT item_id, {INTERVAL_COLUMNS} FROM {intervals}"
            " ORDER BY item_id, valid_from, recorded_from",
            SUMMARY_TABLE: f"SELECT * FROM {summary} ORDER BY item_id",
            ENTRIES_TABLE: f"SELECT item_id, {ENTRY_COLUMNS} FROM {entries}"
            " ORDER BY item_id, version",
        }
        self.log_range = (  # what the views read of the log: no hashes, no receipts
            f"SELECT log_index, aggregate_id, aggregate_version, entry FROM {log}"
            f" WHERE log_index >= {p} AND log_index < {p} ORDER BY log_index"
        )
        self.move_summary = (
            f"UPDATE {summary} SET holder = {p}, status = {p}, last_verified_at = {p},"
            f" last_log_index = {p} WHERE item_id = {p}"
        )
        self.last_of = (  # the newest version's entry: one step down the (id, version) index
            f"SELECT (SELECT log_index FROM {log} WHERE aggregate_id = {p}"
            " ORDER BY aggregate_version DESC LIMIT 1) AS last,"
            f" (SELECT MAX(notification_id) FROM {tracking} WHERE application_name = {p})"
            " AS position"
        )

    def marks(self, sql: str, count: int) -> str:
        """`sql` with its `{marks}` made `count` placeholders."""
        return sql.replace("{marks}", self.dialect.marks(count))


def sqlite_tracking_statements() -> tuple[str, str, str]:
    """The library's tracking statements, on the views' own table: create, insert, select max."""
    t = TRACKING_TABLE
    create = (
        f"CREATE TABLE IF NOT EXISTS {t} (application_name TEXT, "
        "notification_id INTEGER, PRIMARY KEY (application_name)) WITHOUT ROWID"
    )
    insert = (
        f"INSERT INTO {t} VALUES (:application_name, :notification_id) "
        "ON CONFLICT (application_name) DO UPDATE SET notification_id = :notification_id "
        f"WHERE {t}.notification_id < :notification_id RETURNING notification_id"
    )
    select = f"SELECT MAX(notification_id) FROM {t} WHERE application_name=?"
    return create, insert, select
