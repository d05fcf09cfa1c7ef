"""Two writers racing on one item: one wins, the other gets Conflict; nothing is lost or doubled."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import pytest

from ledger.application.ledger import Ledger, Recorded
from ledger.domain.errors import Conflict
from ledger.domain.items import Item
from tests.conftest import SIGNER, Clock
from tests.programme import ADMIN, ago, issue, register


class RacingLedger(Ledger):
    """Loads the item, then waits until every racer has loaded the same version."""

    name = "Custody"  # the store's table names follow the application's name
    barrier: threading.Barrier

    def item(self, item: UUID | str) -> Item:
        found = super().item(item)
        self.barrier.wait(timeout=10)
        return found


def race(ledgers: list[RacingLedger], item_id: UUID) -> list[Recorded | Exception]:
    barrier = threading.Barrier(len(ledgers))
    for ledger in ledgers:
        ledger.barrier = barrier

    def transfer(pair: tuple[int, RacingLedger]) -> Recorded | Exception:
        n, ledger = pair
        try:
            return ledger.transfer(
                item_id, to=f"unit-{n + 2}", occurred_at=ago(ledger, days=1), actor=ADMIN
            )
        except Conflict as error:
            return error

    with ThreadPoolExecutor(len(ledgers)) as pool:
        return list(pool.map(transfer, enumerate(ledgers)))


def test_two_concurrent_transfers_of_one_item_one_wins_and_the_other_gets_conflict(
    db_url: str, clock: Clock
) -> None:
    setup = Ledger(clock=clock, db=db_url, create_tables=True, signer=SIGNER)
    register(setup)
    item_id = issue(setup)
    size_before = setup.log_store.log_size()
    racers = [RacingLedger(clock=clock, db=db_url, signer=SIGNER) for _ in range(2)]

    try:
        outcomes = race(racers, item_id)
    finally:
        for racer in racers:
            racer.close()

    wins = [o for o in outcomes if isinstance(o, Recorded)]
    losses = [o for o in outcomes if isinstance(o, Conflict)]
    assert (len(wins), len(losses)) == (1, 1), outcomes
    assert "retry" in str(losses[0])
    item = setup.item(item_id)
    assert item.version == 2
    assert item.holder == list(setup.events.get(item_id))[-1].to
    assert setup.log_store.log_size() == size_before + 1
    assert [r.log_index for r in setup.log_store.log_entries(0, size_before + 1)] == list(
        range(size_before + 1)
    )
    setup.close()


@pytest.mark.parametrize("writers", [4])
def test_many_writers_on_many_items_leave_a_gapless_log_with_one_entry_per_acknowledged_write(
    db_url: str, clock: Clock, writers: int
) -> None:
    setup = Ledger(clock=clock, db=db_url, create_tables=True, signer=SIGNER)
    register(setup)
    items = [issue(setup, f"SER-{n}") for n in range(6)]
    ledgers = [Ledger(clock=clock, db=db_url, signer=SIGNER) for _ in range(writers)]

    def work(n: int) -> int:
        acknowledged = 0
        for round_ in range(6):
            try:
                ledgers[n].inspect(
                    items[(n + round_) % len(items)],
                    result="verified",
                    method="physical",
                    inspector="inspectorate",
                    occurred_at=ago(setup, hours=round_),
                    actor=ADMIN,
                )
                acknowledged += 1
            except Conflict:
                pass
        return acknowledged

    with ThreadPoolExecutor(writers) as pool:
        acknowledged = sum(pool.map(work, range(writers)))
    for ledger in ledgers:
        ledger.close()

    size = setup.log_store.log_size()
    rows = setup.log_store.log_entries(0, size)
    assert [r.log_index for r in rows] == list(range(size))
    inspections = sum(len(list(setup.events.get(i))) - 1 for i in items)
    assert inspections == acknowledged > 0
    setup.close()
