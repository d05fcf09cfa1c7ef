"""Month-end accounts: the dashboard's twelve-month trend read from rows the follower keeps, instead
of the rules run again for every item at every past month end (docs/performance.md, "Dashboard
overview").

An item's account at a month end E is the rules over its facts that occurred by E. Those facts are
the same for every E between two of the item's field times, so one row answers for the whole run
of month ends `last_at <= E < until_at` (the last fact of the run, the next fact), and its findings
as of E are those of its facts as of FOREVER that have begun by E, exactly as a stored account's
(policies/accounts.py). After its last fact, a row with its stored account's values answers
(`until_at` the end of time). So the tally of any set of month ends, per recipient, is one SQL
query over the rows (`MonthRows.tallies`), counted as the report counts the stored accounts
(`AccountRows.tally`).

A past month end changes only when an entry lands for an item with a field time at or before it (a
late entry, a correction), or a party the item's entries name is registered: either way the stored
accounts' catch-up recomputes that item, and this module recomputes the same items' month rows from
the same facts, read once per chunk (`Ledger.facts_of_items`). Rows are kept only for the month ends
the overview can ask for: from `MONTHS_KEPT - 1` months before the clock's month at the catch-up.
The tracking table records from which month every item's rows answer
(`TRACKING_PREFIX<policy>:months`, the largest first month used); a month end before it, an instant
that is not a month end, or a store whose accounts were caught up without the month rows (the
engine's `follow_accounts`: `AccountTable.catch_up` then forgets the mark, and the follower's next
run recomputes every item) is answered by the engine's `unaccounted_report` as before. `custody
readmodels rebuild` (`rebuild_accounts`) computes both, as the follower does, and `custody verify`
recomputes both and compares them (policies/audit.py).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from ledger.application import Ledger
from ledger.domain import Fact, format_time
from ledger.store import Where
from policies.accounts import FOREVER, AccountTable, Compute, StoredAccount
from policies.config import PolicyConfig
from policies.engine import (
    RecipientRates,
    RuleRegistry,
    Scope,
    case_findings,
    checked_scope,
    covered_recipients,
    rule_registry,
    stored_rows,
    verified_since,
)

MONTHS_KEPT = 12
"""The overview's months (api/ui/views.py `MONTHS`): this one and the eleven before it."""
Progress = Callable[[int], None]
ONE_MICROSECOND = timedelta(microseconds=1)
SETTLED = format_time(FOREVER)
"""`until_at` of an item's last row: its facts are all in by then"""


def month_end(moment: datetime) -> datetime:
    """The last instant of `moment`'s month (UTC), as the overview's chart names it."""
    utc = moment.astimezone(UTC)
    year, month = (utc.year + 1, 1) if utc.month == 12 else (utc.year, utc.month + 1)
    return datetime(year, month, 1, tzinfo=UTC) - ONE_MICROSECOND


def month_of(moment: datetime) -> int:
    utc = moment.astimezone(UTC)
    return utc.year * 12 + utc.month - 1


def first_month_kept(now: datetime) -> int:
    """The first month whose end the overview shows at `now`."""
    return month_of(now) - (MONTHS_KEPT - 1)


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` months later (earlier if negative); `moment` is a first."""
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1)


def start_of(month: int) -> datetime:
    """The first instant of month `month` (year * 12 + month - 1), UTC."""
    return datetime(month // 12, month % 12 + 1, 1, tzinfo=UTC)


class MonthTable:
    """One policy's month rows next to its stored accounts (their SQL:
    ledger/store/accounts_tables.py `MonthRows`)."""

    def __init__(self, table: AccountTable) -> None:
        self.accounts = table
        self.name = table.months_name
        self.sql = table.months

    def covered_from(self) -> int | None:
        return self.sql.covered_from(self.accounts.views, self.name)

    def answers(self, moment: datetime) -> bool:
        """Whether the rows answer for every item at `moment`: a month end in the kept months."""
        first = self.covered_from()
        return first is not None and moment == month_end(moment) and month_of(moment) >= first


def month_reports(
    ledger: Ledger, scope: Scope, config: PolicyConfig, ends: Sequence[datetime]
) -> list[tuple[list[RecipientRates], int] | None]:
    """For each of `ends`: per recipient its rates at that month end, and how many items were
    unaccounted for then, from the month rows; None for one they do not answer (the engine's
    `unaccounted_report` does). Equal to that report's `recipients` and `len(unaccounted)`."""
    scope = checked_scope(scope)
    if scope.known_at is not None:
        return [None for _ in ends]
    table = AccountTable(ledger, config)
    months = MonthTable(table)
    answered = [format_time(end) for end in ends if months.answers(end)]
    if not answered:
        return [None for _ in ends]
    where = Where(
        max(answered),
        covered_recipients(table, rule_registry(ledger, None).parent, scope),
        scope.programme,
        scope.category,
    )
    tallied = months.sql.tallies(where, answered)
    found: list[tuple[list[RecipientRates], int] | None] = []
    for end in ends:
        if format_time(end) not in tallied:
            found.append(None)
            continue
        rates, unaccounted = [], 0
        for recipient, issued, lost, *counts in sorted(tallied[format_time(end)]):
            rates.append(RecipientRates(recipient, issued, issued - lost, *counts))
            unaccounted += lost
        found.append((rates, unaccounted))
    return found


def month_report(
    ledger: Ledger, scope: Scope, config: PolicyConfig
) -> tuple[list[RecipientRates], int] | None:
    """`month_reports` at `scope.as_of` alone."""
    return month_reports(ledger, scope, config, [scope.as_of])[0]


# Following the log: the stored accounts' catch-up, with the month rows of the same items ---------


def follow(
    ledger: Ledger,
    config: PolicyConfig,
    table: AccountTable,
    progress: Progress | None = None,
) -> int:
    """The stored accounts' catch-up (`AccountTable.catch_up`) with each chunk's facts read in
    one query, and the month rows of the same items kept with them. Every item when the month
    rows do not answer yet (a new table, or a catch-up that moved without them)."""
    months = MonthTable(table)
    first = first_month_kept(ledger.clock())
    every = missing_months(table)
    compute = chunk_compute(ledger, config, months, first)
    done, size = table.catch_up_to(compute, progress, every=every, keeps_months=True)
    if size > 0:  # unless the accounts moved without the month rows since, or were cleared
        months.sql.cover(table.views, months.name, first, position=(table.name, size))
    return done


def rebuild_accounts(ledger: Ledger, config: PolicyConfig, progress: Progress | None = None) -> int:
    """Drop every policy's stored accounts and month rows, and compute this policy's again as the
    follower does (`custody readmodels rebuild`); answers how many items."""
    table = AccountTable(ledger, config)
    table.clear()
    return follow(ledger, config, table, progress)


def missing_months(table: AccountTable) -> bool:
    """Whether the next catch-up recomputes every item for want of month rows."""
    return MonthTable(table).covered_from() is None and table.position() > 0


def chunk_compute(ledger: Ledger, config: PolicyConfig, months: MonthTable, first: int) -> Compute:
    """Rows for a chunk of items (`chunk_rows`); their month rows from `first` on are written
    meanwhile."""
    rows_of = chunk_rows(ledger, config, start_of(first))

    def compute(items: Sequence[UUID], policy: str, size: int) -> list[StoredAccount]:
        accounts, found = rows_of(items, policy, size)
        months.sql.replace([str(i) for i in items], found, size)
        return accounts

    return compute


ChunkRows = Callable[[Sequence[UUID], str, int], tuple[list[StoredAccount], list[tuple[Any, ...]]]]
"""(items, policy fingerprint, log size read before the items are) -> their stored accounts and
their month rows (in `MONTH_COLUMNS` order)"""


def chunk_rows(ledger: Ledger, config: PolicyConfig, since: datetime) -> ChunkRows:
    """What the follower writes for a chunk of items, from their facts read in two queries
    (`Ledger.facts_of_items`): their stored accounts (the engine's `stored_rows`) and their month
    rows for the month ends from `since` on. `custody verify` recomputes both with it
    (policies/audit.py)."""

    def rows(
        items: Sequence[UUID], policy: str, size: int
    ) -> tuple[list[StoredAccount], list[tuple[Any, ...]]]:
        facts = ledger.facts_of_items(items)  # two queries for the chunk, not two an item
        registry = rule_registry(ledger, None)  # the parties looked up once for both
        accounts = stored_rows(facts, registry, config, policy, size)
        found = [
            (policy, *row, size)
            for item, recorded in facts.items()
            for row in item_month_rows(item, recorded, registry, config, since)
        ]
        found.extend((policy, *settled_row(row), size) for row in accounts)
        return accounts, found

    return rows


def item_month_rows(
    item_id: UUID,
    recorded: Sequence[Fact],
    registry: RuleRegistry,
    config: PolicyConfig,
    since: datetime,
) -> list[tuple[Any, ...]]:
    """The item's rows (`MONTH_COLUMNS` but the policy and computed_at) for the month ends from
    `since` on at which it had facts after the month end (before its last fact)."""
    issued = next(f for f in recorded if f.kind == "Issued")
    rest = sorted(
        (f for f in recorded if f.kind != "Issued"), key=lambda f: (f.occurred_at, f.log_index)
    )
    times = [f.occurred_at for f in rest]
    last_at = max([issued.occurred_at, *times])
    fields = issued.fields
    head = (str(item_id),)
    marking = (str(fields["recipient"]), str(fields["programme"]), str(fields["category"]))
    issued_at = format_time(issued.occurred_at)
    texts: dict[int, str] = {}  # the facts' field times as text, each formatted once

    def text(k: int) -> str:
        found = texts.get(k)
        if found is None:
            found = texts[k] = format_time(times[k])
        return found

    rows = []
    end = month_end(max(issued.occurred_at, since))
    while end < last_at:
        k = bisect_right(times, end)
        case = registry.case(item_id, (issued, *rest[:k]), FOREVER)
        status, findings = case_findings(case, config)
        verified, self_reported = verified_since(case)
        begun = issued_at if not k or times[k - 1] <= issued.occurred_at else text(k - 1)
        unaccounted = overdue = None
        for f in findings:
            if f.unaccounted and (unaccounted is None or f.since < unaccounted):
                unaccounted = f.since
            if f.rule == "inspection_overdue" and (overdue is None or f.since < overdue):
                overdue = f.since
        rows.append(
            (
                *head,
                begun,
                text(k),
                *marking,
                status,
                issued_at,
                _text(unaccounted),
                _text(overdue),
                # every fact of the row is by `begun`, which is by every month end it answers for
                begun if verified is not None else None,
                begun if self_reported is not None else None,
            )
        )
        end = month_end(times[k])
    return rows


def settled_row(account: StoredAccount) -> tuple[Any, ...]:
    """The item's row for every month end after its last fact: its stored account's."""
    a = account
    return (
        a.item_id,
        a.last_at,
        SETTLED,
        a.recipient,
        a.programme,
        a.category,
        a.status,
        a.issued_at,
        a.unaccounted_from,
        a.overdue_from,
        a.verified_from,
        a.self_reported_from,
    )


def _text(moment: datetime | None) -> str | None:
    return format_time(moment) if moment is not None else None
