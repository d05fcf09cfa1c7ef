"""`custody export` and `custody restore`: a round trip that `custody verify` passes, and one-line
refusals (exit 1) for a wrong key, a store that holds anything, a cut file, or no backup at all."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from custody_cli import app
from ledger.application.ledger import Ledger
from ledger.domain.times import system_clock
from ledger.integrity.signing import Signer, generate_signer_key, read_private_key_file
from tests.programme import ADMIN

runner = CliRunner()
RESTORED = "sqlite:///restored.db"


@pytest.fixture
def vkey() -> str:
    """An initialised ./custody.db with a few entries after its first checkpoint; its vkey."""
    result = runner.invoke(app, ["init", "--json"])
    assert result.exit_code == 0, result.output
    grow(3)
    return str(json.loads(result.stdout)["vkey"])


def grow(parties: int, key: str = "custody.key") -> int:
    """Register parties in ./custody.db; the log's size after."""
    signer = Signer.from_text(read_private_key_file(key))
    ledger = Ledger(clock=system_clock, db="sqlite:///custody.db", signer=signer)
    start = ledger.log_store.log_size()
    for n in range(parties):
        ledger.register_party(
            party_id=f"unit-{start + n}", name="A unit", kind="recipient", actor=ADMIN
        )
    size = ledger.log_store.log_size()
    ledger.close()
    return size


def sizes(db: str = "sqlite:///custody.db") -> tuple[int, int]:
    """The store's log size and the size of its latest checkpoint."""
    ledger = Ledger(clock=system_clock, db=db)
    latest = ledger.log_store.latest_checkpoint()
    size = ledger.log_store.log_size()
    ledger.close()
    assert latest is not None
    return size, latest[0]


def test_export_restore_then_verify_the_restored_store(vkey: str) -> None:
    exported = runner.invoke(app, ["export", "-o", "backup.jsonl"])
    size, _ = sizes()
    restored = runner.invoke(app, ["restore", "backup.jsonl", "--db", RESTORED, "--vkey", vkey])
    verified = runner.invoke(app, ["verify", "--db", RESTORED, "--vkey", vkey])

    assert exported.exit_code == 0, exported.output
    assert f"wrote backup.jsonl: {size} entries, 2 checkpoints; root " in exported.stdout
    assert restored.exit_code == 0, restored.output
    assert restored.stderr == ""
    assert f"restored {size} entries and 2 checkpoints into {RESTORED}; verified" in restored.stdout
    assert "custody readmodels rebuild" in restored.stdout
    assert sizes(RESTORED) == (size, size)
    assert verified.exit_code == 0, verified.output
    root = exported.stdout.split("root ")[1].split(";")[0]
    assert f"intact: {size} entries" in verified.stdout and f"root {root}" in verified.stdout


def test_restore_without_a_pinned_key_warns_that_it_trusts_the_files_own(vkey: str) -> None:
    runner.invoke(app, ["export", "-o", "backup.jsonl.gz"])

    restored = runner.invoke(app, ["restore", "backup.jsonl.gz", "--db", RESTORED])

    assert restored.exit_code == 0, restored.output
    assert restored.stderr.strip() == (
        f"custody: warning: trusting the log key the backup names ({vkey}); "
        "pin the key you trust with --vkey"
    )


def test_restore_refuses_a_backup_signed_by_another_key_in_one_line(vkey: str) -> None:
    runner.invoke(app, ["export", "-o", "backup.jsonl"])
    stranger = Signer.from_text(generate_signer_key("localhost/custody")).verifier.vkey

    result = runner.invoke(app, ["restore", "backup.jsonl", "--db", RESTORED, "--vkey", stranger])

    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "custody: the backup names another log key than the one trusted: "
        f"expected {stranger}, got {vkey}"
    )
    assert Ledger(clock=system_clock, db=RESTORED).log_store.log_size() == 0


def test_restore_refuses_a_store_that_holds_anything(vkey: str) -> None:
    runner.invoke(app, ["export", "-o", "backup.jsonl"])
    size, _ = sizes()

    result = runner.invoke(app, ["restore", "backup.jsonl", "--vkey", vkey])  # ./custody.db

    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"custody: the target store is not empty ({size} entries, {size} events"
    )
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda data: data[: data.rindex(b"\n", 0, -1) + 1], "without its end record"),
        (lambda data: b"serial,manufacturer\n", "the line is not JSON"),
    ],
    ids=["truncated", "not-a-backup"],
)
def test_restore_refuses_a_file_that_is_not_a_whole_backup(
    vkey: str, in_tmp: Path, content: Callable[[bytes], bytes], message: str
) -> None:
    runner.invoke(app, ["export", "-o", "backup.jsonl"])
    path = in_tmp / "backup.jsonl"
    path.write_bytes(content(path.read_bytes()))

    result = runner.invoke(app, ["restore", "backup.jsonl", "--db", RESTORED, "--vkey", vkey])

    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_export_signs_a_checkpoint_of_the_whole_log_first(vkey: str) -> None:
    size = grow(2)

    result = runner.invoke(app, ["export", "-o", "backup.jsonl"])

    assert result.exit_code == 0, result.output
    assert sizes() == (size + 1, size + 1)  # the checkpoint's map root, then the checkpoint
    assert f"{size + 1} entries, 2 checkpoints" in result.stdout
    assert result.stderr == ""


def test_export_with_a_vkey_needs_no_signing_key_and_stops_at_the_latest_checkpoint(
    vkey: str, in_tmp: Path
) -> None:
    os.rename(in_tmp / "custody.key", in_tmp / "elsewhere.key")
    grow(2, key="elsewhere.key")
    size, checkpointed = sizes()  # init's checkpoint; the entries after it are unsigned

    without_key = runner.invoke(app, ["export", "-o", "backup.jsonl"])
    with_vkey = runner.invoke(app, ["export", "-o", "backup.jsonl", "--vkey", vkey])

    assert without_key.exit_code == 1
    assert "custody.key" in without_key.stderr
    assert with_vkey.exit_code == 0, with_vkey.output
    assert sizes() == (size, checkpointed)  # nothing signed, nothing appended
    assert f"wrote backup.jsonl: {checkpointed} entries, 1 checkpoints" in with_vkey.stdout
    assert with_vkey.stderr.strip() == (
        f"custody: note: {size - checkpointed} entries after its checkpoint are left out"
    )


def test_a_backup_keeps_its_origin_and_restore_says_how_to_serve_it(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUSTODY_ORIGIN", "ledger.example/custody")
    vkey = json.loads(runner.invoke(app, ["init", "--json"]).stdout)["vkey"]
    runner.invoke(app, ["export", "-o", "backup.jsonl"])
    monkeypatch.delenv("CUSTODY_ORIGIN")

    restored = runner.invoke(app, ["restore", "backup.jsonl", "--db", RESTORED, "--vkey", vkey])

    assert restored.exit_code == 0, restored.output
    assert "CUSTODY_ORIGIN=ledger.example/custody" in restored.stdout
    ledger = Ledger(clock=system_clock, db=RESTORED, origin="ledger.example/custody")
    assert ledger.tlog.verify(Signer.from_text(read_private_key_file("custody.key")).verifier)
