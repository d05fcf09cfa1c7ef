"""`custody verify`'s check of the stored policy accounts (policies/accounts.py) and their month
rows (policies/months.py): each stored row must be the one a catch-up would write from the log
(ledger/readmodels/derived.py does the comparing).

The rows of one policy (by fingerprint) follow the log under their own tracked position; the month
rows are written with the accounts of the same items, under the same position. An item with an
entry after that position may not be caught up yet, so it is not compared; a party registered after
it can change any item's findings, so then no row is compared (the next report recomputes every
item). `computed_at`, the log size a row was computed at, is not compared: it says when, not what.

Both are recomputed with the code the follower writes them with (`chunk_rows`), once per chunk of
items. The month rows are compared from the first month they answer for (the overview's kept
months, recorded by the follower): an item's rows from an earlier catch-up, which kept earlier
months too, hold the same rows for the later month ends, and a row that answers for no kept month
end is never read. When the month rows answer for no month (a catch-up moved without them: the
overview reads the report, and the follower's next run recomputes every item), they are not
compared, and the answer says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

from ledger.application import Ledger
from ledger.domain import format_time
from ledger.integrity import decode_entry
from ledger.readmodels import (
    DerivedChecked,
    Row,
    Rows,
    Table,
    compare_items,
    views_of,
    written_since,
)
from ledger.store import ACCOUNT_COLUMNS, ACCOUNTS_TABLE, MONTH_COLUMNS, MONTHS_TABLE
from policies.accounts import (
    FOREVER,
    REGISTRY_TOPICS,
    TRACKING_PREFIX,
    AccountTable,
    StoredAccount,
    fingerprint,
)
from policies.config import PolicyConfig
from policies.months import MonthTable, chunk_rows, month_end, start_of

COMPARED = [c for c in ACCOUNT_COLUMNS if c != "computed_at"]
MONTHS_COMPARED = [c for c in MONTH_COLUMNS if c != "computed_at"]
PAGE = 1000


def check_accounts(ledger: Ledger, config: PolicyConfig) -> list[DerivedChecked]:
    """The stored accounts of `config`'s policy, then their month rows, against the log; [] if
    the read models (and so the accounts) were never built. Nothing is created or written."""
    views = views_of(ledger.log_store)
    if not views.tables_exist():
        return []
    policy = fingerprint(config)
    names = [f"{ACCOUNTS_TABLE} (policy {policy})", f"{MONTHS_TABLE} (policy {policy})"]
    size = ledger.log_store.log_size()
    position = views.max_tracking_id(TRACKING_PREFIX + policy) or 0
    if position == 0:  # the report computes every item before it reads one
        return [
            DerivedChecked(name, 0, 0, size, "none computed for this policy yet") for name in names
        ]
    changed = _changed_since(ledger, position, size)
    if changed is None:
        note = "not compared: a party was registered after their position (the next report"
        note += " recomputes every item)"
        return [DerivedChecked(name, 0, position, size, note) for name in names]
    table = AccountTable(ledger, config)
    first = MonthTable(table).covered_from()
    rows = _Accounts(ledger, config, table, first)
    tables = [Table(names[0], rows.position, rows.stored, rows.expected, rows.count, rows.item_ids)]
    if first is not None:
        months = _Months(rows, first)
        tables.append(
            Table(
                names[1],
                rows.position,
                months.stored,
                months.expected,
                months.count,
                months.item_ids,
            )
        )
    checked = compare_items(ledger, tables, skip=changed)
    if first is None:
        note = "not compared: they answer for no month (caught up without them: the overview"
        note += " reads the report until the follower's next run recomputes them)"
        checked.append(DerivedChecked(names[1], 0, position, size, note))
    return checked


def _changed_since(ledger: Ledger, position: int, size: int) -> set[str] | None:
    """The items with entries in [position, size); None if a party was registered there."""
    changed: set[str] = set()
    for start in range(position, size, PAGE):
        for row in ledger.log_store.log_entries(start, min(start + PAGE, size)):
            kind = str(decode_entry(row.entry)["type"])
            if kind.startswith(REGISTRY_TOPICS):
                return None
            if kind.startswith("custody:Item."):
                changed.add(str(row.aggregate_id))
    return changed


class _Accounts:
    """The rows of items with no entry at or after the position asked about: an item written to
    while the check runs is not caught up yet, on either side. A chunk's accounts and month rows
    are computed together, once for both tables."""

    def __init__(
        self, ledger: Ledger, config: PolicyConfig, accounts: AccountTable, first: int | None
    ) -> None:
        self.ledger = ledger
        self.accounts = accounts
        since = FOREVER if first is None else start_of(first)  # FOREVER: no month end before it
        self.compute = chunk_rows(ledger, config, since)
        self.rows = accounts.sql.items(COMPARED)
        self._computed: tuple[Any, tuple[list[StoredAccount], list[Row]]] | None = None

    def position(self) -> int:
        return self.accounts.views.max_tracking_id(self.accounts.name) or 0

    def stored(self, items: Sequence[str], position: int) -> Rows:
        return _by_item(self.rows.of_items(self.settled(items, position)))

    def expected(self, items: Sequence[str], position: int) -> Rows:
        return _by_item(_compared(account) for account in self.computed(items, position)[0])

    def computed(
        self, items: Sequence[str], position: int
    ) -> tuple[list[StoredAccount], list[Row]]:
        """The accounts and month rows of those of `items` settled at `position`."""
        items = self.settled(items, position)
        key = (tuple(items), position)
        if self._computed is None or self._computed[0] != key:
            found = self.compute([UUID(i) for i in items], self.accounts.policy, position)
            self._computed = (key, found)
        return self._computed[1]

    def count(self) -> int:
        return self.rows.count()

    def settled(self, items: Sequence[str], position: int) -> list[str]:
        late = written_since(self.ledger, items, position) if items else set()
        return [item for item in items if item not in late]

    def item_ids(self) -> Iterator[str]:
        return self.rows.item_ids()


class _Months:
    """The month rows that can answer for a month end from month `first` on, of the items
    `accounts` compares, in `last_at` order."""

    def __init__(self, accounts: _Accounts, first: int) -> None:
        self.accounts = accounts
        after = format_time(month_end(start_of(first)))
        self.rows = accounts.accounts.months.items(MONTHS_COMPARED, after)

    def stored(self, items: Sequence[str], position: int) -> Rows:
        return _by_item(sorted(self.rows.of_items(self.accounts.settled(items, position))))

    def expected(self, items: Sequence[str], position: int) -> Rows:
        computed = self.accounts.computed(items, position)[1]
        return _by_item(sorted(row[: len(MONTHS_COMPARED)] for row in computed))

    def count(self) -> int:
        return self.rows.count()

    def item_ids(self) -> Iterator[str]:
        return self.rows.item_ids()


def _compared(account: StoredAccount) -> Row:
    return tuple(getattr(account, c) for c in COMPARED)


def _by_item(rows: Any) -> Rows:
    found: Rows = {}
    for row in rows:
        found.setdefault(str(row[1]), []).append(row)
    return found
