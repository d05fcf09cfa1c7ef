"""Tampering with a real store behind the ledger's back: `verify` names the first bad position.

Each test builds the store of tests/tampering.py (SIZE entries, checkpoints at FIRST and SIZE),
changes its tables directly (sqlite3 or psycopg), and expects IntegrityFailure at an exact position
with a message that says what was wrong.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from custody_cli import app
from ledger.application.ledger import Ledger
from ledger.domain.errors import IntegrityFailure
from ledger.integrity.checkpoints import Checkpoint, sign_checkpoint
from ledger.integrity.signing import Signer, Verifier, generate_signer_key, read_private_key_file
from ledger.verification.verify import Verified
from tests.conftest import Clock
from tests.programme import ADMIN
from tests.tampering import (
    FIRST,
    ORIGIN,
    SIZE,
    Raw,
    assert_found,
    flip,
    ledger,
    nodes_in,
    raw,
)
from tests.verifying import verify_each_way

__all__ = ["ledger", "raw"]  # fixtures, used by name


def test_an_untouched_store_verifies_with_its_counts_and_root(ledger: Ledger, raw: Raw) -> None:
    stored_nodes = raw.run("SELECT COUNT(*) FROM {tree}")[0][0]

    verified = verify_each_way(ledger, ledger.tlog.verifier())

    assert verified == Verified(SIZE, nodes_in(SIZE), 2, ledger.tlog.root(SIZE))
    assert stored_nodes == nodes_in(SIZE)
    assert [size for (size,) in raw.run("SELECT size FROM {checkpoints} ORDER BY size")] == [
        FIRST,
        SIZE,
    ]


@pytest.mark.parametrize(
    ("index", "marker"),
    [(21, b"unit-2"), (23, b'Item"')],
    ids=["a-transfers-recipient", "the-aggregate-topic-of-an-issued-event"],
)
def test_a_flipped_byte_in_a_stored_events_state_is_found_at_its_log_index(
    ledger: Ledger, raw: Raw, index: int, marker: bytes
) -> None:
    raw.change("events", "state", raw.event(index), flip(marker))

    assert_found(ledger, index, "the stored event does not match its entry")


def test_a_flipped_byte_in_a_log_entry_is_found_at_its_index(ledger: Ledger, raw: Raw) -> None:
    raw.change("log", "entry", ("log_index = ?", 5), flip(40))

    assert_found(ledger, 5, "the entry does not hash to its leaf hash")


def test_a_changed_leaf_hash_is_found_at_its_index(ledger: Ledger, raw: Raw) -> None:
    raw.change("log", "leaf_hash", ("log_index = ?", 35), flip(31, 0x80))

    assert_found(ledger, 35, "the entry does not hash to its leaf hash")


@pytest.mark.parametrize(("level", "idx"), [(0, 33), (3, 4)], ids=["leaf", "level-3"])
def test_a_flipped_byte_in_a_tree_row_is_found_at_the_first_leaf_it_covers(
    ledger: Ledger, raw: Raw, level: int, idx: int
) -> None:
    raw.change("tree", "hash", ("level = ? AND idx = ?", level, idx), flip(0))

    assert_found(ledger, idx << level, f"tree node (level {level}, index {idx}) is wrong")


def test_a_deleted_log_row_in_the_middle_is_a_gap_at_its_index(ledger: Ledger, raw: Raw) -> None:
    raw.run("DELETE FROM {log} WHERE log_index = ?", 17)

    assert_found(ledger, 17, "the log has a gap")


def test_deleting_the_last_rows_below_a_checkpoint_size_is_found_as_truncation(
    ledger: Ledger, raw: Raw
) -> None:
    raw.run("DELETE FROM {log} WHERE log_index >= ?", 40)

    assert_found(ledger, 40, "the log is shorter than a signed checkpoint: entries were removed")


def test_swapping_the_entries_and_leaf_hashes_of_two_rows_is_found_at_the_first(
    ledger: Ledger, raw: Raw
) -> None:
    rows = raw.run("SELECT log_index, entry, leaf_hash FROM {log} WHERE log_index IN (20, 25)")
    (_, entry_a, leaf_a), (_, entry_b, leaf_b) = sorted(rows, key=lambda row: row[0])

    raw.run("UPDATE {log} SET entry = ?, leaf_hash = ? WHERE log_index = 20", entry_b, leaf_b)
    raw.run("UPDATE {log} SET entry = ?, leaf_hash = ? WHERE log_index = 25", entry_a, leaf_a)

    assert_found(ledger, 20, "the entry's origin, aggregate or version is not its row's")


def test_a_deleted_tree_row_is_found_at_the_first_leaf_it_covers(ledger: Ledger, raw: Raw) -> None:
    raw.run("DELETE FROM {tree} WHERE level = 1 AND idx = 5")

    assert_found(ledger, 10, "tree node (level 1, index 5) is wrong")


def test_an_extra_tree_row_is_found_as_a_wrong_count_at_the_log_size(
    ledger: Ledger, raw: Raw
) -> None:
    extra = hashlib.sha256(b"extra").digest()

    raw.run("INSERT INTO {tree} (level, idx, hash) VALUES (0, ?, ?)", SIZE, extra)

    assert_found(ledger, SIZE, "the store has the wrong number of tree rows")


def test_a_checkpoint_signed_by_another_key_with_the_same_name_is_refused(
    ledger: Ledger, raw: Raw
) -> None:
    impostor = Signer.from_text(generate_signer_key(ORIGIN))
    note = sign_checkpoint(Checkpoint(ORIGIN, FIRST, ledger.tlog.root(FIRST)), impostor)

    raw.run("UPDATE {checkpoints} SET note = ? WHERE size = ?", note, FIRST)

    assert_found(
        ledger,
        FIRST,
        f"the checkpoint at size {FIRST} does not verify at position {FIRST}: expected a signature "
        "by localhost/custody+",
    )


def test_a_correctly_signed_checkpoint_of_a_forked_root_is_not_this_logs(
    ledger: Ledger, raw: Raw
) -> None:
    assert ledger.tlog.signer is not None
    fork = Checkpoint(ORIGIN, FIRST, hashlib.sha256(b"another history").digest())
    note = sign_checkpoint(fork, ledger.tlog.signer)

    raw.run("UPDATE {checkpoints} SET note = ? WHERE size = ?", note, FIRST)

    assert_found(ledger, FIRST, f"the checkpoint at size {FIRST} is not this log's")


def test_a_deleted_stored_event_is_named_at_its_entrys_log_index(ledger: Ledger, raw: Raw) -> None:
    condition, *key = raw.event(21)

    raw.run(f"DELETE FROM {{events}} WHERE {condition}", *key)

    with pytest.raises(
        IntegrityFailure, match="an entry and the stored events disagree at position 21"
    ) as caught:
        verify_each_way(ledger, ledger.tlog.verifier())
    assert caught.value.position == 21, caught.value.message


def test_an_extra_stored_event_without_an_entry_is_found(ledger: Ledger, raw: Raw) -> None:
    condition, *key = raw.event(21)
    ((topic, state),) = raw.run(f"SELECT topic, state FROM {{events}} WHERE {condition}", *key)

    raw.run(
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "VALUES (?, ?, ?, ?)",
        key[0],
        4,
        topic,
        bytes(state),
    )

    with pytest.raises(IntegrityFailure, match="the stored events disagree|has no entry"):
        verify_each_way(ledger, ledger.tlog.verifier())


# Random flips, SQLite only --------------------------------------------------------------------

FLIPS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
HASHED = [("log", "entry"), ("log", "leaf_hash"), ("tree", "hash")]
ANY = st.integers(min_value=0, max_value=10**6)
MASK = st.integers(min_value=1, max_value=255)
ON_SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the fixtures' store


def found_after_flipping(
    ledger: Ledger, raw: Raw, table: str, column: str, row: int, at: int, mask: int
) -> bool:
    """Flip one byte of one row (chosen by rowid), verify, then put the byte back."""
    rowids = [rowid for (rowid,) in raw.run(f"SELECT rowid FROM {{{table}}} ORDER BY rowid")]
    rowid = rowids[row % len(rowids)]
    ((original,),) = raw.run(f"SELECT {column} FROM {{{table}}} WHERE rowid = ?", rowid)
    raw.change(table, column, ("rowid = ?", rowid), flip(at, mask))
    try:
        verify_each_way(ledger, ledger.tlog.verifier())
    except IntegrityFailure:
        return True
    finally:
        raw.run(f"UPDATE {{{table}}} SET {column} = ? WHERE rowid = ?", original, rowid)
    return False


@ON_SQLITE
@FLIPS
@given(target=st.sampled_from(HASHED), row=ANY, at=ANY, mask=MASK)
def test_flipping_any_byte_of_an_entry_leaf_hash_or_tree_row_is_always_found(
    ledger: Ledger, raw: Raw, target: tuple[str, str], row: int, at: int, mask: int
) -> None:
    found = found_after_flipping(ledger, raw, *target, row, at, mask)

    assert found


@ON_SQLITE
@FLIPS
@given(row=ANY, at=ANY, mask=MASK)
@example(row=0, at=58, mask=0x01)  # 'T' -> 'U' in the first event's timestamp
@example(row=0, at=104, mask=0x01)  # 'P' -> 'Q' in its originator_topic "custody:Party"
def test_flipping_any_byte_of_a_stored_events_state_is_always_found(
    ledger: Ledger, raw: Raw, row: int, at: int, mask: int
) -> None:
    found = found_after_flipping(ledger, raw, "events", "state", row, at, mask)

    assert found


# custody verify ----------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock) -> dict[str, str]:
    """A store made by `custody init`, two more parties and a checkpoint."""
    for name in ("CUSTODY_DB", "CUSTODY_KEY", "CUSTODY_ORIGIN"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "CUSTODY_DB": f"sqlite:///{tmp_path / 'custody.db'}",
        "CUSTODY_KEY": str(tmp_path / "custody.key"),
    }
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    signer = Signer.from_text(read_private_key_file(env["CUSTODY_KEY"]))
    ledger = Ledger(clock=clock, db=env["CUSTODY_DB"], signer=signer)
    ledger.register_party(party_id="supplier", name="Supplier", kind="supplier", actor=ADMIN)
    ledger.register_party(party_id="force", name="Force", kind="recipient", actor=ADMIN)
    ledger.tlog.checkpoint()
    ledger.close()
    return env


def stored(env: dict[str, str], sql: str) -> list[Any]:
    raw = Raw(env["CUSTODY_DB"])
    try:
        return raw.run(sql)
    finally:
        raw.close()


def checkpoint_sizes(env: dict[str, str]) -> list[int]:
    """The sizes of the store's checkpoints: `custody init`'s, then the fixture's."""
    return [size for (size,) in stored(env, "SELECT size FROM {checkpoints} ORDER BY size")]


def test_custody_verify_says_intact_and_exits_0_on_an_untouched_store(
    cli_env: dict[str, str],
) -> None:
    (size,) = stored(cli_env, "SELECT COUNT(*) FROM {log}")[0]

    result = runner.invoke(app, ["verify"], env=cli_env)

    assert result.exit_code == 0, result.output
    assert checkpoint_sizes(cli_env)[-1] == size
    assert result.stdout.startswith(
        f"intact: {size} entries, {nodes_in(size)} tree nodes, 2 checkpoints; root "
    )


@pytest.mark.parametrize("workers", [[], ["--workers", "0"], ["--workers", "2"]])
def test_custody_verify_exits_1_with_one_line_naming_the_position_of_a_changed_byte(
    cli_env: dict[str, str], workers: list[str]
) -> None:
    rows = stored(cli_env, "SELECT log_index, entry FROM {log} ORDER BY log_index")
    supplier = next(index for index, entry in rows if b'"Supplier"' in bytes(entry))
    raw = Raw(cli_env["CUSTODY_DB"])
    raw.change("log", "entry", ("log_index = ?", supplier), flip(b"Supplier"))
    raw.close()

    result = runner.invoke(app, ["verify", *workers], env=cli_env)

    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        f"custody: the entry does not hash to its leaf hash at position {supplier}: "
    )


def test_custody_verify_with_the_vkey_of_another_key_exits_1(cli_env: dict[str, str]) -> None:
    other = Signer.from_text(generate_signer_key(ORIGIN)).verifier.vkey

    result = runner.invoke(app, ["verify", "--vkey", other], env=cli_env)

    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(  # the first entry's receipt is the first thing that key signed
        "custody: the entry's receipt does not verify at position 0: expected a receipt signed "
        f"by the log key {ORIGIN}+{Verifier.from_vkey(other).key_id:08x} "
        "(an entry appended without the key?)"
    )
