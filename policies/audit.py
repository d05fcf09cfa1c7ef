"""`custody verify`'s check of the stored policy accounts (policies/accounts.py): each stored row
must be the one a catch-up would write from the log (ledger/readmodels/derived.py does the
comparing).

The rows of one policy (by fingerprint) follow the log under their own tracked position. An item
with an entry after that position may not be caught up yet, so it is not compared; a party
registered after it can change any item's findings, so then no row is compared (the next report
recomputes every item). `computed_at`, the log size a row was computed at, is not compared: it
says when, not what.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

from ledger.application import Ledger
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
from ledger.store import ACCOUNT_COLUMNS, ACCOUNTS_TABLE
from policies.accounts import (
    REGISTRY_TOPICS,
    TRACKING_PREFIX,
    AccountTable,
    StoredAccount,
    fingerprint,
)
from policies.config import PolicyConfig
from policies.engine import account_rows

COMPARED = [c for c in ACCOUNT_COLUMNS if c != "computed_at"]
PAGE = 1000


def check_accounts(ledger: Ledger, config: PolicyConfig) -> DerivedChecked | None:
    """The stored accounts of `config`'s policy against the log; None if the read models (and so
    the accounts) were never built. Nothing is created or written."""
    views = views_of(ledger.log_store)
    if not views.tables_exist():
        return None
    name = f"{ACCOUNTS_TABLE} (policy {fingerprint(config)})"
    size = ledger.log_store.log_size()
    position = views.max_tracking_id(TRACKING_PREFIX + fingerprint(config)) or 0
    if position == 0:  # the report computes every item before it reads one
        return DerivedChecked(name, 0, 0, size, "none computed for this policy yet")
    changed = _changed_since(ledger, position, size)
    if changed is None:
        note = "not compared: a party was registered after their position (the next report"
        return DerivedChecked(name, 0, position, size, note + " recomputes every item)")
    rows = _Accounts(ledger, config, AccountTable(ledger, config))
    table = Table(name, rows.position, rows.stored, rows.expected, rows.count, rows.item_ids)
    return compare_items(ledger, [table], skip=changed)[0]


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
    while the check runs is not caught up yet, on either side."""

    def __init__(self, ledger: Ledger, config: PolicyConfig, accounts: AccountTable) -> None:
        self.ledger = ledger
        self.accounts = accounts
        self.compute = account_rows(ledger, config)
        self.rows = accounts.sql.items(COMPARED)

    def position(self) -> int:
        return self.accounts.views.max_tracking_id(self.accounts.name) or 0

    def stored(self, items: Sequence[str], position: int) -> Rows:
        return _by_item(self.rows.of_items(self._settled(items, position)))

    def expected(self, items: Sequence[str], position: int) -> Rows:
        items = self._settled(items, position)
        computed = self.compute([UUID(i) for i in items], self.accounts.policy, position)
        return _by_item(_compared(account) for account in computed)

    def count(self) -> int:
        return self.rows.count()

    def _settled(self, items: Sequence[str], position: int) -> list[str]:
        late = written_since(self.ledger, items, position) if items else set()
        return [item for item in items if item not in late]

    def item_ids(self) -> Iterator[str]:
        return self.rows.item_ids()


def _compared(account: StoredAccount) -> Row:
    return tuple(getattr(account, c) for c in COMPARED)


def _by_item(rows: Any) -> Rows:
    found: Rows = {}
    for row in rows:
        found.setdefault(str(row[1]), []).append(row)
    return found
