"""The tamper suite against an insider (issue 13): someone with write access to the database and
the log's key rewrites the store consistently, every chain link, leaf, tree node, map root and
checkpoint recomputed (tests/insider.py). Each test names the check that catches the rewrite:

- the map roots (`custody verify`, step 6) when the rewrite leaves a committed map root behind
  (the insider's `custody restore` of the rewrite runs those checks and refuses it);
- a trusted checkpoint kept outside the store (`custody verify --trusted`, a witness's or a
  client's copy) when it recomputes everything;
- a receipt the writer kept (`custody receipts check`), whoever else kept a checkpoint or not;
- the stored receipts (`custody verify`, step 5) when someone without the log key appends or
  rewrites, even through the Ledger's own code;

on SQLite and PostgreSQL. The log: the programme (tests/programme.py), then three items, each
issued, transferred and inspected, a checkpoint after each item, then item 3 reported lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

from ledger.application.ledger import Ledger
from ledger.domain.errors import IntegrityFailure
from ledger.integrity.checkpoints import Checkpoint, verify_checkpoint
from ledger.integrity.signing import Signer, generate_signer_key
from ledger.verification.client_state import ClientState
from ledger.verification.misbehaviour import check_misbehaviour, load_misbehaviour
from ledger.verification.receipt_check import ReceiptSource, check_receipts
from tests.conftest import SIGNER, Clock, LedgerFactory, fresh_schema
from tests.insider import Rewrite, restore_into
from tests.programme import ADMIN, ago, issue, issue_transfer_inspect, register
from tests.verifying import verify_each_way


@pytest.fixture
def copy_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty store of the same kind as db_url, for the insider's rewritten copy."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'rewritten.db'}"
        return
    with fresh_schema() as url:
        yield url


@pytest.fixture
def honest(make_ledger: LedgerFactory, db_url: str, clock: Clock) -> tuple[Ledger, list[UUID]]:
    ledger = make_ledger(db_url)
    register(ledger)
    items = []
    for n in range(3):
        item = issue_transfer_inspect(ledger, f"INS-{n:04d}")
        ledger.tlog.checkpoint()
        clock.advance(minutes=5)
        items.append(item)
    ledger.report_lost(
        items[2], circumstances="stolen", occurred_at=ago(ledger, days=1), actor=ADMIN
    )
    ledger.tlog.checkpoint()
    return ledger, items


def rewritten(
    honest: Ledger, make_ledger: LedgerFactory, copy_url: str, change: object, **options: bool
) -> Ledger:
    rewrite = Rewrite.of(honest, SIGNER)
    assert callable(change)
    change(rewrite)
    return restore_into(make_ledger(copy_url), rewrite.backup(**options), SIGNER)


def trusted(note: str) -> list[Checkpoint]:
    return [verify_checkpoint(note, SIGNER.verifier)]


def test_a_rewrite_that_recomputes_everything_verifies_on_its_own(
    honest: tuple[Ledger, list[UUID]], make_ledger: LedgerFactory, copy_url: str
) -> None:
    # Why the checks below must come from outside the store: alone, it says intact.
    ledger, items = honest
    loss = ledger.log_store.log_indexes_of(items[2])[4]

    def change(rewrite: Rewrite) -> None:
        rewrite.change(loss, circumstances="destroyed_in_action")

    copy = rewritten(ledger, make_ledger, copy_url, change)

    assert copy.tlog.verify(SIGNER.verifier).entries == ledger.log_store.log_size()
    assert copy.item(items[2]).status.value == "lost"


def test_an_items_newest_entry_rewritten_behind_a_map_root_is_caught_by_the_map_roots(
    honest: tuple[Ledger, list[UUID]], make_ledger: LedgerFactory, copy_url: str
) -> None:
    # Item 1's inspection turned into a failed one, chain, tree and checkpoints recomputed; the
    # map root committed after it still holds the inspection's old leaf hash as item 1's head.
    ledger, items = honest
    inspection = ledger.log_store.log_indexes_of(items[0])[3]
    map_root = inspection + 1

    with pytest.raises(
        IntegrityFailure, match="is not the map of heads of the entries before it"
    ) as caught:  # restoring it runs verify
        rewritten(
            ledger,
            make_ledger,
            copy_url,
            lambda rewrite: rewrite.change(inspection, result="not_presented"),
            map_roots=False,
        )

    assert caught.value.message.startswith(
        f"the map root at entry {map_root} is not the map of heads of the entries before it"
    )


def test_an_items_newest_entry_deleted_behind_a_map_root_is_caught_by_the_map_roots(
    honest: tuple[Ledger, list[UUID]], make_ledger: LedgerFactory, copy_url: str
) -> None:
    ledger, items = honest
    inspection = ledger.log_store.log_indexes_of(items[0])[3]

    with pytest.raises(
        IntegrityFailure, match="a map root does not cover exactly the entries before it"
    ) as caught:  # restoring it runs verify
        rewritten(
            ledger, make_ledger, copy_url, lambda rewrite: rewrite.drop(inspection), map_roots=False
        )

    assert caught.value.message.startswith(
        f"a map root does not cover exactly the entries before it at position {inspection}"
    )


@pytest.mark.parametrize("how", ["rewrite", "delete", "reorder"])
def test_the_newest_entries_rewritten_with_everything_recomputed_are_caught_by_a_trusted_checkpoint(
    honest: tuple[Ledger, list[UUID]], make_ledger: LedgerFactory, copy_url: str, how: str
) -> None:
    ledger, items = honest
    kept = ledger.tlog.checkpoint()  # what a witness or a client kept
    loss = ledger.log_store.log_indexes_of(items[2])[4]

    def change(rewrite: Rewrite) -> None:
        if how == "rewrite":
            rewrite.change(loss, circumstances="destroyed_in_action")
        elif how == "delete":
            rewrite.drop(loss)
        else:
            rewrite.swap(loss - 1, loss)  # the loss before the map root that preceded it

    copy = rewritten(ledger, make_ledger, copy_url, change)
    copy.tlog.verify(SIGNER.verifier)  # intact on its own

    with pytest.raises(
        IntegrityFailure, match="it was rewritten|it was rolled back or truncated"
    ) as caught:  # custody verify --trusted
        verify_each_way(copy, SIGNER.verifier, trusted=trusted(kept))
    assert "rewritten" in caught.value.message or "shorter" in caught.value.message


def test_a_rollback_with_the_newer_checkpoints_deleted_is_caught_by_a_trusted_checkpoint(
    honest: tuple[Ledger, list[UUID]], make_ledger: LedgerFactory, copy_url: str
) -> None:
    ledger, items = honest
    kept = ledger.tlog.checkpoint()
    before_loss = ledger.log_store.log_indexes_of(items[2])[4]

    copy = rewritten(ledger, make_ledger, copy_url, lambda rewrite: rewrite.truncate(before_loss))
    copy.tlog.verify(SIGNER.verifier)  # intact on its own

    with pytest.raises(IntegrityFailure, match="shorter than a trusted checkpoint"):
        verify_each_way(copy, SIGNER.verifier, trusted=trusted(kept))  # custody verify --trusted


def test_a_rewritten_entry_is_caught_by_the_receipt_its_writer_kept(
    make_ledger: LedgerFactory, db_url: str, copy_url: str, tmp_path: Path, clock: Clock
) -> None:
    # The writer of the loss kept only its receipt, no checkpoint. The insider turns the theft
    # into "destroyed in action", recomputes everything, and the server signs the result.
    ledger = make_ledger(db_url)
    register(ledger)
    item = issue(ledger, "RCP-0001")
    ledger.tlog.checkpoint()
    recorded = ledger.report_lost(
        item, circumstances="stolen", occurred_at=ago(ledger, days=1), actor=ADMIN
    )
    state = ClientState(tmp_path / "state")
    state.keep_receipt(recorded.receipt, SIGNER.verifier, now=clock())
    ledger.tlog.checkpoint()

    def change(rewrite: Rewrite) -> None:
        rewrite.change(recorded.log_index, circumstances="destroyed_in_action")

    copy = rewritten(ledger, make_ledger, copy_url, change)
    note = copy.tlog.checkpoint()
    results = check_receipts(
        state,
        SIGNER.verifier,
        verify_checkpoint(note, SIGNER.verifier),
        note,
        ReceiptSource(
            entry=lambda i: copy.tlog.log_entries(i, i + 1)[0].entry,
            inclusion=copy.tlog.inclusion_proof,
        ),
        now=clock(),
        max_delay=timedelta(days=1),
    )

    (result,) = results
    assert (result.log_index, result.status) == (recorded.log_index, "contradicted")
    assert result.misbehaviour is not None
    finding = check_misbehaviour(
        load_misbehaviour(result.misbehaviour.read_bytes()), SIGNER.verifier
    )
    assert (finding.kind, finding.conclusive) == ("receipt-contradicted", True)


@pytest.mark.parametrize("forged", ["recovery", "admin token"])
def test_an_event_appended_with_the_ledgers_code_but_without_its_key_is_caught_by_the_receipts(
    honest: tuple[Ledger, list[UUID]], make_ledger: LedgerFactory, db_url: str, forged: str
) -> None:
    # Database access, not the key: the insider opens the store with a key of its own.
    ledger, items = honest
    own_key = Signer.from_text(generate_signer_key(SIGNER.name))
    insider = make_ledger(db_url, signer=own_key)
    if forged == "recovery":
        index = insider.recover(
            items[2], by="unit-2", occurred_at=ago(insider, hours=1), actor=ADMIN
        ).log_index
    else:
        index = insider.grant_token(party="operator", role="admin", actor=ADMIN)[1].log_index

    with pytest.raises(IntegrityFailure, match="the entry's receipt does not verify") as caught:
        verify_each_way(ledger, SIGNER.verifier)  # custody verify, step 5
    assert caught.value.position == index
    assert caught.value.message.startswith("the entry's receipt does not verify")
