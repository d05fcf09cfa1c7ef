"""The stored accounts' table, `policy_accounts_v2`: one row per policy and item (what the rows mean
and how they follow the log: policies/accounts.py; docs/policies.md).

This module holds their SQL: the table, the upsert that never puts an older computation over a
newer one, the report's questions answered over the rows of items issued by a date, and the moves
of a policy's tracked position (in the read models' tracking table, under its write lock). Rows go
in and come out as tuples of `ACCOUNT_COLUMNS`; policies/accounts.py makes them `StoredAccount`s.
"""

# ruff: noqa: S608 - SQL text from constant table names and a checked schema; values as parameters.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from eventsourcing.persistence import PersistenceError, Tracking

from ledger.store.dialect import Database, Row, values
from ledger.store.item_rows import ItemRows
from ledger.store.readmodel_tables import MARKING

ACCOUNTS_TABLE = "policy_accounts_v2"
"""v2: the rows gained `verified_from` and `self_reported_from`, and the findings independence
(docs/policies.md); v1 rows are not read."""
ACCOUNT_COLUMNS = (
    "policy",
    "item_id",
    *MARKING,
    "holder",
    "status",
    "issued_at",
    "issued_log_index",
    "last_at",
    "unaccounted_from",
    "overdue_from",
    "findings",
    "computed_at",
    "verified_from",
    "self_reported_from",
)
_OPTIONAL = ("unaccounted_from", "overdue_from", "findings", "verified_from", "self_reported_from")
_COUNTS = ("issued_log_index", "computed_at")
Tally = tuple[str, int, int, int, int, int, int]
"""recipient, issued, unaccounted, in custody, overdue, verified independently, self-reported"""


@dataclass(frozen=True)
class Where:
    """Which rows a report reads: issued by `as_of` (canonical text), optionally of one
    programme, one category, and some recipients."""

    as_of: str
    recipients: Sequence[str] | None = None
    programme: str | None = None
    category: str | None = None


_CREATED: WeakKeyDictionary[Any, set[str]] = WeakKeyDictionary()
"""Per datastore, the statements of `create_tables` this process saw committed: the tables are
never dropped while in use, so an overview that builds the stored accounts several times creates
them once (the rule of ledger/store/serials.py `ready`: set only after the transaction commits)."""


def create_tables(database: Database, statements: Sequence[str]) -> None:
    """Run `CREATE ... IF NOT EXISTS` statements in one transaction, once more if another process
    created the tables meanwhile (PostgreSQL's catalogue); not again once that committed."""
    created = _CREATED.setdefault(database.datastore, set())
    if created.issuperset(statements):
        return
    for attempt in (1, 2):
        try:
            with database.transaction() as c:
                for statement in statements:
                    c.execute(statement)
            created.update(statements)  # committed: the transaction above has ended
            return
        except PersistenceError:
            if attempt == 2:
                raise


class Tracker(Protocol):
    """The read models' tracking recorder, whose table holds each policy's position."""

    def max_tracking_id(self, application_name: str) -> int | None: ...

    def _max_tracking_id(self, application_name: str, c: Any) -> int | None: ...

    def _insert_tracking(self, c: Any, tracking: Tracking) -> None: ...


class AccountRows:
    """One policy's rows (by fingerprint) in `policy_accounts_v2`, their position tracked in
    `tracking` (the read models' tracking table, a table of the same datastore)."""

    def __init__(self, database: Database, policy: str, *, tracking: str) -> None:
        self.database, self.policy, self.tracking = database, policy, tracking
        d = self.dialect = database.dialect
        self.table, self.p = d.table(ACCOUNTS_TABLE), d.param
        self.upsert = d.upsert(
            ACCOUNTS_TABLE, ACCOUNT_COLUMNS, ("policy", "item_id"), newer="computed_at"
        )
        kinds = {c: f"{d.integer} NOT NULL" for c in _COUNTS} | {c: d.text for c in _OPTIONAL}
        columns = ", ".join(f"{c} {kinds.get(c, f'{d.text} NOT NULL')}" for c in ACCOUNT_COLUMNS)
        self.create_statements = [
            f"CREATE TABLE IF NOT EXISTS {self.table} ({columns}, PRIMARY KEY (policy, item_id))",
            # the duplicate-serial GROUP BY reads this index instead of sorting
            f"CREATE INDEX IF NOT EXISTS {ACCOUNTS_TABLE}_serial"
            f" ON {self.table} (policy, normalised_serial)",
        ]
        tracking = d.table(tracking)
        self.forget_position = f"DELETE FROM {tracking} WHERE application_name = {self.p}"

    def create(self) -> None:
        """Create the table and its index if they are missing."""
        create_tables(self.database, self.create_statements)

    def items(self, columns: Sequence[str] = ACCOUNT_COLUMNS) -> ItemRows:
        """This policy's rows by item (`custody verify` compares them with the log)."""
        scope = {"policy": self.policy}
        return ItemRows(self.database, ACCOUNTS_TABLE, ", ".join(columns), scope=scope)

    # Reads -------------------------------------------------------------------------------------

    def rows(self) -> list[Row]:
        return self._accounts(f"policy = {self.p}", [self.policy])

    def tally(self, where: Where) -> list[Tally]:
        """Per recipient, over the settled items (every fact by `as_of`): issued, unaccounted,
        in custody, overdue, verified by an independent party, verified by a self-report."""
        p = self.p
        sql, params = self._where(where, f"last_at <= {p}", where.as_of)
        counts = (  # named: PostgreSQL's dict rows would merge three columns called "sum"
            f"COUNT(*) AS issued, SUM(CASE WHEN unaccounted_from <= {p} THEN 1 ELSE 0 END) AS lost,"
            " SUM(CASE WHEN status = 'in_custody' THEN 1 ELSE 0 END) AS held,"
            f" SUM(CASE WHEN overdue_from < {p} THEN 1 ELSE 0 END) AS overdue,"
            f" SUM(CASE WHEN verified_from <= {p} THEN 1 ELSE 0 END) AS independent,"
            f" SUM(CASE WHEN self_reported_from <= {p} THEN 1 ELSE 0 END) AS self_reported"
        )
        found = self.database.read(
            f"SELECT recipient, {counts} FROM {self.table} WHERE {sql} GROUP BY recipient",
            [where.as_of] * 4 + [*params],
        )
        return [
            (str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]))
            for r in found
        ]

    def settled_unaccounted(self, where: Where) -> list[Row]:
        p = self.p
        sql, params = self._where(
            where, f"last_at <= {p} AND unaccounted_from <= {p}", where.as_of, where.as_of
        )
        return self._accounts(sql, params)

    def unsettled(self, where: Where) -> list[Row]:
        """The items with facts after `as_of`."""
        sql, params = self._where(where, f"last_at > {self.p}", where.as_of)
        return self._accounts(sql, params)

    def issued_twice(self, as_of: str) -> dict[str, list[int]]:
        """serial -> the log indexes of its issues, for each serial issued more than once."""
        p = self.p
        mine = f"policy = {p} AND issued_at <= {p}"
        found = self.database.read(
            f"SELECT normalised_serial, issued_log_index FROM {self.table} WHERE {mine}"
            f" AND normalised_serial IN (SELECT normalised_serial FROM {self.table} WHERE {mine}"
            " GROUP BY normalised_serial HAVING COUNT(*) > 1) ORDER BY issued_log_index",
            [self.policy, as_of, self.policy, as_of],
        )
        serials: dict[str, list[int]] = {}
        for serial, index in found:
            serials.setdefault(str(serial), []).append(int(index))
        return serials

    def recipients(self) -> list[str]:
        found = self.database.read(
            f"SELECT DISTINCT recipient FROM {self.table} WHERE policy = {self.p}", [self.policy]
        )
        return [str(row[0]) for row in found]

    def _where(self, where: Where, extra: str, *extras: Any) -> tuple[str, list[Any]]:
        p = self.p
        sql, params = [f"policy = {p}", f"issued_at <= {p}", extra], [self.policy, where.as_of]
        params.extend(extras)
        for column, value in (("programme", where.programme), ("category", where.category)):
            if value:
                sql.append(f"{column} = {p}")
                params.append(value)
        if where.recipients is not None:
            sql.append(f"recipient IN ({self.dialect.marks(len(where.recipients)) or 'NULL'})")
            params.extend(where.recipients)
        return " AND ".join(sql), params

    def _accounts(self, where: str, params: Sequence[Any]) -> list[Row]:
        return self.database.read(
            f"SELECT {', '.join(ACCOUNT_COLUMNS)} FROM {self.table} WHERE {where}"
            " ORDER BY issued_log_index",
            params,
        )

    # Writes ------------------------------------------------------------------------------------

    def write(self, rows: Sequence[Row]) -> None:
        """Upsert these rows (in `ACCOUNT_COLUMNS` order) in one transaction; a stored row
        computed at a larger log size is kept."""
        with self.database.transaction() as c:
            for row in rows:
                c.execute(self.upsert, row)

    def clear(self, tracking_prefix: str) -> None:
        """Drop every policy's rows, and every position named `tracking_prefix`..., under the
        tracking table's write lock."""
        tracking = self.dialect.table(self.tracking)
        forget = f"DELETE FROM {tracking} WHERE application_name LIKE {self.p}"
        delete = f"DELETE FROM {self.table}"
        with self.database.transaction(locking=(self.tracking, "notification_id")) as c:
            c.execute(forget, (tracking_prefix + "%",))
            c.execute(delete)

    def advance(
        self, tracker: Tracker, name: str, start: int, size: int, *, forget: str | None = None
    ) -> None:
        """Move the position `name` from `start` to `size`, only if it is still `start`, under
        the tracking table's write lock; in the same transaction, forget the position `forget`."""
        with self.database.transaction(locking=(self.tracking, "notification_id")) as c:
            if (tracker._max_tracking_id(name, c) or 0) == start < size:
                tracker._insert_tracking(c, Tracking(name, size))
            if forget is not None:
                c.execute(self.forget_position, (forget,))


# Month-end accounts (policies/months.py): what each item's account was at past month ends ------

MONTHS_TABLE = "policy_month_accounts"
MONTH_COLUMNS = (
    "policy",
    "item_id",
    "last_at",
    "until_at",
    "recipient",
    "programme",
    "category",
    "status",
    "issued_at",
    "unaccounted_from",
    "overdue_from",
    "verified_from",
    "self_reported_from",
    "computed_at",
)
"""One row per item and run of month ends at which its facts as of the month end were the same:
the row answers for every month end E with `last_at <= E < until_at` (`last_at`: the last of
those facts; `until_at`: the next fact's field time, or the end of time for the row of all its
facts, which is its stored account's)."""
_MONTH_OPTIONAL = ("unaccounted_from", "overdue_from", "verified_from", "self_reported_from")


class MonthRows:
    """One policy's month-end rows in `policy_month_accounts` (next to its `AccountRows`, whose
    filters they share), and the tallies per recipient they answer."""

    def __init__(self, accounts: AccountRows) -> None:
        self.accounts = accounts
        self.database, self.policy = accounts.database, accounts.policy
        d = self.dialect = accounts.dialect
        self.table, self.p = d.table(MONTHS_TABLE), d.param
        kinds = {c: d.text for c in _MONTH_OPTIONAL} | {"computed_at": f"{d.integer} NOT NULL"}
        columns = ", ".join(f"{c} {kinds.get(c, f'{d.text} NOT NULL')}" for c in MONTH_COLUMNS)
        self.create_statements = [
            f"CREATE TABLE IF NOT EXISTS {self.table} ({columns},"
            " PRIMARY KEY (policy, item_id, last_at))",
        ]
        self.insert = (
            f"INSERT INTO {self.table} ({', '.join(MONTH_COLUMNS)})"
            f" VALUES ({d.marks(len(MONTH_COLUMNS))})"
        )
        self.delete_all = f"DELETE FROM {self.table}"

    def newer(self, count: int) -> str:
        """The ones of `count` items whose rows were computed at a larger log size."""
        return (
            f"SELECT DISTINCT item_id FROM {self.table} WHERE policy = {self.p}"
            f" AND item_id IN ({self.dialect.marks(count)}) AND computed_at > {self.p}"
        )

    def delete(self, count: int) -> str:
        """Delete the rows of `count` items."""
        return (
            f"DELETE FROM {self.table} WHERE policy = {self.p}"
            f" AND item_id IN ({self.dialect.marks(count)})"
        )

    def create(self) -> None:
        create_tables(self.database, self.create_statements)

    def items(self, columns: Sequence[str], after: str) -> ItemRows:
        """This policy's rows by item that can answer for a month end after `after` (canonical
        text): those with a later `until_at` (`custody verify` compares them with the log)."""
        scope = {"policy": self.policy}
        return ItemRows(
            self.database, MONTHS_TABLE, ", ".join(columns), scope=scope, after={"until_at": after}
        )

    def replace(self, items: Sequence[str], rows: Sequence[Row], computed_at: int) -> None:
        """Put `rows` (in `MONTH_COLUMNS` order) in place of the rows of `items`, in one
        transaction; an item whose rows were computed at a larger log size keeps them."""
        if not items:
            return
        with self.database.transaction() as c:
            c.execute(self.newer(len(items)), [self.policy, *items, computed_at])
            newer = {str(values(row)[0]) for row in c.fetchall()}
            kept = [i for i in items if i not in newer]
            if kept:
                c.execute(self.delete(len(kept)), [self.policy, *kept])
            written = [row for row in rows if str(row[1]) not in newer]
            if written:
                c.executemany(self.insert, written)

    def tallies(self, where: Where, ends: Sequence[str]) -> dict[str, list[Tally]]:
        """Per month end of `ends` (canonical text) and recipient, counted as `AccountRows.tally`
        counts the settled items, over each item's row that answers for the month end; one scan
        of the rows for all of them. `where.as_of` is the latest of `ends`."""
        if not ends:
            return {}
        p = self.p
        rows, params = self.accounts._where(where, "1 = 1")
        counts = (
            "COUNT(*) AS issued, SUM(CASE WHEN unaccounted_from <= e.at THEN 1 ELSE 0 END) AS lost,"
            " SUM(CASE WHEN status = 'in_custody' THEN 1 ELSE 0 END) AS held,"
            " SUM(CASE WHEN overdue_from < e.at THEN 1 ELSE 0 END) AS overdue,"
            " SUM(CASE WHEN verified_from <= e.at THEN 1 ELSE 0 END) AS independent,"
            " SUM(CASE WHEN self_reported_from <= e.at THEN 1 ELSE 0 END) AS self_reported"
        )
        end_rows = ", ".join([f"({p})"] * len(ends))
        found = self.database.read(  # CROSS JOIN: SQLite reads the rows once, not once an end
            f"WITH e (at) AS (VALUES {end_rows}) SELECT e.at, recipient, {counts}"
            f" FROM {self.table} CROSS JOIN e WHERE last_at <= e.at AND until_at > e.at"
            f" AND {rows} GROUP BY e.at, recipient",
            [*ends, *params],
        )
        tallied: dict[str, list[Tally]] = {end: [] for end in ends}
        for r in found:
            tallied[str(r[0])].append(
                (str(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]), int(r[7]))
            )
        return tallied

    def clear(self) -> None:
        """Drop every policy's month-end rows."""
        with self.database.transaction() as c:
            c.execute(self.delete_all)

    def covered_from(self, tracker: Tracker, name: str) -> int | None:
        """The first month (year * 12 + month - 1) whose month end the rows answer for every
        item, or None if they do not (never computed, or left behind by a catch-up that did not
        keep them)."""
        return tracker.max_tracking_id(name)

    def cover(self, tracker: Tracker, name: str, month: int, *, position: tuple[str, int]) -> None:
        """Record that every item's rows answer from `month` on (kept as the largest so far:
        items computed earlier answer from their own, earlier, first month), only if the stored
        accounts' position (name, size) is still the one the rows were kept to: a rebuild that
        cleared it, or a catch-up without the month rows that moved it (and forgot the mark),
        since then leaves them uncovered."""
        accounts, size = position
        with self.database.transaction(locking=(self.accounts.tracking, "notification_id")) as c:
            if (tracker._max_tracking_id(accounts, c) or 0) != size:
                return
            if (tracker._max_tracking_id(name, c) or 0) < month:
                tracker._insert_tracking(c, Tracking(name, month))

    def forget(self, name: str) -> None:
        """The rows no longer answer for every item (a catch-up moved without them)."""
        with self.database.transaction(locking=(self.accounts.tracking, "notification_id")) as c:
            c.execute(self.accounts.forget_position, (name,))
