"""`custody receipts check`'s code (ledger/verification/receipt_check.py) on a real store, SQLite
then
PostgreSQL: a kept receipt is proved included, or its contradiction is written down so that a third
party can check it offline with the log key alone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from ledger.application.ledger import Ledger
from ledger.domain.errors import ProofError
from ledger.integrity.receipts import verify_receipt
from ledger.verification.client_state import ClientState
from ledger.verification.misbehaviour import check_misbehaviour, load_misbehaviour
from ledger.verification.receipt_check import ReceiptResult, ReceiptSource, check_receipts
from tests.conftest import Clock
from tests.programme import ADMIN, ago
from tests.tampering import build, rewritten_from

DAY = timedelta(days=1)


@dataclass
class Client:
    """The log, and a client that kept its checkpoint and then the receipt of a loss report."""

    ledger: Ledger
    state: ClientState
    item: object
    lost_at: int

    def check(self, source: ReceiptSource | None = None, later: timedelta = DAY) -> ReceiptResult:
        key = self.ledger.tlog.verifier()
        checkpoint = self.state.accept_checkpoint(
            self.ledger.tlog.checkpoint(),
            key,
            self.ledger.tlog.consistency_proof,
            now=self.ledger.clock(),
        )
        note = self.state.checkpoint(key.name) or ""
        (result,) = check_receipts(
            self.state,
            key,
            checkpoint,
            note,
            source or ReceiptSource(self.entry, self.ledger.tlog.inclusion_proof),
            now=self.ledger.clock() + later,
            max_delay=DAY,
        )
        return result

    def entry(self, index: int) -> bytes | None:
        rows = self.ledger.tlog.log_entries(index, index + 1)
        return rows[0].entry if rows else None


@pytest.fixture
def client(db_url: str, clock: Clock, tmp_path: Path) -> Iterator[Client]:
    ledger = build(db_url, clock)
    state = ClientState(tmp_path / "state")
    key = ledger.tlog.verifier()
    state.trust_log_key(key)
    state.accept_checkpoint(
        ledger.tlog.checkpoint(), key, ledger.tlog.consistency_proof, now=clock()
    )
    item = next(ledger.item_ids())
    lost = ledger.report_lost(
        item, circumstances="stolen", occurred_at=ago(ledger, days=2), actor=ADMIN
    )
    state.keep_receipt(lost.receipt, key, now=clock())
    yield Client(ledger, state, item, lost.log_index)
    ledger.close()


def test_a_kept_receipt_is_proved_included_in_the_current_checkpoint(client: Client) -> None:
    result = client.check()

    assert (result.log_index, result.status, result.failed) == (client.lost_at, "included", False)


def test_a_receipt_whose_entry_was_rewritten_leaves_a_file_that_proves_it_offline(
    client: Client, db_url: str
) -> None:
    forger = rewritten_from(db_url, client.lost_at, client.ledger.clock)
    forger.inspect(  # a clean inspection where the loss report was
        client.item,
        result="verified",
        method="physical",
        occurred_at=ago(forger, days=1),
        actor=ADMIN,
    )
    forger.close()

    result = client.check()

    assert (result.status, result.failed) == ("contradicted", True)
    assert result.misbehaviour is not None
    record = load_misbehaviour(result.misbehaviour.read_bytes())
    finding = check_misbehaviour(record, client.ledger.tlog.verifier())
    assert (finding.kind, finding.conclusive) == ("receipt-contradicted", True)
    promised = verify_receipt(record["receipt"], client.ledger.tlog.verifier()).leaf_hash.hex()
    assert f"receipt for leaf {promised} at index {client.lost_at}" in finding.statement


def test_a_contradiction_file_with_one_byte_of_its_entry_changed_is_refused(
    client: Client, db_url: str
) -> None:
    forger = rewritten_from(db_url, client.lost_at, client.ledger.clock)
    forger.transfer(client.item, to="unit-3", occurred_at=ago(forger, days=1), actor=ADMIN)
    forger.close()
    result = client.check()
    assert result.misbehaviour is not None
    record = load_misbehaviour(result.misbehaviour.read_bytes())
    entry = record["entry"]
    record["entry"] = entry[:10] + ("A" if entry[10] != "A" else "B") + entry[11:]

    with pytest.raises(ProofError, match="the inclusion proof leads to another root"):
        check_misbehaviour(record, client.ledger.tlog.verifier())


def test_a_receipt_beyond_the_checkpoint_is_pending_until_the_merge_delay_then_reported(
    client: Client,
) -> None:
    key = client.ledger.tlog.verifier()
    kept = client.state.checkpoint(key.name) or ""
    checkpoint = client.state.accept_checkpoint(
        kept, key, client.ledger.tlog.consistency_proof, now=client.ledger.clock()
    )
    source = ReceiptSource(client.entry, client.ledger.tlog.inclusion_proof)

    def at(later: timedelta) -> ReceiptResult:
        (result,) = check_receipts(
            client.state,
            key,
            checkpoint,
            kept,
            source,
            now=client.ledger.clock() + later,
            max_delay=DAY,
        )
        return result

    early, late = at(timedelta(hours=1)), at(2 * DAY)

    assert (early.status, early.failed) == ("pending", False)
    assert (late.status, late.failed) == ("late", True)
    assert late.misbehaviour is not None
    finding = check_misbehaviour(load_misbehaviour(late.misbehaviour.read_bytes()), key)
    assert (finding.kind, finding.conclusive) == ("receipt-unincorporated", False)


def test_a_log_that_serves_no_entry_where_its_checkpoint_covers_a_receipt_is_reported(
    client: Client,
) -> None:
    source = ReceiptSource(lambda _: None, lambda index, size: [])

    result = client.check(source)

    assert (result.status, result.failed) == ("unserved", True)
    assert result.misbehaviour is not None
    finding = check_misbehaviour(
        load_misbehaviour(result.misbehaviour.read_bytes()), client.ledger.tlog.verifier()
    )
    assert (finding.kind, finding.conclusive) == ("receipt-unserved", False)
