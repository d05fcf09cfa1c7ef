"""The log's public face for its size and its latest checkpoint (`Ledger.tlog`): what the CLI and
the server's checkpoint clock read instead of the store behind it."""

from __future__ import annotations

from ledger.application.ledger import Ledger
from ledger.integrity.checkpoints import verify_checkpoint
from tests.conftest import SIGNER, LedgerFactory
from tests.programme import issue, register


def test_the_log_answers_its_size_and_its_latest_checkpoint_without_signing_one(
    make_ledger: LedgerFactory, sqlite_url: str
) -> None:
    ledger: Ledger = make_ledger(sqlite_url)
    register(ledger)
    issue(ledger)
    grown = ledger.tlog.size()

    assert grown == ledger.log_store.log_size() > 0
    assert ledger.tlog.latest_checkpoint() is None  # reading it signs none

    note = ledger.tlog.checkpoint()
    signed = verify_checkpoint(note, SIGNER.verifier)

    assert ledger.tlog.latest_checkpoint() == (signed.size, note)
    assert ledger.tlog.size() == signed.size == grown + 1  # the map root the checkpoint commits
    issue(ledger, "NEXT-1")
    assert ledger.tlog.size() == signed.size + 1
    assert ledger.tlog.latest_checkpoint() == (signed.size, note)
