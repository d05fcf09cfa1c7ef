"""The stored log does not depend on how it was written: the same writes give the same entries,
leaf hashes, tree nodes and root, byte for byte, pinned to the bytes the ledger stored before its
append was sped up (one statement per row, `prev` and the tree's edge read from the store).

The append now writes rows with `executemany` and takes `prev` and the tree's right edge from what
this process committed last (ledger/store/log.py, `_Tail`). So the same programme is written three
ways:
by one ledger; by two ledgers on one store taking turns, so that every append finds the log moved
on by the other and must read the store; and in one `Ledger.batch`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from itertools import cycle

import pytest

from ledger.application.ledger import Ledger
from ledger.integrity import merkle
from ledger.integrity.entries import decode_entry
from tests.conftest import Clock, LedgerFactory
from tests.programme import ADMIN, RIFLE, inspect

PINNED_LOG = "d308a7bce0798f4a5496e81f11702ddbb8e5f59944c2296982e1ffdae03238eb"
"""SHA-256 of every log row and the root, as the ledger stored them before this change. Pinned
again when issue 17 made an issue's `normalised_serial` the serial normal form (docs/identity.md;
'snoooo' where the legacy key was 'SN0000'): the old and new logs differ in that field of each
Issued entry and in the `prev` hashes that follow from it, and in nothing else."""
ITEMS = 16


def programme(ledgers: Sequence[Ledger], clock: Clock, *, batch: bool = False) -> None:
    """Register the parties and the agreement, then issue ITEMS items, each followed by its own
    transfers, inspections and a loss; write n goes to ledgers[n % len(ledgers)]."""
    turn = cycle(ledgers)

    def write(act: Callable[[Ledger], object]) -> None:
        clock.advance(seconds=1)
        act(next(turn))

    for party, kind, parent in PARTIES:
        write(
            lambda book, p=party, k=kind, f=parent: book.register_party(
                party_id=p, name=p.title(), kind=k, parent=f, actor=ADMIN
            )
        )
    write(
        lambda book: book.conclude_agreement(
            agreement_id="eua-1",
            supplier="supplier",
            programme="Programme One",
            authorized_holders=["force", "unit-1", "unit-2"],
            actor=ADMIN,
        )
    )
    with ledgers[0].batch() if batch else nullcontext():
        for n in range(ITEMS):
            for step in item_steps(n, clock):
                write(step)


PARTIES = [
    ("supplier", "supplier", None),
    ("force", "recipient", None),
    ("unit-1", "recipient", "force"),
    ("unit-2", "recipient", "force"),
    ("inspectorate", "inspector", None),
]


def item_steps(n: int, clock: Clock) -> Iterator[Callable[[Ledger], object]]:
    serial = f"SN-{n:04d}"

    def item(ledger: Ledger) -> str:
        return str(ledger.issue(serial=serial, occurred_at=clock.now, actor=ADMIN, **RIFLE).id)

    ids: list[str] = []
    yield lambda book: ids.append(item(book))
    for k in range(n % 4):
        yield lambda book, k=k: book.transfer(
            ids[0], to=("unit-2", "unit-1")[k % 2], occurred_at=clock.now, actor=ADMIN
        )
        yield lambda book: inspect(book, ids[0], clock.now)
    if n % 3 == 2:
        yield lambda book: book.report_lost(
            ids[0], circumstances="missing", occurred_at=clock.now, actor=ADMIN
        )


def log_digest(ledger: Ledger) -> str:
    size = ledger.log_store.log_size()
    digest = hashlib.sha256()
    for row in ledger.log_store.log_entries(0, size):
        digest.update(
            f"{row.log_index}|{row.aggregate_id}|{row.aggregate_version}|".encode()
            + row.leaf_hash
            + row.entry
        )
    digest.update(ledger.tlog.root(size))
    return digest.hexdigest()


def assert_tree_is_the_leaves_tree(ledger: Ledger) -> None:
    """Every stored node is the one the leaves make, and there is no other."""
    size = ledger.log_store.log_size()
    leaves = [row.leaf_hash for row in ledger.log_store.log_entries(0, size)]
    expected = merkle.nodes_to_append(0, leaves, merkle.MemoryNodeStore())
    levels = size.bit_length()
    stored = ledger.log_store.nodes_completed([(level, 0, size) for level in range(levels)])
    assert sorted(stored) == sorted(expected)
    assert ledger.log_store.count_nodes() == len(expected)


def assert_chains_hold(ledger: Ledger) -> None:
    """Each entry hashes to its leaf, and names the leaf of its aggregate's version before."""
    size = ledger.log_store.log_size()
    leaves: dict[tuple[str, int], bytes] = {}
    for row in ledger.log_store.log_entries(0, size):
        assert row.leaf_hash == merkle.leaf_hash(row.entry), row.log_index
        before = leaves.get((str(row.aggregate_id), row.aggregate_version - 1))
        assert decode_entry(row.entry)["prev"] == (before.hex() if before else None), row.log_index
        leaves[(str(row.aggregate_id), row.aggregate_version)] = row.leaf_hash


@pytest.fixture
def one(make_ledger: LedgerFactory, db_url: str) -> list[Ledger]:
    return [make_ledger(db_url)]


def test_one_ledger_stores_the_pinned_bytes(one: list[Ledger], clock: Clock) -> None:
    programme(one, clock)

    assert log_digest(one[0]) == PINNED_LOG
    assert_tree_is_the_leaves_tree(one[0])
    assert_chains_hold(one[0])


def test_two_ledgers_taking_turns_on_one_store_store_the_pinned_bytes(
    make_ledger: LedgerFactory, db_url: str, clock: Clock
) -> None:
    ledgers = [make_ledger(db_url), make_ledger(db_url)]

    programme(ledgers, clock)

    assert log_digest(ledgers[0]) == log_digest(ledgers[1]) == PINNED_LOG
    assert_tree_is_the_leaves_tree(ledgers[1])


def test_the_items_written_in_one_batch_store_the_pinned_bytes(
    one: list[Ledger], clock: Clock
) -> None:
    programme(one, clock, batch=True)

    assert log_digest(one[0]) == PINNED_LOG
    assert_tree_is_the_leaves_tree(one[0])


def test_a_save_that_fails_after_its_entries_were_made_leaves_nothing_a_later_append_uses(
    one: list[Ledger], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = one[0]
    programme(one, clock)
    item = ledger.item_ids().__next__()
    version = ledger.item(item).version
    append = ledger.log_store._append_to_log

    def append_then_fail(*args: object) -> None:
        append(*args)  # type: ignore[arg-type]
        raise RuntimeError("the transaction fails after the log rows were made")

    monkeypatch.setattr(ledger.log_store, "_append_to_log", append_then_fail)
    stored = (ledger.log_store.log_size(), ledger.log_store.count_events())
    with pytest.raises(RuntimeError, match="the transaction fails after the log rows were made"):
        ledger.transfer(item, to="unit-2", occurred_at=clock.now, actor=ADMIN)
    monkeypatch.undo()
    assert (ledger.log_store.log_size(), ledger.log_store.count_events()) == stored
    clock.advance(seconds=1)
    ledger.inspect(  # the version the failed transfer would have had, with another entry
        item,
        result="damaged",
        method="photo",
        inspector="inspectorate",
        occurred_at=clock.now,
        actor=ADMIN,
    )
    ledger.transfer(item, to="unit-2", occurred_at=clock.now, actor=ADMIN)

    assert ledger.item(item).version == version + 2
    assert_chains_hold(ledger)
    assert_tree_is_the_leaves_tree(ledger)
