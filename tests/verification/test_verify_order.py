"""`custody verify` reads the stored events in notification order, one for one with the log
(ledger/verification/verify.py, step 4): tampering that only this pairing, the chain read with each
row, or the
count of distinct (aggregate, version) pairs can find. The store and helpers are test_tamper's:
item n of the first batch is at 11 + 3n (issue), 12 + 3n (transfer) and 13 + 3n (inspection);
each batch ends with a map root, the last at SIZE - 1.
"""

from __future__ import annotations

import sqlite3
from uuid import UUID, uuid4

from ledger.application.ledger import Ledger
from ledger.integrity import merkle
from ledger.integrity.receipts import EntryReceipt, receipt_signature, recorded_at_of
from tests.conftest import SIGNER, Clock, LedgerFactory
from tests.programme import issue, register
from tests.tampering import SIZE, Raw, assert_found, ledger, raw

__all__ = ["ledger", "raw"]  # fixtures, used by name


def test_a_stored_event_written_again_out_of_log_order_is_found_at_its_entry(
    ledger: Ledger, raw: Raw
) -> None:
    condition, *key = raw.event(21)
    ((topic, state),) = raw.run(f"SELECT topic, state FROM {{events}} WHERE {condition}", *key)

    raw.run(f"DELETE FROM {{events}} WHERE {condition}", *key)
    raw.run(
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "VALUES (?, ?, ?, ?)",
        *key,
        topic,
        bytes(state),
    )

    assert_found(ledger, 21, "an entry and the stored events disagree")


def test_a_log_row_moved_to_another_aggregate_is_found_as_not_its_entrys(
    ledger: Ledger, raw: Raw
) -> None:
    raw.run("UPDATE {log} SET aggregate_id = ? WHERE log_index = 21", str(uuid4()))

    assert_found(ledger, 21, "the entry's origin, aggregate or version is not its row's")


def test_a_version_renumbered_past_a_gap_in_the_chain_is_found_as_a_skipped_version(
    ledger: Ledger, raw: Raw
) -> None:
    last = SIZE - 2  # the inspection, version 3, of the last item (then the map root)
    condition, *key = raw.event(last)
    ((aggregate_id, entry),) = raw.run(
        "SELECT aggregate_id, entry FROM {log} WHERE log_index = ?", last
    )
    renumbered = bytes(entry).replace(b'"aggregate_version":3,', b'"aggregate_version":4,')
    assert b'"type":"custody:Item.Inspected"' in renumbered and renumbered != bytes(entry)

    raw.run(f"UPDATE {{events}} SET originator_version = 4 WHERE {condition}", *key)
    raw.run(
        "UPDATE {log} SET aggregate_version = 4, entry = ?, leaf_hash = ? WHERE log_index = ?",
        renumbered,
        merkle.leaf_hash(renumbered),
        last,
    )

    assert_found(ledger, last, f"aggregate {aggregate_id} skips a version")


def without_unique_keys(path: str) -> None:
    """Rebuild the log and events tables without their unique (aggregate, version) keys, as
    someone with the database file can; rows keep their order."""
    with sqlite3.connect(path) as conn:
        for table in ("custody_log", "stored_events"):
            (create,) = conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()
            loose = create.replace(", UNIQUE (aggregate_id, aggregate_version)", "").replace(
                ", PRIMARY KEY (originator_id, originator_version)", ""
            )
            assert loose != create
            conn.execute(f"ALTER TABLE {table} RENAME TO old_{table}")
            conn.execute(loose)
            conn.execute(f"INSERT INTO {table} SELECT * FROM old_{table} ORDER BY rowid")
            conn.execute(f"DROP TABLE old_{table}")


def test_an_entry_repeated_with_its_event_after_the_last_checkpoint_is_found(
    make_ledger: LedgerFactory, clock: Clock, sqlite_url: str
) -> None:
    ledger = make_ledger(sqlite_url)
    register(ledger)
    item = issue(ledger, "REPEAT-0001")
    ledger.tlog.checkpoint()
    size = ledger.log_store.log_size()
    index = ledger.history(item)[-1].log_index  # the item's entry; the map root follows it
    path = sqlite_url.removeprefix("sqlite:///")
    without_unique_keys(path)
    repeated = ledger.tlog.log_entries(index, index + 1)[0]
    nodes = merkle.nodes_to_append(size, [repeated.leaf_hash], ledger.log_store)
    at = EntryReceipt(ledger.origin, size, repeated.leaf_hash, recorded_at_of(repeated.entry))
    receipt = receipt_signature(at, SIGNER)  # by the operator, who holds the log key
    with sqlite3.connect(path) as conn:  # the same entry and event once more, tree and all
        conn.execute(
            "INSERT INTO custody_log SELECT ?, aggregate_id, aggregate_version, leaf_hash, entry, "
            "? FROM custody_log WHERE log_index = ?",
            (size, receipt, index),
        )
        conn.execute(
            "INSERT INTO stored_events SELECT * FROM stored_events WHERE originator_id = ?",
            (repeated.aggregate_id.hex,),
        )
        conn.executemany("INSERT INTO custody_tree (level, idx, hash) VALUES (?, ?, ?)", nodes)

    assert_found(
        ledger, size + 1, "the store has the wrong number of distinct (aggregate, version)"
    )


def test_an_aggregate_id_written_in_capitals_in_its_log_row_is_found(
    ledger: Ledger, raw: Raw
) -> None:
    ((aggregate_id,),) = raw.run("SELECT aggregate_id FROM {log} WHERE log_index = 20")
    at = next(n for n, c in enumerate(aggregate_id) if c in "abcdef")
    capital = aggregate_id[:at] + aggregate_id[at].upper() + aggregate_id[at + 1 :]
    assert UUID(capital) == UUID(aggregate_id)  # the same id, written otherwise: one byte

    raw.run("UPDATE {log} SET aggregate_id = ? WHERE log_index = 20", capital)

    assert_found(ledger, 20, "the entry's origin, aggregate or version is not its row's")
