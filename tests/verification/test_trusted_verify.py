"""Verification against what someone else kept (ledger/verification/trusted.py;
ledger/verification/verify.py, steps 5, 6).

An operator with write access to the database and the log key can make a store that is consistent
with itself: rolled back to an older copy with the newer checkpoints deleted, or with its newest
entries rewritten, chain, tree and checkpoint recomputed and re-signed. Plain `verify` says intact;
a checkpoint kept by a witness or a receipt holder (`--trusted`) and the witnesses' quorum
(`--witness-policy`) do not. Each test names the check that catches the attack.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from custody_cli import app
from ledger.application.ledger import Ledger
from ledger.domain.errors import IntegrityFailure, InvalidInput, ProofError
from ledger.integrity.checkpoints import Checkpoint, sign_checkpoint, verify_checkpoint
from ledger.integrity.notes import split_note
from ledger.integrity.signing import Signer, generate_signer_key
from ledger.verification.trusted import split_notes, trusted_checkpoints
from tests.conftest import SIGNER, Clock, LedgerFactory
from tests.programme import issue, register
from tests.tampering import Raw
from tests.witness.test_witnessing import Network, log_signed, policy_text

runner = CliRunner()


def roll_back(url: str, size: int) -> None:
    """The store as an older copy of `size` entries would be: the later entries, their stored
    events, the tree nodes they complete, the later checkpoints and the later items' rows of the
    index of identities (issue 17) are deleted."""
    raw = Raw(url)
    for (index,) in raw.run("SELECT log_index FROM {log} WHERE log_index >= ?", size):
        condition, *key = raw.event(index)
        raw.run(f"DELETE FROM {{events}} WHERE {condition}", *key)
    raw.run("DELETE FROM {log} WHERE log_index >= ?", size)
    for level, index in raw.run("SELECT level, idx FROM {tree}"):
        if (index + 1) << level > size:
            raw.run("DELETE FROM {tree} WHERE level = ? AND idx = ?", level, index)
    raw.run("DELETE FROM {checkpoints} WHERE size > ?", size)
    raw.run("DELETE FROM {serials} WHERE log_index >= ?", size)  # the index of identities
    if raw.sqlite:  # its trigram search table, made again from the rows left
        raw.run("INSERT INTO custody_serials_fts (custody_serials_fts) VALUES ('rebuild')")
    raw.close()


@dataclass(frozen=True)
class Kept:
    """The newest checkpoint of a store, as a witness or a receipt holder would have kept it."""

    note: str
    size: int
    earlier: int
    """The size of the store's checkpoint before it: the store as an older copy would be."""
    a4: int
    """The log index of A-4's entry: the newest entries of an item, before the note's map root."""


@pytest.fixture
def kept(make_ledger: LedgerFactory, db_url: str) -> Iterator[Kept]:
    """A store with two checkpoints, each ending with its map root: the first after A-1 and A-2,
    the second after A-3 and A-4. The ledger that wrote it is closed."""
    ledger = make_ledger(db_url)
    register(ledger)
    issue(ledger, "A-1")
    issue(ledger, "A-2")
    ledger.tlog.checkpoint()
    issue(ledger, "A-3")
    (a4,) = ledger.log_store.log_entries_of(issue(ledger, "A-4"))
    note = ledger.tlog.checkpoint()
    sizes = [size for size, _ in ledger.log_store.all_checkpoints()]
    ledger.close()
    assert len(sizes) == 2 and sizes[1] == a4.log_index + 2  # A-4, then the map root
    yield Kept(note, sizes[1], sizes[0], a4.log_index)


def trusted(note: str) -> list[Checkpoint]:
    return [verify_checkpoint(note, SIGNER.verifier)]


def test_a_rollback_with_newer_checkpoints_deleted_passes_plain_verify_but_fails_the_trusted_check(
    kept: Kept, make_ledger: LedgerFactory, db_url: str
) -> None:
    roll_back(db_url, kept.earlier)
    ledger = make_ledger(db_url)
    assert ledger.tlog.verify(SIGNER.verifier).entries == kept.earlier  # consistent with itself

    with pytest.raises(
        IntegrityFailure,
        match="the store is shorter than a trusted checkpoint: it was rolled back or truncated",
    ) as caught:
        ledger.tlog.verify(SIGNER.verifier, trusted=trusted(kept.note))

    trusted_root = verify_checkpoint(kept.note, SIGNER.verifier).root_hash.hex()
    assert caught.value.position == kept.earlier
    assert caught.value.message == (
        "the store is shorter than a trusted checkpoint: it was rolled back or truncated at "
        f"position {kept.earlier}: expected at least {kept.size} entries (trusted root "
        f"{trusted_root}), got {kept.earlier} entries (root {ledger.tlog.root(kept.earlier).hex()})"
    )


def test_a_rewrite_of_the_newest_entries_re_signed_with_the_log_key_fails_the_trusted_check(
    kept: Kept, make_ledger: LedgerFactory, db_url: str
) -> None:
    roll_back(db_url, kept.a4)  # A-4, its map root and the kept checkpoint go
    ledger = make_ledger(db_url)
    issue(ledger, "B-1")
    issue(ledger, "B-2")
    ledger.tlog.checkpoint()  # the rewritten log, signed by the ledger's own code and key
    rewritten = ledger.log_store.log_size()
    assert rewritten > kept.size  # longer than the kept checkpoint: not a rollback
    assert [size for size, _ in ledger.log_store.all_checkpoints()] == [kept.earlier, rewritten]
    assert ledger.tlog.verify(SIGNER.verifier).checkpoints == 2  # consistent with itself

    with pytest.raises(
        IntegrityFailure, match="is not the one a trusted checkpoint covers: it was rewritten"
    ) as caught:
        ledger.tlog.verify(SIGNER.verifier, trusted=trusted(kept.note))

    trusted_root = verify_checkpoint(kept.note, SIGNER.verifier).root_hash.hex()
    assert caught.value.position == kept.size
    assert caught.value.message == (
        f"the store's history up to size {kept.size} is not the one a trusted checkpoint covers: "
        f"it was rewritten at position {kept.size}: expected root {trusted_root} (trusted), got "
        f"root {ledger.tlog.root(kept.size).hex()} (recomputed from the store)"
    )


def test_an_untouched_store_is_consistent_with_every_checkpoint_it_signed(
    kept: Kept, make_ledger: LedgerFactory, db_url: str
) -> None:
    ledger = make_ledger(db_url)
    issue(ledger, "C-1")  # one entry more than the newest checkpoint covers
    notes = [note for _, note in ledger.log_store.all_checkpoints()]

    verified = ledger.tlog.verify(
        SIGNER.verifier,
        trusted=[verify_checkpoint(n, SIGNER.verifier) for n in notes],
    )

    assert (verified.entries, verified.trusted) == (kept.size + 1, 2)


def test_a_trusted_checkpoint_of_a_fork_fails_even_beside_one_the_store_matches(
    kept: Kept, make_ledger: LedgerFactory, db_url: str
) -> None:
    """Two notes of one size, both signed with the log key: the operator showed someone a fork."""
    ledger = make_ledger(db_url)
    forked = sign_checkpoint(Checkpoint(SIGNER.name, kept.size, b"\x01" * 32), SIGNER)

    with pytest.raises(
        IntegrityFailure, match="is not the one a trusted checkpoint covers: it was rewritten"
    ) as caught:
        ledger.tlog.verify(SIGNER.verifier, trusted=trusted(kept.note) + trusted(forked))

    assert caught.value.position == kept.size
    assert caught.value.expected == f"root {'01' * 32} (trusted)"


# The witness policy -----------------------------------------------------------------------------


@pytest.fixture
def network(tmp_path: Path, clock: Clock) -> Network:
    return Network(tmp_path, clock)


@pytest.fixture
def witnessed(make_ledger: LedgerFactory, db_url: str, network: Network) -> Ledger:
    """A ledger with one checkpoint, which w0, w1 and w2 cosigned (the policy: 2 of 3)."""
    ledger = make_ledger(db_url, **network.ledger_options())
    register(ledger)
    issue(ledger)
    ledger.tlog.checkpoint()
    return ledger


def newest_size(ledger: Ledger) -> int:
    latest = ledger.log_store.latest_checkpoint()
    assert latest is not None
    return latest[0]


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
    verified = witnessed.tlog.verify(SIGNER.verifier, witness_policy=network.policy())

    assert verified.cosigned_by == ("w0", "w1", "w2")


def test_stripped_cosignatures_fail_the_witness_policy_check_naming_the_missing_witnesses(
    witnessed: Ledger, network: Network, db_url: str
) -> None:
    size = newest_size(witnessed)
    strip(db_url, size, keep=("w0.example",))

    with pytest.raises(
        ProofError, match="lacks the witness quorum: witness quorum g is not met"
    ) as caught:
        witnessed.tlog.verify(SIGNER.verifier, witness_policy=network.policy())

    assert caught.value.message == (
        f"the newest checkpoint (size {size}) lacks the witness quorum: witness quorum g is not "
        "met: 2 of 3 witnesses required, 1 valid cosignature: w0; no valid cosignature by w1, w2"
    )


def test_after_a_rollback_witnesses_refuse_the_next_checkpoint_and_the_witness_policy_check_fails(
    witnessed: Ledger, network: Network, make_ledger: LedgerFactory, db_url: str
) -> None:
    earlier = newest_size(witnessed)
    issue(witnessed, "AK-0002")
    cosigned = witnessed.tlog.checkpoint()  # cosigned by all three
    size = newest_size(witnessed)
    roll_back(db_url, earlier)  # AK-0002, its map root and the cosigned checkpoint go
    rolled = make_ledger(db_url, **network.ledger_options())
    issue(rolled, "OTHER-1")

    rolled.tlog.checkpoint()  # a new one of that size: no witness cosigns a second root for a size

    assert newest_size(rolled) == size
    with pytest.raises(
        ProofError, match="lacks the witness quorum: witness quorum g is not met"
    ) as caught:
        rolled.tlog.verify(SIGNER.verifier, witness_policy=network.policy())
    assert caught.value.message.endswith("no valid cosignature by w0, w1, w2")
    with pytest.raises(IntegrityFailure, match=f"it was rewritten at position {size}:"):
        rolled.tlog.verify(SIGNER.verifier, trusted=trusted(log_signed(cosigned)))


# The trusted file -------------------------------------------------------------------------------


def test_a_trusted_file_holds_notes_one_after_the_other_with_their_cosignatures(
    witnessed: Ledger,
) -> None:
    first = witnessed.log_store.latest_checkpoint()
    issue(witnessed, "AK-0002")
    second = witnessed.tlog.checkpoint()
    assert first is not None

    notes = split_notes(first[1] + "\n" + second + "\n\n", source="kept.txt")

    assert notes == [first[1], second]
    checkpoints = trusted_checkpoints(notes, SIGNER.verifier, origin=SIGNER.name, source="f")
    assert [c.size for c in checkpoints] == [first[0], witnessed.log_store.log_size()]


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
    with pytest.raises(InvalidInput, match=f"^{re.escape(message)}") as refused:
        split_notes(text, source="kept.txt")

    assert refused.value.message.startswith(message)


def test_a_trusted_checkpoint_signed_by_another_key_is_refused(kept: Kept) -> None:
    other = Signer.from_text(generate_signer_key(SIGNER.name))

    with pytest.raises(
        ProofError, match="kept.txt: trusted checkpoint 1 does not verify with the log key"
    ) as refused:
        trusted_checkpoints([kept.note], other.verifier, origin=SIGNER.name, source="kept.txt")

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
    kept: Kept, db_url: str, tmp_path: Path
) -> None:
    (tmp_path / "kept.txt").write_text(kept.note)
    env = cli_env(tmp_path, db_url)
    assert (
        runner.invoke(app, ["verify", "--trusted", str(tmp_path / "kept.txt")], env=env).exit_code
        == 0
    )
    roll_back(db_url, kept.earlier)

    result = runner.invoke(app, ["verify", "--trusted", str(tmp_path / "kept.txt")], env=env)

    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        "custody: the store is shorter than a trusted checkpoint: it was rolled back or truncated"
        f" at position {kept.earlier}: expected at least {kept.size} entries (trusted root "
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
    assert f"consistent with 1 trusted checkpoint (sizes {latest[0]})" in result.stdout
    assert "witnessed: the newest checkpoint is cosigned by w0, w1, w2" in result.stdout
