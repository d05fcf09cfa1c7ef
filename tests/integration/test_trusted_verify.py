"""Verification against what someone else kept (ledger/trusted.py; ledger/verify.py, steps 5, 6).

An operator with write access to the database and the log key can make a store that is consistent
with itself: rolled back to an older copy with the newer checkpoints deleted, or with its newest
entries rewritten, chain, tree and checkpoint recomputed and re-signed. Plain `verify` says intact;
a checkpoint kept by a witness or a receipt holder (`--trusted`) and the witnesses' quorum
(`--witness-policy`) do not. Each test names the check that catches the attack.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from ledger.application import Ledger
from ledger.checkpoints import Checkpoint, sign_checkpoint, verify_checkpoint
from ledger.errors import IntegrityFailure, InvalidInput, ProofError
from ledger.notes import split_note
from ledger.signing import Signer, generate_signer_key
from ledger.trusted import split_notes, trusted_checkpoints
from tests.conftest import SIGNER, Clock, LedgerFactory
from tests.integration.test_tamper import Raw
from tests.integration.test_witnessing import Network, log_signed, policy_text
from tests.programme import issue, register

runner = CliRunner()


def roll_back(url: str, size: int) -> None:
    """The store as an older copy of `size` entries would be: the later entries, their stored
    events, the tree nodes they complete and the later checkpoints are deleted."""
    raw = Raw(url)
    for (index,) in raw.run("SELECT log_index FROM {log} WHERE log_index >= ?", size):
        condition, *key = raw.event(index)
        raw.run(f"DELETE FROM {{events}} WHERE {condition}", *key)
    raw.run("DELETE FROM {log} WHERE log_index >= ?", size)
    for level, index in raw.run("SELECT level, idx FROM {tree}"):
        if (index + 1) << level > size:
            raw.run("DELETE FROM {tree} WHERE level = ? AND idx = ?", level, index)
    raw.run("DELETE FROM {checkpoints} WHERE size > ?", size)
    raw.close()


@pytest.fixture
def kept(make_ledger: LedgerFactory, db_url: str) -> Iterator[str]:
    """A store of 15 entries with checkpoints at 13 and 15; answers the note at 15, as a witness
    or a receipt holder would have kept it. The ledger that wrote it is closed."""
    ledger = make_ledger(db_url)
    register(ledger)
    issue(ledger, "A-1")
    issue(ledger, "A-2")
    ledger.checkpoint()
    issue(ledger, "A-3")
    issue(ledger, "A-4")
    note = ledger.checkpoint()
    ledger.close()
    yield note


def trusted(note: str) -> list[Checkpoint]:
    return [verify_checkpoint(note, SIGNER.verifier)]


def test_a_rollback_with_newer_checkpoints_deleted_passes_plain_verify_but_fails_the_trusted_check(
    kept: str, make_ledger: LedgerFactory, db_url: str
) -> None:
    roll_back(db_url, 13)
    ledger = make_ledger(db_url)
    assert ledger.verify(SIGNER.verifier).entries == 13  # consistent with itself

    with pytest.raises(IntegrityFailure) as caught:
        ledger.verify(SIGNER.verifier, trusted=trusted(kept))

    trusted_root = verify_checkpoint(kept, SIGNER.verifier).root_hash.hex()
    assert caught.value.message == (
        "the store is shorter than a trusted checkpoint: it was rolled back or truncated at "
        f"position 13: expected at least 15 entries (trusted root {trusted_root}), got 13 entries "
        f"(root {ledger.root(13).hex()})"
    )


def test_a_rewrite_of_the_newest_entries_re_signed_with_the_log_key_fails_the_trusted_check(
    kept: str, make_ledger: LedgerFactory, db_url: str
) -> None:
    roll_back(db_url, 14)  # A-4 and the checkpoint at 15 go
    ledger = make_ledger(db_url)
    issue(ledger, "B-1")
    issue(ledger, "B-2")
    ledger.checkpoint()  # the rewritten log, signed by the ledger's own code and key
    assert ledger.verify(SIGNER.verifier).checkpoints == 2  # 13 and 16: consistent with itself

    with pytest.raises(IntegrityFailure) as caught:
        ledger.verify(SIGNER.verifier, trusted=trusted(kept))

    trusted_root = verify_checkpoint(kept, SIGNER.verifier).root_hash.hex()
    assert caught.value.position == 15
    assert caught.value.message == (
        "the store's history up to size 15 is not the one a trusted checkpoint covers: it was "
        f"rewritten at position 15: expected root {trusted_root} (trusted), got root "
        f"{ledger.root(15).hex()} (recomputed from the store)"
    )


def test_an_untouched_store_is_consistent_with_every_checkpoint_it_signed(
    kept: str, make_ledger: LedgerFactory, db_url: str
) -> None:
    ledger = make_ledger(db_url)
    issue(ledger, "C-1")
    notes = [note for _, note in ledger.log_store.all_checkpoints()]

    verified = ledger.verify(
        SIGNER.verifier,
        trusted=[verify_checkpoint(n, SIGNER.verifier) for n in notes],
    )

    assert (verified.entries, verified.trusted) == (16, 2)


def test_a_trusted_checkpoint_of_a_fork_fails_even_beside_one_the_store_matches(
    kept: str, make_ledger: LedgerFactory, db_url: str
) -> None:
    """Two notes of one size, both signed with the log key: the operator showed someone a fork."""
    ledger = make_ledger(db_url)
    forked = sign_checkpoint(Checkpoint(SIGNER.name, 15, b"\x01" * 32), SIGNER)

    with pytest.raises(IntegrityFailure) as caught:
        ledger.verify(SIGNER.verifier, trusted=trusted(kept) + trusted(forked))

    assert caught.value.position == 15
    assert caught.value.expected == f"root {'01' * 32} (trusted)"


# The witness policy -----------------------------------------------------------------------------


@pytest.fixture
def network(tmp_path: Path, clock: Clock) -> Network:
    return Network(tmp_path, clock)


@pytest.fixture
def witnessed(make_ledger: LedgerFactory, db_url: str, network: Network) -> Ledger:
    """A ledger of 12 entries whose checkpoint w0, w1 and w2 cosigned (the policy: 2 of 3)."""
    ledger = make_ledger(db_url, **network.ledger_options())
    register(ledger)
    issue(ledger)
    ledger.checkpoint()
    return ledger


def strip(url: str, size: int, keep: tuple[str, ...]) -> None:
    """Keep only the log's signature and the cosignatures of `keep` on the checkpoint at `size`."""
    raw = Raw(url)
    ((note,),) = raw.run("SELECT note FROM {checkpoints} WHERE size = ?", size)
    text, signatures = split_note(note)
    lines = [s.to_line() for s in signatures if s.name in ("localhost/custody", *keep)]
    raw.run("UPDATE {checkpoints} SET note = ? WHERE size = ?", text + "\n" + "".join(lines), size)
    raw.close()


def test_the_newest_checkpoint_cosigned_by_a_quorum_passes_the_witness_policy_check(
    witnessed: Ledger, network: Network
) -> None:
    verified = witnessed.verify(SIGNER.verifier, witness_policy=network.policy())

    assert verified.cosigned_by == ("w0", "w1", "w2")


def test_stripped_cosignatures_fail_the_witness_policy_check_naming_the_missing_witnesses(
    witnessed: Ledger, network: Network, db_url: str
) -> None:
    strip(db_url, 12, keep=("w0.example",))

    with pytest.raises(ProofError) as caught:
        witnessed.verify(SIGNER.verifier, witness_policy=network.policy())

    assert caught.value.message == (
        "the newest checkpoint (size 12) lacks the witness quorum: witness quorum g is not met: "
        "2 of 3 witnesses required, 1 valid cosignature: w0; no valid cosignature by w1, w2"
    )


def test_after_a_rollback_witnesses_refuse_the_next_checkpoint_and_the_witness_policy_check_fails(
    witnessed: Ledger, network: Network, make_ledger: LedgerFactory, db_url: str
) -> None:
    issue(witnessed, "AK-0002")
    cosigned = witnessed.checkpoint()  # 13, cosigned by all three
    roll_back(db_url, 12)
    rolled = make_ledger(db_url, **network.ledger_options())
    issue(rolled, "OTHER-1")

    rolled.checkpoint()  # a new 13: no witness cosigns a second root for a size

    with pytest.raises(ProofError) as caught:
        rolled.verify(SIGNER.verifier, witness_policy=network.policy())
    assert caught.value.message.endswith("no valid cosignature by w0, w1, w2")
    with pytest.raises(IntegrityFailure, match="it was rewritten at position 13"):
        rolled.verify(SIGNER.verifier, trusted=trusted(log_signed(cosigned)))


# The trusted file -------------------------------------------------------------------------------


def test_a_trusted_file_holds_notes_one_after_the_other_with_their_cosignatures(
    witnessed: Ledger,
) -> None:
    first = witnessed.log_store.latest_checkpoint()
    issue(witnessed, "AK-0002")
    second = witnessed.checkpoint()
    assert first is not None

    notes = split_notes(first[1] + "\n" + second + "\n\n", source="kept.txt")

    assert notes == [first[1], second]
    checkpoints = trusted_checkpoints(notes, SIGNER.verifier, origin=SIGNER.name, source="f")
    assert [c.size for c in checkpoints] == [12, 13]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "kept.txt: no signed checkpoint note in it"),
        ("localhost/custody\n1\nAAAA\n", "kept.txt: note 1 has no signature lines"),
        ("— localhost/custody AAAA\n", "kept.txt: note 1: signature lines with no checkpoint"),
        (
            "a\n1\nAAAA\n\n— a AAAA\nb\n2\nAAAA\n\n— b AAAA\n",
            "kept.txt: note 1: signature lines and text in one paragraph",
        ),
    ],
    ids=["empty", "unsigned", "signatures alone", "no blank line between notes"],
)
def test_a_malformed_trusted_file_is_refused_saying_where(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        split_notes(text, source="kept.txt")

    assert refused.value.message.startswith(message)


def test_a_trusted_checkpoint_signed_by_another_key_is_refused(kept: str) -> None:
    other = Signer.from_text(generate_signer_key(SIGNER.name))

    with pytest.raises(ProofError) as refused:
        trusted_checkpoints([kept], other.verifier, origin=SIGNER.name, source="kept.txt")

    assert refused.value.message.startswith(
        "kept.txt: trusted checkpoint 1 does not verify with the log key: note is not signed by "
        "any known key"
    )


# The command ------------------------------------------------------------------------------------


def cli_env(tmp_path: Path, url: str) -> dict[str, str]:
    key = tmp_path / "custody.key"
    key.write_text(SIGNER.to_text() + "\n")
    key.chmod(0o600)
    return {"CUSTODY_DB": url, "CUSTODY_KEY": str(key)}


def test_custody_verify_trusted_exits_1_with_both_sizes_after_a_rollback(
    kept: str, db_url: str, tmp_path: Path
) -> None:
    (tmp_path / "kept.txt").write_text(kept)
    env = cli_env(tmp_path, db_url)
    assert (
        runner.invoke(app, ["verify", "--trusted", str(tmp_path / "kept.txt")], env=env).exit_code
        == 0
    )
    roll_back(db_url, 13)

    result = runner.invoke(app, ["verify", "--trusted", str(tmp_path / "kept.txt")], env=env)

    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        "custody: the store is shorter than a trusted checkpoint: it was rolled back or truncated"
        " at position 13: expected at least 15 entries (trusted root "
    )


def test_custody_verify_prints_what_it_checked_against_the_trusted_file_and_the_policy(
    witnessed: Ledger, network: Network, db_url: str, tmp_path: Path
) -> None:
    latest = witnessed.log_store.latest_checkpoint()
    assert latest is not None
    (tmp_path / "kept.txt").write_text(latest[1])
    (tmp_path / "policy.txt").write_text(policy_text())
    env = cli_env(tmp_path, db_url)

    result = runner.invoke(
        app,
        [
            "verify",
            "--trusted",
            str(tmp_path / "kept.txt"),
            "--witness-policy",
            str(tmp_path / "policy.txt"),
        ],
        env=env,
    )

    assert result.exit_code == 0, result.output
    assert "consistent with 1 trusted checkpoint (sizes 12)" in result.stdout
    assert "witnessed: the newest checkpoint is cosigned by w0, w1, w2" in result.stdout
