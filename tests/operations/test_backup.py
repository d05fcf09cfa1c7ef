"""Backup and restore (ledger/operations/backup.py, docs/backup.md): a ledger exported to one file
and restored
on SQLite or PostgreSQL is the same ledger, byte for byte; a file that was cut short, changed, or
signed by a key other than the trusted one is refused, and the target store keeps nothing.

The source ledger (`build`) holds every kind of aggregate (parties, an agreement, a token, items,
nonces, a flag) and three checkpoints; its last entries are covered by the last checkpoint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from uuid import UUID, uuid5

import pytest

from ledger.application.ledger import Ledger
from ledger.domain.errors import CustodyError, IntegrityFailure
from ledger.domain.ids import NAMESPACE
from ledger.integrity.checkpoints import parse_checkpoint
from ledger.integrity.entries import canonical_json
from ledger.integrity.notes import open_note
from ledger.integrity.signing import Signer, generate_signer_key
from ledger.integrity.submissions import Submitted
from ledger.operations import backup
from ledger.readmodels import models as readmodels
from tests.conftest import SIGNER, Clock, LedgerFactory
from tests.programme import ADMIN, ago, issue, issue_transfer_inspect, register

ROOT = Path(__file__).resolve().parents[2]
STRANGER = Signer.from_text(generate_signer_key("localhost/custody"))
PAIRS = [
    pytest.param(("sqlite", "sqlite"), id="sqlite-to-sqlite"),
    pytest.param(("sqlite", "postgres"), id="sqlite-to-postgres", marks=pytest.mark.postgres),
    pytest.param(("postgres", "sqlite"), id="postgres-to-sqlite", marks=pytest.mark.postgres),
]


def build(ledger: Ledger, clock: Clock) -> list[UUID]:
    """A programme with every kind of aggregate and checkpoints at three sizes."""
    register(ledger)
    ledger.grant_token(party="inspectorate", role="inspector", actor=ADMIN)
    ledger.tlog.checkpoint()
    items = []
    for n in range(6):
        clock.advance(minutes=7)
        nonce = Submitted(f"transfer-{n:04d}", hashlib.sha256(bytes([n])).hexdigest())
        details = {"calibre": "7.62x39mm", "value": "1200.50"}
        items.append(issue_transfer_inspect(ledger, f"BK-{n:04d}", via=nonce, details=details))
    ledger.report_lost(
        items[0], circumstances="stolen", occurred_at=ago(ledger, days=3), actor=ADMIN
    )
    ledger.sight(
        items[0],
        observer="investigator",
        location="Market square",
        held_by="an armed group",
        occurred_at=ago(ledger, days=1),
        evidence=["ab" * 32],
        actor=ADMIN,
    )
    ledger.tlog.checkpoint()
    ledger.raise_flag(
        flag_id=uuid5(NAMESPACE, "flag:BK-0000"),
        rule="loss",
        item_id=items[0],
        severity="high",
        since=ago(ledger, days=3),
        evidence=[0],
        detail="reported stolen",
        actor=ADMIN,
    )
    items.append(issue(ledger, "BK-LATE"))
    ledger.tlog.checkpoint()
    return items


@pytest.fixture
def url_of(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[str, str], str]:
    """A store URL of a kind: a new SQLite file by name, or the test's PostgreSQL schema."""

    def url(kind: str, name: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{tmp_path / name}.db"
        return str(request.getfixturevalue("postgres_url"))

    return url


@pytest.fixture(params=PAIRS)
def across(
    request: pytest.FixtureRequest, make_ledger: LedgerFactory, url_of: Callable[[str, str], str]
) -> tuple[Ledger, Ledger]:
    """An empty source ledger and an empty target ledger, on each pair of databases."""
    source_kind, target_kind = request.param
    return make_ledger(url_of(source_kind, "source")), make_ledger(url_of(target_kind, "target"))


@pytest.fixture
def source(make_ledger: LedgerFactory, clock: Clock, tmp_path: Path) -> Ledger:
    ledger = make_ledger(f"sqlite:///{tmp_path / 'source.db'}")
    build(ledger, clock)
    return ledger


@pytest.fixture
def exported(source: Ledger, clock: Clock, tmp_path: Path) -> Path:
    path = tmp_path / "backup.jsonl"
    backup.export_file(source, path, verifier=SIGNER.verifier, now=clock())
    return path


def restore(target: Ledger, path: Path, trusted: Signer = SIGNER) -> backup.Summary:
    return backup.restore_file(target, path, trusted=trusted.verifier)


def assert_empty(ledger: Ledger) -> None:
    store = ledger.log_store
    assert (store.log_size(), store.count_events(), store.count_nodes()) == (0, 0, 0)
    assert store.latest_checkpoint() is None


def refused(target: Ledger, path: Path, message: str, **trust: Signer) -> IntegrityFailure:
    """Restoring `path` into `target` fails with `message`, and `target` keeps nothing."""
    with pytest.raises(IntegrityFailure, match=message) as error:
        restore(target, path, **trust)
    assert_empty(target)
    return error.value


@pytest.fixture
def target(make_ledger: LedgerFactory, tmp_path: Path) -> Ledger:
    """An empty ledger on a SQLite file of its own, to restore into."""
    return make_ledger(f"sqlite:///{tmp_path / 'target.db'}")


@pytest.fixture
def store_target(make_ledger: LedgerFactory, db_url: str) -> Ledger:
    """An empty ledger on the test's store (SQLite, then PostgreSQL), to restore into."""
    return make_ledger(db_url)


def records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def reseal(path: Path, body: list[dict[str, object]]) -> None:
    """Write records as a forger would: a new end record that matches the changed content."""
    body = [r for r in body if r["record"] != "end"]
    data = b"".join(canonical_json(r) + b"\n" for r in body)
    counts = {k: sum(r["record"] == k for r in body) for k in ("entry", "checkpoint")}
    end = {"record": "end", "entries": counts["entry"], "checkpoints": counts["checkpoint"]}
    end["sha256"] = hashlib.sha256(data).hexdigest()
    path.write_bytes(data + canonical_json(end) + b"\n")


def first_transfer(body: list[dict[str, object]]) -> int:
    """The line of the first transfer's entry record."""
    return next(
        n
        for n, r in enumerate(body)
        if r["record"] == "entry"
        and json.loads(base64.b64decode(str(r["entry"])))["type"] == "custody:Item.Transferred"
    )


def rewrite_entry(record: dict[str, object], old: bytes, new: bytes, field: str) -> None:
    data = base64.b64decode(str(record[field]))
    assert old in data
    record[field] = base64.b64encode(data.replace(old, new, 1)).decode()


# A restored store is the same ledger --------------------------------------------------------------


def test_a_restored_store_is_the_same_ledger_on_either_database(
    across: tuple[Ledger, Ledger], clock: Clock, tmp_path: Path
) -> None:
    original, target = across
    build(original, clock)
    path = tmp_path / "backup.jsonl"
    exported = backup.export_file(original, path, verifier=SIGNER.verifier, now=clock())

    restored = restore(target, path)

    size = original.log_store.log_size()
    signed_root = parse_checkpoint(open_note(original.tlog.checkpoint(), [SIGNER.verifier]).text)
    assert restored == exported
    assert (restored.entries, restored.checkpoints) == (size, 3)
    assert restored.root == signed_root.root_hash == target.tlog.verify(SIGNER.verifier).root
    assert target.log_store.log_entries(0, size) == original.log_store.log_entries(0, size)
    assert target.log_store.all_checkpoints() == original.log_store.all_checkpoints()
    assert list(target.log_store.stored_events_in_order(100)) == list(
        original.log_store.stored_events_in_order(100)
    )
    assert list(target.item_ids()) == list(original.item_ids())


def test_a_restored_store_serves_the_same_proofs_evidence_and_state_and_takes_new_writes(
    across: tuple[Ledger, Ledger], clock: Clock, tmp_path: Path
) -> None:
    original, target = across
    items = build(original, clock)
    token, _ = original.grant_token(party="operator", role="admin", actor=ADMIN)
    original.tlog.checkpoint()
    path = tmp_path / "backup.jsonl"
    backup.export_file(original, path, verifier=SIGNER.verifier, now=clock())

    restore(target, path)

    size = original.log_store.log_size()
    sizes = [s for s, _ in original.log_store.all_checkpoints()]
    for index in (0, 17, size - 1):
        assert target.tlog.inclusion_proof(index, size) == original.tlog.inclusion_proof(
            index, size
        )
    assert target.tlog.consistency_proof(sizes[0], size) == original.tlog.consistency_proof(
        sizes[0], size
    )
    assert target.evidence(items[0]) == original.evidence(items[0])
    assert target.custody_at(items[0], at=clock()) == original.custody_at(items[0], at=clock())
    assert target.authenticate(token) == original.authenticate(token)
    target.transfer(items[1], to="unit-3", occurred_at=ago(target, days=1), actor=ADMIN)
    target.tlog.checkpoint()  # consistent with the restored checkpoints, signed by the same key
    assert target.tlog.verify(SIGNER.verifier).checkpoints == len(sizes) + 1


def test_the_read_models_rebuilt_on_a_restored_store_equal_the_originals(
    source: Ledger, exported: Path, make_ledger: LedgerFactory, tmp_path: Path
) -> None:
    target = make_ledger(f"sqlite:///{tmp_path / 'target.db'}")
    ours = readmodels.open_views(source)
    readmodels.rebuild(source.log_store, ours)

    restore(target, exported)

    theirs = readmodels.open_views(target)
    assert readmodels.follow(target.log_store, theirs) == target.log_store.log_size()
    assert theirs.table_rows() == ours.table_rows()


def test_a_compressed_backup_restores_the_same(
    source: Ledger, clock: Clock, make_ledger: LedgerFactory, tmp_path: Path
) -> None:
    path = tmp_path / "backup.jsonl.gz"
    exported = backup.export_file(source, path, verifier=SIGNER.verifier, now=clock())
    target = make_ledger(f"sqlite:///{tmp_path / 'target.db'}")

    restored = restore(target, path)

    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert restored == exported
    assert target.tlog.verify(SIGNER.verifier).root == restored.root


def test_restoring_in_small_batches_gives_the_same_store(
    source: Ledger, exported: Path, make_ledger: LedgerFactory, tmp_path: Path
) -> None:
    target = make_ledger(f"sqlite:///{tmp_path / 'target.db'}")

    with exported.open("rb") as stream:
        backup.restore_log(target, stream, trusted=SIGNER.verifier, batch=7)

    size = source.log_store.log_size()
    assert target.log_store.log_entries(0, size) == source.log_store.log_entries(0, size)
    assert target.tlog.verify(SIGNER.verifier).nodes == source.tlog.verify(SIGNER.verifier).nodes


# The file -----------------------------------------------------------------------------------------


def test_the_file_is_json_lines_that_a_third_party_can_check_without_our_code(
    source: Ledger, exported: Path
) -> None:
    data = exported.read_bytes()
    lines = data.splitlines(keepends=True)

    header, *body, end = (json.loads(line) for line in lines)

    assert header["record"] == "header" and header["format"] == "custody-backup/v1"
    assert (header["origin"], header["vkey"]) == ("localhost/custody", SIGNER.verifier.vkey)
    assert end["sha256"] == hashlib.sha256(b"".join(lines[:-1])).hexdigest()
    entries = [r for r in body if r["record"] == "entry"]
    assert (
        [r["log_index"] for r in entries]
        == list(range(header["size"]))
        == list(range(end["entries"]))
    )
    for r in entries:
        entry = base64.b64decode(r["entry"])
        assert hashlib.sha256(b"\x00" + entry).hexdigest() == r["leaf_hash"]
        assert json.loads(entry)["aggregate_version"] == r["aggregate_version"]
    seen = 0
    for r in body:  # each checkpoint right after the entry that completes its size
        if r["record"] == "entry":
            seen += 1
        else:
            assert r["size"] == seen
    assert end["checkpoints"] == len(source.log_store.all_checkpoints())


def test_export_stops_at_the_latest_signed_checkpoint_and_writes_nothing_to_the_store(
    source: Ledger, clock: Clock, tmp_path: Path
) -> None:
    signed = source.log_store.log_size()
    issue(source, "BK-AFTER")
    path = tmp_path / "backup.jsonl"

    summary = backup.export_file(source, path, verifier=SIGNER.verifier, now=clock())

    assert summary.entries == signed == records(path)[0]["size"]
    assert source.log_store.latest_checkpoint()[0] == signed  # type: ignore[index]


def test_export_refuses_a_key_that_did_not_sign_the_checkpoint_and_leaves_no_file(
    source: Ledger, clock: Clock, tmp_path: Path
) -> None:
    path = tmp_path / "backup.jsonl"

    with pytest.raises(IntegrityFailure, match="is not signed by the trusted key"):
        backup.export_file(source, path, verifier=STRANGER.verifier, now=clock())

    assert list(tmp_path.glob("backup.jsonl*")) == []


def test_export_refuses_a_store_without_a_signed_checkpoint(
    make_ledger: LedgerFactory, clock: Clock, tmp_path: Path
) -> None:
    ledger = make_ledger(f"sqlite:///{tmp_path / 'new.db'}")
    register(ledger)

    with pytest.raises(CustodyError, match="no signed checkpoint yet"):
        backup.export_file(ledger, tmp_path / "b.jsonl", verifier=SIGNER.verifier, now=clock())


def test_export_of_a_store_that_lost_a_stored_event_is_refused_at_its_log_index(
    source: Ledger, clock: Clock, tmp_path: Path
) -> None:
    with sqlite3.connect(tmp_path / "source.db") as db:
        db.execute("DELETE FROM stored_events WHERE rowid = 12")

    with pytest.raises(IntegrityFailure, match="the stored events and the log disagree") as error:
        backup.export_file(source, tmp_path / "b.jsonl", verifier=SIGNER.verifier, now=clock())

    assert error.value.position == 11


# Restore refuses, and keeps nothing ---------------------------------------------------------------


def test_a_changed_byte_is_refused_by_the_end_records_sha256(
    exported: Path, store_target: Ledger
) -> None:
    body = records(exported)
    line = first_transfer(body)
    rewrite_entry(body[line], b'"to":"unit-2"', b'"to":"unit-9"', "state")
    lines = exported.read_bytes().splitlines(keepends=True)
    lines[line] = canonical_json(body[line]) + b"\n"
    exported.write_bytes(b"".join(lines))

    refused(store_target, exported, "SHA-256 is not the one its end record carries")


def test_a_forged_entry_in_a_resealed_file_is_refused_by_the_signed_root(
    exported: Path, store_target: Ledger
) -> None:
    body = records(exported)
    line = first_transfer(body)
    forged = body[line]
    rewrite_entry(forged, b'"to":"unit-2"', b'"to":"unit-3"', "entry")
    forged["leaf_hash"] = hashlib.sha256(
        b"\x00" + base64.b64decode(str(forged["entry"]))
    ).hexdigest()
    reseal(exported, body)
    first_size_after = next(r["size"] for r in body[line:] if r["record"] == "checkpoint")

    error = refused(store_target, exported, "the entries do not give the root")

    assert error.position == first_size_after


def test_a_forged_stored_event_in_a_resealed_file_is_refused_by_verifys_event_check(
    exported: Path, store_target: Ledger
) -> None:
    body = records(exported)
    line = first_transfer(body)
    rewrite_entry(body[line], b'"to":"unit-2"', b'"to":"unit-3"', "state")
    reseal(exported, body)

    error = refused(store_target, exported, "the stored event does not match its entry")

    assert error.position == body[line]["log_index"]


def test_a_topic_that_no_signed_entry_names_is_refused_before_it_is_looked_up(
    exported: Path, target: Ledger
) -> None:
    body = records(exported)
    line = first_transfer(body)
    body[line]["topic"] = "antigravity:Transferred"  # importing it would open a web browser
    reseal(exported, body)

    error = refused(target, exported, "topic is not its entry's type")

    assert error.position == body[line]["log_index"]
    assert "antigravity" not in sys.modules


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (lambda data: data[: data.rindex(b"\n", 0, -1) + 1], "without its end record"),
        (lambda data: data[: data.rindex(b"\n", 0, len(data) // 2) + 10], "the line is cut short"),
    ],
    ids=["at-a-line-end", "inside-a-line"],
)
def test_a_truncated_file_is_refused(
    exported: Path, store_target: Ledger, cut: Callable[[bytes], bytes], message: str
) -> None:
    exported.write_bytes(cut(exported.read_bytes()))

    refused(store_target, exported, message)


def test_a_truncated_compressed_file_is_refused(
    source: Ledger, clock: Clock, target: Ledger, tmp_path: Path
) -> None:
    path = tmp_path / "backup.jsonl.gz"
    backup.export_file(source, path, verifier=SIGNER.verifier, now=clock())
    path.write_bytes(path.read_bytes()[:-40])

    refused(target, path, "cut short")


def test_a_backup_of_another_key_is_refused_when_the_operator_pins_theirs(
    make_ledger: LedgerFactory, clock: Clock, tmp_path: Path, target: Ledger
) -> None:
    impostor = make_ledger(f"sqlite:///{tmp_path / 'impostor.db'}", signer=STRANGER)
    build(impostor, clock)
    path = tmp_path / "backup.jsonl"
    backup.export_file(impostor, path, verifier=STRANGER.verifier, now=clock())

    refused(target, path, "names another log key than the one trusted", trusted=SIGNER)


def test_a_header_naming_another_key_does_not_make_the_checkpoints_verify(
    exported: Path, target: Ledger
) -> None:
    body = records(exported)
    body[0]["vkey"] = STRANGER.verifier.vkey
    reseal(exported, body)
    trusted = backup.file_verifier(backup.read_header(exported))  # trusting the file

    with pytest.raises(IntegrityFailure, match="is not signed by the trusted key"):
        backup.restore_file(target, exported, trusted=trusted)

    assert_empty(target)


def test_entries_that_no_checkpoint_signs_are_refused(exported: Path, target: Ledger) -> None:
    body = records(exported)
    assert [r["record"] for r in body[-2:]] == ["checkpoint", "end"]
    reseal(exported, body[:-2])

    refused(target, exported, "follow the last signed checkpoint")


def test_a_store_that_holds_anything_is_refused_and_left_as_it_was(
    exported: Path, store_target: Ledger
) -> None:
    register(store_target)
    before = store_target.log_store.log_entries(0, 100)

    with pytest.raises(CustodyError, match="the target store is not empty"):
        restore(store_target, exported)

    assert store_target.log_store.log_entries(0, 100) == before
    assert store_target.log_store.latest_checkpoint() is None


def test_a_backup_of_another_origin_is_refused_until_the_ledger_is_opened_with_it(
    exported: Path, make_ledger: LedgerFactory, tmp_path: Path
) -> None:
    target = make_ledger(f"sqlite:///{tmp_path / 'target.db'}", origin="other.example/custody")

    with pytest.raises(CustodyError, match="CUSTODY_ORIGIN=localhost/custody"):
        restore(target, exported)


CRASHING_RESTORE = """
import os, signal, sys
from pathlib import Path
from ledger.operations import backup
from ledger.application.ledger import Ledger
from ledger.integrity.signing import Verifier
from ledger.domain.times import system_clock

url, path, vkey, after = sys.argv[1:]
done = 0

def step(n):
    global done
    done += n
    if done >= int(after):
        os.kill(os.getpid(), signal.SIGKILL)

ledger = Ledger(clock=system_clock, db=url, create_tables=True)
backup.restore_file(ledger, Path(path), trusted=Verifier.from_vkey(vkey), progress=step, batch=10)
"""


def test_a_restore_killed_after_writing_everything_but_before_its_commit_keeps_nothing(
    exported: Path, make_ledger: LedgerFactory, db_url: str
) -> None:
    size = records(exported)[0]["size"]
    after = int(str(size)) + 20  # every row written, verification under way

    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASHING_RESTORE,
            db_url,
            exported,
            SIGNER.verifier.vkey,
            str(after),
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )

    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    target = make_ledger(db_url)
    assert_empty(target)
    assert restore(target, exported).entries == size
