"""What follows the log, in order: the read models, then the policy's stored accounts
(ledger/readmodels/follower.py; docs/readmodels.md, "Who brings them up to date"). The server and
`custody import` run it; a reader never does."""

from __future__ import annotations

from collections.abc import Callable

from ledger.application import Ledger
from ledger.readmodels import Follower, views_step
from ledger.readmodels import FollowStep as Step
from policies.accounts import AccountTable
from policies.config import PolicyConfig
from policies.months import follow, missing_months


def accounts_step(ledger: Ledger, config: PolicyConfig) -> Step:
    """The stored accounts of `config`'s policy and their month rows (policies/months.py), the
    tables opened (created if missing) on the first run and kept. Its progress counts items;
    `behind` is every item when the accounts are behind the log, or the month rows do not answer
    (at most that many are recomputed)."""
    tables: list[AccountTable] = []

    def table() -> AccountTable:
        if not tables:
            tables.append(AccountTable(ledger, config))
        return tables[0]

    def behind() -> int:
        if table().position() >= ledger.log_store.log_size() and not missing_months(table()):
            return 0
        return sum(1 for _ in ledger.item_ids())

    def catch_up(progress: Callable[[int], None] | None) -> int:
        return follow(ledger, config, table(), progress)

    return Step("stored accounts", catch_up, behind)


def follower_of(ledger: Ledger, config: PolicyConfig) -> Follower:
    return Follower([views_step(ledger), accounts_step(ledger, config)])
