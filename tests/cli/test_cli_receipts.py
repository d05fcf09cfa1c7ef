"""`custody submit` keeping receipts, `custody receipts check`, `custody checkpoint pull` and
`custody verify-misbehaviour`, against a real `custody serve` whose store is changed behind its
back by someone with write access to the database but without the log key."""

from __future__ import annotations

import base64
import json
import re
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from custody_cli import app
from ledger.application.ledger import Ledger
from ledger.domain.times import system_clock
from ledger.integrity.signing import Signer, generate_signer_key
from tests.cli.test_cli_tokens_keys import (
    Store,
    admin,
    create,
    issued_item,
    keygen,
    registration,
    server,
    store,
)
from tests.programme import ADMIN
from tests.tampering import ORIGIN, Raw, delete_entries_from

__all__ = ["server", "store"]  # fixtures, used by name
runner = CliRunner()
STATE_LOG = Path("logs") / "localhost%2Fcustody"


def submit_inspection(store: Store, server: str, item: str) -> tuple[str, int]:
    """`custody submit` of a partner's self-reported inspection; the token and its log index."""
    keygen("unit-1", store.directory / "unit-1.key")
    body = registration(store.directory / "unit-1.key", "unit-1")  # with its proof (issue 14)
    registered = admin(store, server).post("/v1/parties/unit-1/keys", json=body)
    assert registered.is_success, registered.text
    token, _ = create("unit-1", "partner")
    body = {"result": "verified", "method": "self_report", "occurred_at": "2026-02-01T09:30:00Z"}
    args = ["submit", "inspect", item, "--data", json.dumps(body), "--key", "unit-1.key"]
    result = runner.invoke(app, [*args, "--server", server, "--token", token])
    assert result.exit_code == 0, result.output
    assert "trusting the log key localhost/custody+" in result.stderr
    return token, int(json.loads(result.stdout)["log_index"])


def rewrite_last(store: Store, index: int, item: str) -> None:
    """Replace the entries from `index` on by one other entry, chain and tree recomputed,
    with the Ledger's own code and a key of the log's name that is not the log's."""
    raw = Raw(store.url)
    delete_entries_from(raw, index)
    raw.close()
    forger = Ledger(
        clock=system_clock, db=store.url, signer=Signer.from_text(generate_signer_key(ORIGIN))
    )
    forger.inspect(item, result="not_presented", method="physical", actor=ADMIN,
                   occurred_at=system_clock())  # fmt: skip
    forger.close()


def test_submit_keeps_a_receipt_that_receipts_check_proves_included(
    store: Store, server: str, client_state: Path
) -> None:
    item = issued_item(store, server)
    token, index = submit_inspection(store, server, item)

    checked = runner.invoke(app, ["receipts", "check", "--server", server, "--token", token])

    kept = client_state / STATE_LOG / "receipts" / f"{index}.note"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert kept.read_text().startswith(f"custody-receipt/v1\nlocalhost/custody\n{index}\n")
    assert checked.exit_code == 0, checked.output
    assert f"entry {index}: included" in checked.stdout


def test_receipts_check_catches_a_rewritten_entry_and_verify_misbehaviour_confirms_it(
    store: Store, server: str, client_state: Path, tmp_path: Path
) -> None:
    item = issued_item(store, server)
    token, index = submit_inspection(store, server, item)
    rewrite_last(store, index, item)

    checked = runner.invoke(app, ["receipts", "check", "--server", server, "--token", token])

    assert checked.exit_code == 1
    found = re.search(rf"entry {index}: contradicted; evidence in (\S+)", checked.stdout)
    assert found, checked.stdout
    vkey = (client_state / STATE_LOG / "vkey").read_text().strip()
    confirmed = runner.invoke(app, ["verify-misbehaviour", found.group(1), "--vkey", vkey])
    assert confirmed.exit_code == 0, confirmed.output
    assert confirmed.stdout.startswith("receipt-contradicted (proven): the log key signed a ")
    record = json.loads(Path(found.group(1)).read_text())
    flipped = bytearray(base64.b64decode(record["inclusion_proof"][0]))
    flipped[0] ^= 0x01  # one bit of one proof hash, still canonical base64
    record["inclusion_proof"][0] = base64.b64encode(bytes(flipped)).decode()
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(record))
    refused = runner.invoke(app, ["verify-misbehaviour", str(tampered), "--vkey", vkey])
    assert refused.exit_code == 1
    (line,) = refused.stderr.splitlines()
    assert line.startswith("custody: the inclusion proof leads to another root")


def test_checkpoint_pull_refuses_a_rollback_and_a_fork_and_keeps_both_notes(
    store: Store, server: str, client_state: Path
) -> None:
    item = issued_item(store, server)
    pull = ["checkpoint", "pull", "--server", server, "--token", store.admin_token]
    first = runner.invoke(app, pull)
    inspection = admin(store, server).post(
        f"/v1/items/{item}/inspections",
        json={"result": "verified", "method": "physical", "occurred_at": "2026-02-01T09:30:00Z"},
    )
    grown = runner.invoke(app, pull)
    # the inspection goes, with the map root after it (issue 13) and the checkpoint covering both
    inspected = int(inspection.json()["log_index"])
    assert store.log_size() == inspected + 2
    raw = Raw(store.url)
    delete_entries_from(raw, inspected)
    raw.run("DELETE FROM {checkpoints} WHERE size > ?", inspected)
    raw.close()

    rolled_back = runner.invoke(app, pull)
    rewrite_last_after = Ledger(
        clock=system_clock, db=store.url, signer=Signer.from_text(generate_signer_key(ORIGIN))
    )
    rewrite_last_after.inspect(
        item, result="not_presented", method="physical", actor=ADMIN, occurred_at=system_clock()
    )
    rewrite_last_after.close()
    forked = runner.invoke(app, pull)

    assert first.exit_code == 0 and "(first seen)" in first.stdout, first.output
    assert grown.exit_code == 0 and "(consistent with the kept one)" in grown.stdout
    assert rolled_back.exit_code == 1
    assert "(rollback); the evidence is in" in rolled_back.stderr
    assert forked.exit_code == 1
    assert "(fork); the evidence is in" in forked.stderr
    files = sorted((client_state / STATE_LOG / "misbehaviour").iterdir())
    kinds = [json.loads(f.read_text())["kind"] for f in files]
    assert kinds == ["rollback", "fork"]
    kept = (client_state / STATE_LOG / "checkpoint").read_text()
    assert all(json.loads(f.read_text())["checkpoints"][0] == kept for f in files)
    vkey = (client_state / STATE_LOG / "vkey").read_text().strip()
    fork = runner.invoke(app, ["verify-misbehaviour", str(files[1]), "--vkey", vkey])
    assert fork.exit_code == 0 and fork.stdout.startswith("fork (proven): "), fork.output


@pytest.mark.parametrize("option", [[], ["--vkey", "other"]])
def test_a_log_key_other_than_the_kept_one_is_refused(
    store: Store, server: str, option: list[str]
) -> None:
    pull = ["checkpoint", "pull", "--server", server, "--token", store.admin_token]
    runner.invoke(app, pull)
    Path("other.vkey").write_text(Signer.from_text(generate_signer_key(ORIGIN)).verifier.vkey)
    option = [o if o != "other" else "@other.vkey" for o in option]

    again = runner.invoke(app, [*pull, *option])

    assert again.exit_code == (1 if option else 0)
    if option:
        (line,) = again.stderr.splitlines()
        assert "now shows another key than the one this client keeps" in line
