"""What a client remembers (ledger/verification/client_state.py): where, with which modes, and the
check of every
checkpoint it sees against the one it kept; and the offline check of the misbehaviour files it
writes (ledger/verification/misbehaviour.py)."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger.application.ledger import Ledger
from ledger.domain.errors import InvalidInput, ProofError
from ledger.integrity.signing import Signer, generate_signer_key
from ledger.verification.client_state import ClientState, max_merge_delay, state_dir
from ledger.verification.misbehaviour import Finding, check_misbehaviour, load_misbehaviour
from tests.conftest import SIGNER, LedgerFactory
from tests.programme import ADMIN, issue, register

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
KEY = SIGNER.verifier


def test_the_state_folder_is_custody_state_else_xdg_state_home_else_the_home_default() -> None:
    assert state_dir({"CUSTODY_STATE": "/s", "XDG_STATE_HOME": "/x"}) == Path("/s")
    assert state_dir({"XDG_STATE_HOME": "/x"}) == Path("/x/custody")
    assert state_dir({}) == Path.home() / ".local" / "state" / "custody"


def test_the_maximum_merge_delay_is_a_day_unless_custody_mmd_says_otherwise() -> None:
    assert max_merge_delay({}) == timedelta(days=1)
    assert max_merge_delay({"CUSTODY_MMD": "60"}) == timedelta(seconds=60)
    with pytest.raises(InvalidInput, match="CUSTODY_MMD must be a whole number of seconds"):
        max_merge_delay({"CUSTODY_MMD": "1h"})


@pytest.fixture
def state(tmp_path: Path) -> ClientState:
    return ClientState(tmp_path / "state" / "custody")


@pytest.fixture
def log(make_ledger: LedgerFactory) -> Ledger:
    ledger = make_ledger("sqlite:///:memory:")
    register(ledger)
    return ledger


def accept(state: ClientState, ledger: Ledger, note: str | None = None) -> int:
    return state.accept_checkpoint(
        note or ledger.tlog.checkpoint(), KEY, ledger.tlog.consistency_proof, now=NOW
    ).size


def misbehaviour_files(state: ClientState) -> list[Path]:
    return sorted(state.root.glob("logs/*/misbehaviour/*.json"))


def proven(state: ClientState) -> Finding:
    """What the one misbehaviour file the client wrote proves, checked offline."""
    (path,) = misbehaviour_files(state)
    return check_misbehaviour(load_misbehaviour(path.read_bytes()), KEY)


@pytest.fixture
def diverged(make_ledger: LedgerFactory) -> tuple[Ledger, Ledger]:
    """Two stores sharing the log key, each with the programme written: the bootstrap's admin
    token differs, so their logs diverge at once."""
    ours, theirs = make_ledger("sqlite:///:memory:"), make_ledger("sqlite:///:memory:")
    register(ours)
    register(theirs)
    return ours, theirs


def test_state_files_are_0600_in_0700_folders_and_no_temporary_file_is_left(
    state: ClientState, log: Ledger
) -> None:
    state.trust_log_key(KEY)
    accept(state, log)
    recorded = log.register_party(party_id="p-1", name="P", kind="recipient", actor=ADMIN)
    state.keep_receipt(recorded.receipt, KEY, now=NOW)

    files = [p for p in state.root.rglob("*") if p.is_file()]
    folders = [state.root, *(p for p in state.root.rglob("*") if p.is_dir())]
    assert sorted(p.name for p in files) == [f"{recorded.log_index}.note", "checkpoint", "vkey"]
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
    assert {stat.S_IMODE(p.stat().st_mode) for p in folders} == {0o700}
    assert (state.root / "logs" / "localhost%2Fcustody" / "vkey").read_text() == KEY.vkey + "\n"


def test_the_kept_log_key_is_never_silently_replaced(state: ClientState) -> None:
    other = Signer.from_text(generate_signer_key("localhost/custody")).verifier

    first, again = state.trust_log_key(KEY), state.trust_log_key(KEY)

    assert (first, again) == (True, False)
    with pytest.raises(ProofError, match="now shows another key than the one this client keeps"):
        state.trust_log_key(other)
    assert state.log_key("localhost/custody") == KEY


def test_a_growing_log_is_accepted_with_its_consistency_proof_and_kept(
    state: ClientState, log: Ledger
) -> None:
    first = accept(state, log)
    issue(log)

    second = accept(state, log)

    assert second > first
    assert state.checkpoint("localhost/custody") == log.tlog.checkpoint()
    assert misbehaviour_files(state) == []


def test_a_rollback_is_refused_and_both_notes_go_to_a_misbehaviour_file(
    state: ClientState, log: Ledger
) -> None:
    older = log.tlog.checkpoint()
    issue(log)
    newer = log.tlog.checkpoint()
    accept(state, log, newer)

    with pytest.raises(ProofError, match=r"inconsistent with the checkpoint .* \(rollback\)"):
        accept(state, log, older)

    (path,) = misbehaviour_files(state)
    record = json.loads(path.read_text())
    assert (record["kind"], record["checkpoints"]) == ("rollback", [newer, older])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert state.checkpoint("localhost/custody") == newer  # the kept one stays
    finding = proven(state)
    assert (finding.kind, finding.conclusive) == ("rollback", False)


def test_two_stores_sharing_a_key_diverging_are_a_fork_the_file_proves_offline(
    state: ClientState, diverged: tuple[Ledger, Ledger]
) -> None:
    ours, theirs = diverged
    accept(state, ours)

    with pytest.raises(ProofError, match=r"\(fork\)"):
        accept(state, theirs)

    finding = proven(state)
    assert (finding.kind, finding.conclusive) == ("fork", True)
    assert "signed two different trees of size" in finding.statement


def test_a_larger_tree_of_a_diverged_store_is_inconsistent_with_the_proof_it_serves(
    state: ClientState, diverged: tuple[Ledger, Ledger]
) -> None:
    ours, theirs = diverged
    issue(theirs)
    accept(state, ours)

    with pytest.raises(ProofError, match=r"\(inconsistent\)"):
        accept(state, theirs)

    (path,) = misbehaviour_files(state)
    record = load_misbehaviour(path.read_bytes())
    assert record["consistency_proof"]
    finding = check_misbehaviour(record, KEY)
    assert (finding.kind, finding.conclusive) == ("inconsistent", False)


def test_a_checkpoint_by_another_key_is_refused_without_touching_the_state(
    state: ClientState, log: Ledger
) -> None:
    stranger = Signer.from_text(generate_signer_key("localhost/custody"))

    with pytest.raises(ProofError, match="note is not signed by any known key"):
        state.accept_checkpoint(
            log.tlog.checkpoint(), stranger.verifier, log.tlog.consistency_proof, now=NOW
        )

    assert not state.root.exists()


def test_two_receipts_for_one_index_are_a_conflict_the_file_proves_offline(
    state: ClientState, diverged: tuple[Ledger, Ledger]
) -> None:
    ours, theirs = diverged
    state.keep_receipt(ours.tlog.receipt(1), KEY, now=NOW)  # 1: the bootstrap's admin token

    with pytest.raises(ProofError, match="the log signed two receipts for index 1"):
        state.keep_receipt(theirs.tlog.receipt(1), KEY, now=NOW)

    finding = proven(state)
    assert (finding.kind, finding.conclusive) == ("receipts-conflict", True)


def test_a_misbehaviour_file_with_one_byte_changed_or_of_another_log_proves_nothing(
    state: ClientState, diverged: tuple[Ledger, Ledger]
) -> None:
    ours, theirs = diverged
    accept(state, ours)
    with pytest.raises(
        ProofError, match=r"is inconsistent with the checkpoint this client kept \(fork\)"
    ):
        accept(state, theirs)
    (path,) = misbehaviour_files(state)
    record = load_misbehaviour(path.read_bytes())
    first = record["checkpoints"][0]
    root_line = first.split("\n")[2]
    changed = root_line[:-2] + ("A" if root_line[-2] != "A" else "B") + root_line[-1]
    record["checkpoints"][0] = first.replace(root_line, changed)
    stranger = Signer.from_text(generate_signer_key("elsewhere")).verifier

    with pytest.raises(ProofError, match="signature does not verify"):
        check_misbehaviour(record, KEY)
    with pytest.raises(ProofError, match="the file is about another log"):
        check_misbehaviour(load_misbehaviour(path.read_bytes()), stranger)


def test_the_same_checkpoint_twice_is_no_misbehaviour(state: ClientState, log: Ledger) -> None:
    accept(state, log)

    accept(state, log)

    assert misbehaviour_files(state) == []
