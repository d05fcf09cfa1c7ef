"""Receipts on a real store (SQLite, then PostgreSQL): every write answers one signed by the log
key, the store keeps it, and `custody verify` catches whoever appends or rewrites an entry with
the Ledger's own code but without the log key."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from ledger.application.ledger import Ledger
from ledger.domain.errors import CustodyError, IntegrityFailure
from ledger.integrity.receipts import verify_receipt
from tests.conftest import SIGNER, Clock, LedgerFactory
from tests.programme import ADMIN, ago, issue, register
from tests.tampering import SIZE, Raw, build, delete_entries_from, forger


def test_every_write_answers_a_receipt_of_its_leaf_signed_by_the_log_key(
    store_ledger: Ledger,
) -> None:
    register(store_ledger)
    item = issue(store_ledger)

    recorded = store_ledger.transfer(
        item, to="unit-2", occurred_at=ago(store_ledger, days=1), actor=ADMIN
    )

    receipt = verify_receipt(recorded.receipt, SIGNER.verifier)
    (row,) = store_ledger.tlog.log_entries(recorded.log_index, recorded.log_index + 1)
    assert (receipt.origin, receipt.log_index) == (store_ledger.origin, recorded.log_index)
    assert receipt.leaf_hash == row.leaf_hash
    assert f'"recorded_at":"{receipt.recorded_at}"'.encode() in row.entry
    assert store_ledger.tlog.receipt(recorded.log_index) == recorded.receipt


def test_the_receipt_of_any_entry_is_rebuilt_from_the_store(store_ledger: Ledger) -> None:
    register(store_ledger)

    receipts = [store_ledger.tlog.receipt(i) for i in range(store_ledger.log_store.log_size())]

    assert [verify_receipt(r, SIGNER.verifier).log_index for r in receipts] == list(
        range(len(receipts))
    )
    with pytest.raises(CustodyError, match="log entry 99 not found"):
        store_ledger.tlog.receipt(99)


def test_a_ledger_opened_without_its_key_records_nothing_and_says_why(
    make_ledger: LedgerFactory, db_url: str
) -> None:
    keyless = make_ledger(db_url, signer=None)

    with pytest.raises(CustodyError, match="without its signing key .* nothing was recorded"):
        keyless.bootstrap()

    assert keyless.log_store.log_size() == 0
    assert keyless.log_store.count_events() == 0


def test_a_key_given_later_signs_the_receipts_from_then_on(
    make_ledger: LedgerFactory, db_url: str
) -> None:
    ledger = make_ledger(db_url, signer=None)

    ledger.tlog.signer = SIGNER  # as `custody init` may
    ledger.bootstrap()

    assert ledger.tlog.verify(SIGNER.verifier).entries == ledger.log_store.log_size() > 0


@pytest.fixture
def tampered(db_url: str, clock: Clock) -> Iterator[tuple[Ledger, Ledger, Raw]]:
    """The tamper suite's store, and a Ledger on it with another key of the same name: someone
    with write access to the database and the Ledger's code, but not the log key."""
    ledger, forged, raw = build(db_url, clock), forger(db_url, clock), Raw(db_url)
    yield ledger, forged, raw
    raw.close()
    forged.close()
    ledger.close()


def assert_refused_at(ledger: Ledger, position: int, reason: str) -> None:
    """`verify` fails at `position`, for `reason`."""
    with pytest.raises(IntegrityFailure, match=re.escape(reason)) as caught:
        ledger.tlog.verify(ledger.tlog.verifier())
    assert (caught.value.position, caught.value.reason) == (position, reason)


def test_verify_names_an_admin_token_forged_with_the_ledgers_code_without_the_log_key(
    tampered: tuple[Ledger, Ledger, Raw],
) -> None:
    ledger, forger, _ = tampered

    _, forged = forger.grant_token(party="operator", role="admin", actor=ADMIN)

    assert forged.log_index == SIZE
    assert_refused_at(ledger, SIZE, "the entry's receipt does not verify")


def test_verify_names_a_recovery_forged_with_the_ledgers_code_without_the_log_key(
    tampered: tuple[Ledger, Ledger, Raw],
) -> None:
    ledger, forger, _ = tampered
    item = next(ledger.item_ids())
    ledger.report_lost(item, circumstances="stolen", occurred_at=ago(ledger, days=2), actor=ADMIN)

    forged = forger.recover(item, by="unit-1", occurred_at=ago(ledger, days=1), actor=ADMIN)

    assert_refused_at(ledger, forged.log_index, "the entry's receipt does not verify")


def test_verify_names_the_last_entry_rewritten_with_chain_and_tree_recomputed(
    tampered: tuple[Ledger, Ledger, Raw],
) -> None:
    ledger, forger, raw = tampered
    item = next(ledger.item_ids())
    lost = ledger.report_lost(
        item, circumstances="stolen", occurred_at=ago(ledger, days=2), actor=ADMIN
    )
    delete_entries_from(raw, lost.log_index)  # the loss report goes ...

    inspected = forger.inspect(  # ... and a clean inspection takes its place
        item, result="verified", method="physical", occurred_at=ago(ledger, days=1), actor=ADMIN
    )

    assert inspected.log_index == lost.log_index
    assert_refused_at(ledger, lost.log_index, "the entry's receipt does not verify")


def test_a_receipt_deleted_from_its_row_is_named_as_missing(
    tampered: tuple[Ledger, Ledger, Raw],
) -> None:
    ledger, _, raw = tampered
    raw.run("UPDATE {log} SET receipt = ? WHERE log_index = 5", b"")

    assert_refused_at(ledger, 5, "the entry's receipt is malformed")
