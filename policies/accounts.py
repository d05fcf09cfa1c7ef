"""Stored accounts: the fleet-wide reports' fast path (docs/policies.md, "How the report scales").

The rules read an item's facts as of a date. When every fact of an item occurred by that date (the
usual question: "as of today", or any date after the item's last event), the rules read all of its
facts, and the findings differ from one such date to the next only in which have begun by then
(`since <= as_of`; an overdue inspection from the day after it is due) and in duplicate serials,
which depend on the rest of the fleet. So each item's findings over all its facts are computed once,
when its entries are recorded, and kept in `policy_accounts`, one row per item. A report as of T
reads the rows and keeps the findings begun by T; the engine falls back to the reference (the
replay of the item's facts, policies/engine.py) for an item with facts after T, and for every item
when the question is "as known at" an earlier recording time.

The rows follow the log with the library's tracking, in the read models' tracking table, under
`PolicyAccounts:<policy fingerprint>`: the position is the log size the rows reflect. A row is
computed from reads made after the log size it records (`computed_at`) was read, so it reflects
every entry before that size; a row is only ever replaced by one with a `computed_at` as large (two
processes catching up at once cannot put an older read over a newer one), and the position is set,
under the read models' lock, only after every changed item's row is written. A party's registration
can change the findings of the items whose entries name it (a unit's force, who is independent), so
the catch-up after one recomputes those items too (found in one scan of the log); agreements never
change. Each policy (by fingerprint) has its own rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from ledger.application import Ledger
from ledger.domain import format_time
from ledger.integrity import decode_entry
from ledger.readmodels import TRACKING_TABLE, CustodyViews, open_views
from ledger.store import (
    ACCOUNT_COLUMNS,
    AccountRows,
    Database,
    LogStore,
    MonthRows,
    Tally,
    Where,
)
from policies.config import PolicyConfig
from policies.findings import Finding, Severity

TRACKING_PREFIX = "PolicyAccounts:"
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)
"""The date the stored findings are computed as of: after every fact, so all findings begin."""
CHUNK = 500
"""Items computed, then written in one transaction."""
RESCAN_LIMIT = 50_000
"""A catch-up further behind than this recomputes every item instead of reading the entries."""
REGISTRY_TOPICS = ("custody:Party.Registered",)
"""Entries that can change an item's findings without an entry of the item: a party registered
after an item was seen with it, whose force may be authorized. Keys, and agreements (an item names
one that exists when it is issued, and their terms never change), cannot."""
Progress = Callable[[int], None]


@dataclass(frozen=True)
class StoredAccount:
    """One item's row. Times are canonical text (`format_time`), so they compare as text.
    `findings` (JSON, in rule order) are the item's findings over all its facts, duplicate serials
    aside; `unaccounted_from` is the earliest `since` of those that make it unaccounted,
    `overdue_from` when its inspection fell due; `verified_from` when an independent party first
    verified it, `self_reported_from` when the holder's side first did."""

    policy: str
    item_id: str
    serial: str
    normalised_serial: str
    category: str
    programme: str
    agreement: str
    recipient: str
    holder: str
    status: str
    issued_at: str
    issued_log_index: int
    last_at: str
    unaccounted_from: str | None
    overdue_from: str | None
    findings: str | None
    computed_at: int
    verified_from: str | None = None
    self_reported_from: str | None = None

    def begun(self, as_of: str) -> list[Finding]:
        """The stored findings that have begun by `as_of` (canonical text)."""
        found, item_id = [], UUID(self.item_id)
        for rule, severity, since, evidence, detail, unaccounted in json.loads(
            self.findings or "[]"
        ):
            if since < as_of or (since == as_of and rule != "inspection_overdue"):
                found.append(
                    Finding(
                        rule,
                        item_id,
                        Severity(severity),
                        datetime.fromisoformat(since),
                        tuple(evidence),
                        detail,
                        unaccounted,
                    )
                )
        return found


def fingerprint(config: PolicyConfig) -> str:
    """The settings the findings depend on (the dashboard's emphasis is not one of them)."""
    fields = asdict(config)
    del fields["emphasis"]
    settings = {k: sorted(v) if isinstance(v, frozenset) else v for k, v in fields.items()}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def stored(
    findings: Sequence[Finding],
    *,
    policy: str,
    computed_at: int,
    item_id: UUID,
    marking: dict[str, str],
    holder: str,
    status: str,
    issued: tuple[datetime, int],
    last_at: datetime,
    verified: tuple[datetime | None, datetime | None] = (None, None),
) -> StoredAccount:
    """The row for an item, from its findings as of FOREVER (computed by the engine)."""
    unaccounted = [format_time(f.since) for f in findings if f.unaccounted]
    overdue = [format_time(f.since) for f in findings if f.rule == "inspection_overdue"]
    encoded = [
        [f.rule, f.severity.value, format_time(f.since), list(f.evidence), f.detail, f.unaccounted]
        for f in findings
    ]
    return StoredAccount(
        policy=policy,
        item_id=str(item_id),
        **marking,
        holder=holder,
        status=status,
        issued_at=format_time(issued[0]),
        issued_log_index=issued[1],
        last_at=format_time(last_at),
        unaccounted_from=min(unaccounted, default=None),
        overdue_from=min(overdue, default=None),
        findings=json.dumps(encoded, separators=(",", ":")) if encoded else None,
        computed_at=computed_at,
        verified_from=format_time(verified[0]) if verified[0] else None,
        self_reported_from=format_time(verified[1]) if verified[1] else None,
    )


Compute = Callable[[Sequence[UUID], str, int], list[StoredAccount]]
"""(items, policy fingerprint, log size read before the items are) -> their rows"""


class AccountTable:
    """One policy's stored accounts on the Ledger's own datastore (their SQL:
    ledger/store/accounts_tables.py), with its tracking in the read models' table."""

    def __init__(self, ledger: Ledger, config: PolicyConfig) -> None:
        self.ledger = ledger
        self.views: CustodyViews = open_views(ledger)
        self.policy = fingerprint(config)
        self.name = TRACKING_PREFIX + self.policy
        database = Database(self.views.datastore)
        self.sql = AccountRows(database, self.policy, tracking=TRACKING_TABLE)
        self.sql.create()
        self.months = MonthRows(self.sql)
        """the month rows kept with these (policies/months.py)"""
        self.months.create()
        self.months_name = self.name + ":months"

    def rows(self) -> list[StoredAccount]:
        return [StoredAccount(*row) for row in self.sql.rows()]

    # The report's questions, answered in SQL over the rows of items issued by `as_of` ------------

    def tally(self, where: Where) -> list[Tally]:
        """Per recipient, over the settled items (every fact by `as_of`): issued, unaccounted,
        in custody, overdue, verified by an independent party, verified by a self-report."""
        return self.sql.tally(where)

    def settled_unaccounted(self, where: Where) -> list[StoredAccount]:
        return [StoredAccount(*row) for row in self.sql.settled_unaccounted(where)]

    def unsettled(self, where: Where) -> list[StoredAccount]:
        """The items with facts after `as_of`: the engine reads their facts."""
        return [StoredAccount(*row) for row in self.sql.unsettled(where)]

    def issued_twice(self, as_of: str) -> dict[str, list[int]]:
        """serial -> the log indexes of its issues, for each serial issued more than once."""
        return self.sql.issued_twice(as_of)

    def recipients(self) -> list[str]:
        return self.sql.recipients()

    # Following the log ----------------------------------------------------------------------

    def catch_up(
        self, compute: Compute, progress: Progress | None = None, *, every: bool = False
    ) -> int:
        """Recompute the rows of every item with entries after the position (of every item after
        a party's registration, when this policy has no rows yet, or if `every`). Answers how many
        items were recomputed."""
        return self.catch_up_to(compute, progress, every=every)[0]

    def catch_up_to(
        self,
        compute: Compute,
        progress: Progress | None = None,
        *,
        every: bool = False,
        keeps_months: bool = False,
    ) -> tuple[int, int]:
        """`catch_up`, answering also the position it moved the rows to (or found them at): the
        month rows are covered only if the position is still that (policies/months.py). Unless
        `compute` writes the items' month rows too (`keeps_months`), their mark is forgotten."""
        store: LogStore = self.ledger.log_store
        size, position = store.log_size(), self._position()
        if position >= size and not every:
            return 0, position
        changed = None if every else self._changed(store, position, size)
        items = list(self.ledger.item_ids()) if changed is None else sorted(changed)
        forget = self.months_name if items and not keeps_months else None
        if forget is not None:
            self.months.forget(forget)  # their items' month rows are left behind
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            self._write(compute(chunk, self.policy, size))
            if progress is not None:
                progress(len(chunk))
        self._advance(position, size, forget)
        return len(items), size

    def clear(self) -> None:
        """Drop every policy's rows and positions (`custody readmodels rebuild`)."""
        self.sql.clear(TRACKING_PREFIX)
        self.months.clear()

    def position(self) -> int:
        """The log size the rows reflect."""
        return self._position()

    def _position(self) -> int:
        return self.views.max_tracking_id(self.name) or 0

    def _changed(self, store: LogStore, position: int, size: int) -> set[UUID] | None:
        """The items with entries in [position, size); None when every item must be recomputed."""
        if position == 0 or size - position > RESCAN_LIMIT:
            return None
        changed, registered = set(), []
        for row in store.log_entries(position, size):
            entry = decode_entry(row.entry)
            kind = str(entry["type"])
            if kind.startswith(REGISTRY_TOPICS):
                registered.append(str(cast(dict[str, Any], entry["payload"])["party_id"]))
            elif kind.startswith("custody:Item."):
                changed.add(row.aggregate_id)
        # the items whose entries name a registered party (as actor or in any field) are the
        # only ones whose findings its registration can change, since a party's parent is
        # registered before it (rules.py looks up the parties an item's facts name, and parents)
        changed |= store.items_mentioning(registered)
        return changed

    def _write(self, accounts: Sequence[StoredAccount]) -> None:
        self.sql.write([_params(account) for account in accounts])

    def _advance(self, start: int, size: int, forget: str | None) -> None:
        """Move the position from `start` to `size`, only if it is still `start`: if another
        process moved it, that one's rows are as new; if a rebuild cleared it meanwhile, the rows
        this catch-up did not write are gone and the rebuild must not be told they are there.
        `forget` (the month rows' mark, when this catch-up left them behind) is forgotten in the
        same transaction, so a follower covering them meanwhile is undone."""
        self.sql.advance(self.views, self.name, start, size, forget=forget)


def _params(account: StoredAccount) -> tuple[Any, ...]:
    return tuple(getattr(account, c) for c in ACCOUNT_COLUMNS)
