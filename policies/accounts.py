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
under the read models' lock, only after every changed item's row is written. An entry of a party or
an agreement can change any item's findings (a unit's force, an agreement's holders), so the
catch-up after one recomputes every item. Each policy (by fingerprint) has its own rows.
"""

# ruff: noqa: S608 - SQL text from constant table names and a checked schema; values as parameters.

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import PersistenceError, Tracking

from ledger.application.ledger import Ledger
from ledger.domain.times import format_time
from ledger.integrity.entries import decode_entry
from ledger.readmodels.models import CustodyViews, SQLiteCustodyViews, open_views
from ledger.store.log import LogStore
from policies.config import PolicyConfig
from policies.findings import Finding, Severity

TABLE = "policy_accounts_v2"
"""v2: the rows gained `verified_from` and `self_reported_from`, and the findings independence
(docs/policies.md); v1 rows are not read."""
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
COLUMNS = (
    "policy",
    "item_id",
    "serial",
    "normalised_serial",
    "category",
    "programme",
    "agreement",
    "recipient",
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
    settings = {k: sorted(v) if isinstance(v, frozenset) else v for k, v in asdict(config).items()}
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


@dataclass(frozen=True)
class Where:
    """Which rows a report reads: issued by `as_of` (canonical text), optionally of one
    programme, one category, and some recipients."""

    as_of: str
    recipients: Sequence[str] | None = None
    programme: str | None = None
    category: str | None = None


Compute = Callable[[Sequence[UUID], str, int], list[StoredAccount]]
"""(items, policy fingerprint, log size read before the items are) -> their rows"""


class AccountTable:
    """`policy_accounts` on the Ledger's own datastore, with its tracking in the views' table."""

    def __init__(self, ledger: Ledger, config: PolicyConfig) -> None:
        self.ledger = ledger
        self.views: CustodyViews = open_views(ledger)
        self.policy = fingerprint(config)
        self.name = TRACKING_PREFIX + self.policy
        sqlite = isinstance(self.views, SQLiteCustodyViews)
        prefix = "" if sqlite else f'"{ledger.log_store.datastore.schema}".'  # type: ignore[attr-defined]
        p = "?" if sqlite else "%s"
        self.table, self.p = prefix + TABLE, p
        self.upsert = (
            f"INSERT INTO {self.table} ({', '.join(COLUMNS)})"
            f" VALUES ({', '.join([p] * len(COLUMNS))})"
            " ON CONFLICT (policy, item_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[2:])
            + f" WHERE {TABLE}.computed_at <= excluded.computed_at"
        )
        tracking = self.views.sql.tables[0]
        self.forget = f"DELETE FROM {tracking} WHERE application_name LIKE {p}"
        self.delete_all = f"DELETE FROM {self.table}"
        self.create = self._create_statements(sqlite)
        try:
            self._create()
        except PersistenceError:  # created meanwhile by another process (PostgreSQL's catalogue)
            self._create()

    def _create_statements(self, sqlite: bool) -> list[str]:
        integer = "INTEGER" if sqlite else "bigint"
        text = "TEXT" if sqlite else 'TEXT COLLATE "C"'  # canonical times order as bytes
        kinds = {"issued_log_index": f"{integer} NOT NULL", "computed_at": f"{integer} NOT NULL"}
        optional = ("unaccounted_from", "overdue_from", "findings")
        kinds |= {c: text for c in (*optional, "verified_from", "self_reported_from")}
        columns = ", ".join(f"{c} {kinds.get(c, f'{text} NOT NULL')}" for c in COLUMNS)
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table} ({columns}, PRIMARY KEY (policy, item_id))",
            # the duplicate-serial GROUP BY reads this index instead of sorting
            f"CREATE INDEX IF NOT EXISTS {TABLE}_serial"
            f" ON {self.table} (policy, normalised_serial)",
        ]

    def _create(self) -> None:
        with self.views.datastore.transaction(commit=True) as c:
            for statement in self.create:
                c.execute(statement)

    def rows(self) -> list[StoredAccount]:
        return self._accounts(f"policy = {self.p}", [self.policy])

    # The report's questions, answered in SQL over the rows of items issued by `as_of` ------------

    def tally(self, where: Where) -> list[tuple[str, int, int, int, int, int, int]]:
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
        found = self._read(
            f"SELECT recipient, {counts} FROM {self.table} WHERE {sql} GROUP BY recipient",
            [where.as_of] * 4 + [*params],
        )
        rows = [_values(r) for r in found]
        return [
            (str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]))
            for r in rows
        ]

    def settled_unaccounted(self, where: Where) -> list[StoredAccount]:
        p = self.p
        sql, params = self._where(
            where, f"last_at <= {p} AND unaccounted_from <= {p}", where.as_of, where.as_of
        )
        return self._accounts(sql, params)

    def unsettled(self, where: Where) -> list[StoredAccount]:
        """The items with facts after `as_of`: the engine reads their facts."""
        sql, params = self._where(where, f"last_at > {self.p}", where.as_of)
        return self._accounts(sql, params)

    def issued_twice(self, as_of: str) -> dict[str, list[int]]:
        """serial -> the log indexes of its issues, for each serial issued more than once."""
        p = self.p
        mine = f"policy = {p} AND issued_at <= {p}"
        found = self._read(
            f"SELECT normalised_serial, issued_log_index FROM {self.table} WHERE {mine}"
            f" AND normalised_serial IN (SELECT normalised_serial FROM {self.table} WHERE {mine}"
            " GROUP BY normalised_serial HAVING COUNT(*) > 1) ORDER BY issued_log_index",
            [self.policy, as_of, self.policy, as_of],
        )
        serials: dict[str, list[int]] = {}
        for serial, index in (_values(r) for r in found):
            serials.setdefault(str(serial), []).append(int(index))
        return serials

    def recipients(self) -> list[str]:
        found = self._read(
            f"SELECT DISTINCT recipient FROM {self.table} WHERE policy = {self.p}", [self.policy]
        )
        return [str(_values(r)[0]) for r in found]

    def _where(self, where: Where, extra: str, *extras: Any) -> tuple[str, list[Any]]:
        p = self.p
        sql, params = [f"policy = {p}", f"issued_at <= {p}", extra], [self.policy, where.as_of]
        params.extend(extras)
        for column, value in (("programme", where.programme), ("category", where.category)):
            if value:
                sql.append(f"{column} = {p}")
                params.append(value)
        if where.recipients is not None:
            sql.append(f"recipient IN ({', '.join([p] * len(where.recipients)) or 'NULL'})")
            params.extend(where.recipients)
        return " AND ".join(sql), params

    def _accounts(self, where: str, params: Sequence[Any]) -> list[StoredAccount]:
        found = self._read(
            f"SELECT {', '.join(COLUMNS)} FROM {self.table} WHERE {where}"
            " ORDER BY issued_log_index",
            params,
        )
        return [StoredAccount(*_values(r)) for r in found]

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self.views.datastore.transaction(commit=False) as c:
            c.execute(sql, params)
            return list(c.fetchall())

    # Following the log ----------------------------------------------------------------------

    def catch_up(
        self, compute: Compute, progress: Progress | None = None, *, every: bool = False
    ) -> int:
        """Recompute the rows of every item with entries after the position (of every item after
        a party's registration, when this policy has no rows yet, or if `every`). Answers how many
        items were recomputed."""
        store: LogStore = self.ledger.log_store
        size, position = store.log_size(), self._position()
        if position >= size and not every:
            return 0
        changed = None if every else self._changed(store, position, size)
        items = list(self.ledger.item_ids()) if changed is None else sorted(changed)
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            self._write(compute(chunk, self.policy, size))
            if progress is not None:
                progress(len(chunk))
        self._advance(position, size)
        return len(items)

    def clear(self) -> None:
        """Drop every policy's rows and positions (`custody readmodels rebuild`)."""
        with self.views.datastore.transaction(commit=True) as c:
            for statement in self.views.sql.lock:
                c.execute(statement)
            c.execute(self.forget, (TRACKING_PREFIX + "%",))
            c.execute(self.delete_all)

    def position(self) -> int:
        """The log size the rows reflect."""
        return self._position()

    def _position(self) -> int:
        return self.views.max_tracking_id(self.name) or 0

    def _changed(self, store: LogStore, position: int, size: int) -> set[UUID] | None:
        """The items with entries in [position, size); None when every item must be recomputed."""
        if position == 0 or size - position > RESCAN_LIMIT:
            return None
        changed = set()
        for row in store.log_entries(position, size):
            kind = str(decode_entry(row.entry)["type"])
            if kind.startswith(REGISTRY_TOPICS):
                return None
            if kind.startswith("custody:Item."):
                changed.add(row.aggregate_id)
        return changed

    def _write(self, accounts: Sequence[StoredAccount]) -> None:
        with self.views.datastore.transaction(commit=True) as c:
            for account in accounts:
                c.execute(self.upsert, _params(account))

    def _advance(self, start: int, size: int) -> None:
        """Move the position from `start` to `size`, only if it is still `start`: if another
        process moved it, that one's rows are as new; if a rebuild cleared it meanwhile, the rows
        this catch-up did not write are gone and the rebuild must not be told they are there."""
        with self.views.datastore.transaction(commit=True) as c:
            for statement in self.views.sql.lock:
                c.execute(statement)
            if (self.views._max_tracking_id(self.name, c) or 0) == start < size:
                self.views._insert_tracking(c, Tracking(self.name, size))


def _params(account: StoredAccount) -> tuple[Any, ...]:
    return tuple(getattr(account, c) for c in COLUMNS)


def _values(row: Any) -> tuple[Any, ...]:
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)
