"""Checkpoints: signed on demand, kept by size, and never signed over an inconsistent store."""

from __future__ import annotations

import sqlite3

import pytest

from ledger.application.ledger import Ledger
from ledger.domain.errors import CustodyError, IntegrityFailure
from ledger.integrity import merkle
from ledger.integrity.checkpoints import verify_checkpoint
from ledger.integrity.maproots import MAP_ID
from tests.conftest import SIGNER, LedgerFactory
from tests.programme import ADMIN, ago, issue, register


@pytest.fixture
def ledger(make_ledger: LedgerFactory, sqlite_url: str) -> Ledger:
    ledger = make_ledger(sqlite_url)
    register(ledger)
    issue(ledger)
    return ledger


def tree_rows(sqlite_url: str) -> sqlite3.Connection:
    return sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))


def test_a_checkpoint_covers_the_whole_log_and_is_not_signed_again_until_it_grows(
    ledger: Ledger,
) -> None:
    first = ledger.tlog.checkpoint()

    checkpoint = verify_checkpoint(first, SIGNER.verifier)
    assert checkpoint.size == ledger.log_store.log_size()
    assert last_map_root(ledger, checkpoint.size) == checkpoint.size - 1
    assert checkpoint.root_hash == ledger.tlog.root(checkpoint.size)
    assert ledger.tlog.checkpoint() == first
    item = issue(ledger, "NEXT-1")
    grown = verify_checkpoint(ledger.tlog.checkpoint(), SIGNER.verifier)
    # The new entry, then the map root committed before signing: the checkpoint ends with it.
    assert ledger.history(item)[-1].log_index == checkpoint.size
    assert grown.size == ledger.log_store.log_size() == checkpoint.size + 2
    assert last_map_root(ledger, grown.size) == grown.size - 1


def last_map_root(ledger: Ledger, size: int) -> int | None:
    """The log index of the newest map-root entry among the first `size` entries."""
    entry = ledger.log_store.last_entry_of(MAP_ID, size)
    return None if entry is None else entry.log_index


def test_proofs_between_checkpoints_verify_against_their_signed_roots(ledger: Ledger) -> None:
    old = verify_checkpoint(ledger.tlog.checkpoint(), SIGNER.verifier)
    item = issue(ledger, "NEXT-1")
    ledger.transfer(item, to="unit-2", occurred_at=ago(ledger, days=1), actor=ADMIN)
    new = verify_checkpoint(ledger.tlog.checkpoint(), SIGNER.verifier)
    last = ledger.history(item)[-1]

    merkle.verify_inclusion(
        last.leaf_hash,
        last.log_index,
        new.size,
        ledger.tlog.inclusion_proof(last.log_index, new.size),
        new.root_hash,
    )
    merkle.verify_consistency(
        old.size,
        new.size,
        ledger.tlog.consistency_proof(old.size, new.size),
        old.root_hash,
        new.root_hash,
    )


def test_the_ledger_refuses_to_sign_a_checkpoint_over_a_tampered_tree(
    ledger: Ledger, sqlite_url: str
) -> None:
    size = verify_checkpoint(ledger.tlog.checkpoint(), SIGNER.verifier).size
    issue(ledger, "NEXT-1")
    largest_subtree = size.bit_length() - 1  # read by every root from here on
    with tree_rows(sqlite_url) as db:
        db.execute(
            "UPDATE custody_tree SET hash = zeroblob(32) WHERE level = ? AND idx = 0",
            (largest_subtree,),
        )
    kept = ledger.log_store.all_checkpoints()

    with pytest.raises(IntegrityFailure, match="the consistency proof leads to another old root"):
        ledger.tlog.checkpoint()

    assert ledger.log_store.all_checkpoints() == kept


def test_the_ledger_refuses_to_sign_when_the_log_is_shorter_than_its_last_checkpoint(
    ledger: Ledger, sqlite_url: str
) -> None:
    size = verify_checkpoint(ledger.tlog.checkpoint(), SIGNER.verifier).size
    with tree_rows(sqlite_url) as db:
        db.execute("DELETE FROM custody_log WHERE log_index = ?", (size - 1,))

    with pytest.raises(IntegrityFailure, match="shorter than its last checkpoint"):
        ledger.tlog.checkpoint()


def test_without_its_key_the_ledger_says_so_instead_of_signing(
    make_ledger: LedgerFactory, sqlite_url: str
) -> None:
    keyless = make_ledger(sqlite_url, signer=None)

    with pytest.raises(CustodyError, match="without its signing key"):
        keyless.tlog.checkpoint()
