"""The `custody` commands of evidence and witnessing: witness-keygen, evidence, verify-evidence, and
(end to end, in subprocesses) witness beside serve.

The store is the witnessed history of tests/verification/test_evidence.py, built in process; the
commands then read it as an investigator would, with only the bundle file and the published keys.
"""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from typer.testing import CliRunner

from custody_cli import app
from ledger.application.ledger import Ledger
from ledger.domain.times import format_time
from ledger.integrity.signing import read_private_key_file, write_private_key_file
from ledger.witness.cosignatures import CosignerKey, CosignerVerifier, generate_cosigner_key
from ledger.witness.witness_policy import parse_policy, verify_policy_checkpoint
from tests.conftest import SIGNER, Clock
from tests.e2e.test_serve import env, free_port, initialised, start, started, wait_until_up
from tests.verification.test_evidence import (
    COMPLETE,
    DISCOVERED,
    INSPECTED,
    ITEM_INDEXES,
    LOST,
    SIZE,
    TIMELINE,
    UNBOUNDED,
    build_history,
    hour,
)
from tests.witness.test_witnessing import Network, policy_text

__all__ = ["env", "started"]  # fixtures, used by name
runner = CliRunner()
VKEY = SIGNER.verifier.vkey


@pytest.fixture
def item(tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Iterator[UUID]:
    """The witnessed history in ./custody.db, its key in ./custody.key, the policy in policy.txt."""
    network = Network(tmp_path, clock)
    ledger = Ledger(
        clock=clock,
        db="sqlite:///custody.db",
        create_tables=True,
        signer=SIGNER,
        **network.ledger_options(),
    )
    history = build_history(ledger, network, clock)
    write_private_key_file("custody.key", SIGNER.to_text())
    Path("policy.txt").write_text(policy_text())
    monkeypatch.setenv("CUSTODY_DB", "sqlite:///custody.db")
    monkeypatch.setenv("CUSTODY_KEY", "custody.key")
    yield history.item
    ledger.close()


def evidence(item: UUID) -> None:
    result = runner.invoke(app, ["evidence", str(item), "-o", "bundle.json"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote bundle.json: 6 entries of item {item}\n"


def verify(*options: str, bundle: str = "bundle.json") -> tuple[int, list[str], str]:
    result = runner.invoke(app, ["verify-evidence", bundle, *options])
    return result.exit_code, result.stdout.splitlines(), result.stderr


ISSUED_AT, TRANSFERRED_AT, INSPECTED_AT, SELF_REPORTED_AT, LOST_AT, SIGHTED_AT = ITEM_INDEXES
LOSS_LINE = (
    f"2026-02-25T22:00:00.000000Z  #{LOST_AT:<6} ReportedLost  stolen, discovered "
    "2026-02-26T07:00:00.000000Z  (holder unit-2; recorded 2026-03-01T17:00:00.000000Z by "
    "operator)  [on record after 2026-03-01T16:00:00.000000Z, by 2026-03-01T17:00:00.000000Z]"
)


def timeline(windows: bool) -> list[str]:
    """The timeline lines of the history as `custody verify-evidence` prints them."""
    lines = []
    for index, kind, occurred, n, actor, holder, detail, signer in TIMELINE:
        recorded = format_time(hour(n))
        line = (
            f"{format_time(occurred)}  #{index:<6} {kind:<13} {detail}  "
            f"(holder {holder}; recorded {recorded} by {actor})"
        )
        line += f"  signed by {signer}" if signer else ""
        if kind == "Inspected":
            line += "  [the holder's statement]" if actor == "unit-2" else "  [independent]"
        line += f"  [on record after {format_time(hour(n - 1))}, by {recorded}]" if windows else ""
        lines.append(line)
    return lines


def conclusion() -> list[str]:
    return [
        f"last verified in control: #{INSPECTED_AT} {format_time(INSPECTED)}",
        f"left control: #{LOST_AT} {format_time(LOST)} "
        f"(stolen, discovered {format_time(DISCOVERED)})",
        f"note: {COMPLETE}",
    ]


# witness-keygen -----------------------------------------------------------------------------------


def test_witness_keygen_writes_a_0600_key_file_and_prints_its_verifier_key(in_tmp: Path) -> None:
    result = runner.invoke(app, ["witness-keygen", "--name", "witness.example.org", "-o", "w.key"])

    assert result.exit_code == 0, result.output
    key = CosignerKey.from_text(read_private_key_file("w.key", check=CosignerKey.from_text))
    assert stat.S_IMODE((in_tmp / "w.key").stat().st_mode) == 0o600
    assert result.stdout == (f"private key: w.key (mode 0600)\nverifier key: {key.verifier.vkey}\n")
    assert CosignerVerifier.from_vkey(key.verifier.vkey).name == "witness.example.org"


def test_witness_keygen_refuses_to_overwrite_a_key_file(in_tmp: Path) -> None:
    runner.invoke(app, ["witness-keygen", "--name", "w.example", "-o", "w.key"])
    before = (in_tmp / "w.key").read_text()

    again = runner.invoke(app, ["witness-keygen", "--name", "w.example", "-o", "w.key"])

    assert again.exit_code == 1
    assert again.stderr == "custody: refusing to overwrite the existing file w.key\n"
    assert (in_tmp / "w.key").read_text() == before


# evidence and verify-evidence ---------------------------------------------------------------------


def test_evidence_then_verify_evidence_with_the_policy_prints_the_timeline_and_when_it_left(
    item: UUID,
) -> None:
    evidence(item)

    status, lines, errors = verify("--vkey", VKEY, "--policy", "policy.txt")

    assert (status, errors) == (0, "")
    assert lines == [
        f"item {item}: verified against checkpoint size {SIZE}",
        *(f"cosigned by w{i} at {format_time(hour(6))}" for i in range(3)),
        *timeline(windows=True),
        *conclusion(),
    ]
    assert LOSS_LINE in lines


def test_verify_evidence_without_a_policy_says_the_times_are_unbounded(item: UUID) -> None:
    evidence(item)
    Path("vkey.txt").write_text(VKEY + "\n")

    status, lines, _ = verify("--vkey", "@vkey.txt")

    assert status == 0
    assert lines == [
        f"item {item}: verified against checkpoint size {SIZE}",
        *timeline(windows=False),
        *conclusion(),
        f"note: {UNBOUNDED}",
    ]


def test_a_tampered_bundle_exits_1_with_one_line_saying_where(item: UUID) -> None:
    evidence(item)
    bundle = json.loads(Path("bundle.json").read_bytes())
    entry = bytearray(base64.b64decode(bundle["entries"][4]["entry"]))
    entry[entry.index(b"stolen")] = ord("S")
    bundle["entries"][4]["entry"] = base64.b64encode(bytes(entry)).decode()
    Path("bundle.json").write_text(json.dumps(bundle))

    status, lines, errors = verify("--vkey", VKEY, "--policy", "policy.txt")

    assert (status, lines) == (1, [])
    assert errors.startswith(
        f"custody: entry {LOST_AT} is not in the checkpointed log: "
        f"the inclusion proof leads to another root at position {LOST_AT}: expected "
    )
    assert errors.count("\n") == 1


def test_a_policy_whose_quorum_the_bundle_cannot_meet_exits_1(item: UUID) -> None:
    evidence(item)
    fourth = CosignerKey.from_text(generate_cosigner_key("w3.example")).verifier.vkey
    Path("strict.txt").write_text(
        policy_text(quorum="") + f"witness w3 {fourth}\ngroup all4 all w0 w1 w2 w3\nquorum all4\n"
    )

    status, lines, errors = verify("--vkey", VKEY, "--policy", "strict.txt")

    assert (status, lines) == (1, [])
    assert errors == (
        "custody: witness quorum all4 is not met: 4 of 4 witnesses required, "
        "3 valid cosignatures: w0, w1, w2\n"
    )


def test_verify_evidence_with_another_log_key_exits_1(item: UUID) -> None:
    evidence(item)
    vkey = "localhost/custody+44f92b18+AVfj1st9paCE1Q+fdL5H6Ov7ysGUZNNdLfWpjXEZnv1+"

    status, _, errors = verify("--vkey", vkey)

    assert status == 1
    assert errors == (f"custody: the bundle names another log key: expected {vkey}, got {VKEY}\n")


def test_a_file_that_is_not_a_bundle_exits_1(in_tmp: Path) -> None:
    Path("bundle.json").write_text("not json")

    status, _, errors = verify("--vkey", VKEY)

    assert (status, errors) == (1, "custody: the bundle is not JSON\n")


def test_a_bundle_with_an_entry_missing_its_proof_exits_1_with_one_line(item: UUID) -> None:
    evidence(item)
    bundle = json.loads(Path("bundle.json").read_bytes())
    del bundle["entries"][0]["inclusion_proof"]
    Path("bundle.json").write_text(json.dumps(bundle))

    status, _, errors = verify("--vkey", VKEY)

    assert status == 1
    assert errors.startswith("custody: ") and errors.count("\n") == 1


# custody witness beside custody serve, for real ---------------------------------------------------


def test_a_served_ledger_has_its_checkpoints_cosigned_by_a_running_witness(
    in_tmp: Path, env: dict[str, str], started: list[subprocess.Popen[str]]
) -> None:
    printed = initialised(in_tmp, env)
    runner.invoke(app, ["witness-keygen", "--name", "w.example", "-o", "w.key"])
    witness_key = CosignerKey.from_text(read_private_key_file("w.key", check=CosignerKey.from_text))
    witness_port, port = free_port(), free_port()
    policy = (
        f"log {printed['vkey']}\n"
        f"witness w {witness_key.verifier.vkey} http://127.0.0.1:{witness_port}\nquorum w\n"
    )
    (in_tmp / "policy.txt").write_text(policy)
    witness_command = ["witness", "--key", "w.key", "--log", printed["vkey"], "--db", "w.db"]
    for command, extra in (
        ([*witness_command, "--port", str(witness_port)], {}),
        (["serve", "--port", str(port)], {"CUSTODY_WITNESS_POLICY": "policy.txt"}),
    ):
        start(started, *command, cwd=in_tmp, env=env | extra)
    wait_until_up(f"http://127.0.0.1:{witness_port}/key", started[0])
    wait_until_up(f"http://127.0.0.1:{port}/openapi.json", started[1])
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {printed['admin_token']}"},
    )

    client.post("/v1/parties", json={"id": "unit-1", "name": "U", "kind": "recipient"})
    note = client.get("/v1/log/checkpoint").text

    logged = client.get("/v1/log/entries", params={"start": 0, "end": 1000}).json()["entries"]

    checkpoint, cosignatures = verify_policy_checkpoint(parse_policy(policy), note)
    assert checkpoint.size == len(logged)  # init's entries, its map root, unit-1's, a map root
    assert [c.witness for c in cosignatures] == ["w"]
    assert abs(cosignatures[0].timestamp - time.time()) < 120
    assert note.split("\n")[-2].startswith("— w.example ")
    refused = httpx.get(f"http://127.0.0.1:{witness_port}/misbehaviour").json()
    assert refused == {"evidence": []}
