"""`custody monitor` (ledger/verification/monitor.py) follows a log through its public tiles: two
stores on
SQLite or PostgreSQL sharing one log key and origin, diverging, stand for a log that shows one
monitor a tree and later another. A fork and a rollback are refused with a misbehaviour file that
`custody verify-misbehaviour` proves; a log that only grows passes, one line per new checkpoint."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import custody_cli.log
from api.main import create_app
from custody_cli import app as cli_app
from ledger.application.ledger import Ledger
from ledger.domain.errors import CustodyError, IntegrityFailure, ProofError
from ledger.integrity import merkle
from ledger.verification.client_state import ClientState
from ledger.verification.monitor import TileNodes, monitor_step
from ledger.witness.cosignatures import CosignerKey, cosign, with_signatures
from ledger.witness.witness_policy import parse_policy
from tests.conftest import SIGNER, LedgerFactory
from tests.programme import ADMIN, issue, register

runner = CliRunner()
Fetch = Callable[[str], bytes]


def grow(ledger: Ledger, size: int, prefix: str) -> None:
    n = 0
    while ledger.log_store.log_size() < size:
        issue(ledger, f"{prefix}-{n}")
        n += 1


def served(ledger: Ledger, token: str = "") -> Fetch:
    client = TestClient(create_app(ledger), raise_server_exceptions=False)
    if token:
        client.headers["Authorization"] = f"Bearer {token}"

    def fetch(path: str) -> bytes:
        response = client.get(f"/tlog/{path}")  # the tiles need no token
        if response.is_error:
            raise CustodyError(f"/tlog/{path} answered {response.status_code}")
        return response.content

    return fetch


@pytest.fixture
def two(make_ledger: LedgerFactory, db_url: str, sqlite_url: str) -> tuple[Ledger, Ledger]:
    """One log key, two stores: `db_url` and a SQLite file."""
    other = sqlite_url.replace("custody.db", "other.db")
    first, second = make_ledger(db_url), make_ledger(other)
    for ledger in (first, second):
        register(ledger)
    return first, second


def test_the_tiles_give_every_node_the_store_holds(two: tuple[Ledger, Ledger]) -> None:
    ledger = two[0]
    grow(ledger, 600, "A")
    size = ledger.log_store.log_size()
    nodes = TileNodes(served(ledger), size)
    keys = [(level, 0) for level in range(10)] + [(3, 70), (8, 1), (0, size - 1), (4, 33)]
    assert nodes.read_nodes(keys) == ledger.log_store.read_nodes(keys)
    assert merkle.root(size, nodes) == ledger.tlog.root(size)


def test_a_log_that_grows_passes_with_one_line_per_new_checkpoint(
    two: tuple[Ledger, Ledger], client_state: Path
) -> None:
    ledger, state = two[0], ClientState(client_state)
    fetch = served(ledger)
    grow(ledger, 20, "A")
    ledger.tlog.checkpoint()
    first = monitor_step(state, SIGNER.verifier, fetch, now=ledger.clock())
    same = monitor_step(state, SIGNER.verifier, fetch, now=ledger.clock())
    grow(ledger, 300, "B")
    ledger.tlog.checkpoint()
    grown = monitor_step(state, SIGNER.verifier, fetch, now=ledger.clock())

    assert "first seen, trusted on first use" in first.line()
    assert not same.new and same.line().endswith(": unchanged")
    assert grown.line().endswith(f": consistent with size {first.checkpoint.size}")
    assert state.checkpoint(SIGNER.name) == ledger.tlog.checkpoint()


@pytest.mark.parametrize(
    ("kept", "shown", "check", "evidence"),
    [
        pytest.param(
            (20, "A"),
            (40, "Z"),  # same key, another history
            "inconsistent with the checkpoint this client kept",
            "inconsistent",
            id="a-fork",
        ),
        pytest.param((40, "A"), (20, "A"), r"\(rollback\)", "rollback", id="a-rollback"),
    ],
)
def test_a_fork_or_a_rollback_is_refused_with_evidence(
    two: tuple[Ledger, Ledger],
    client_state: Path,
    kept: tuple[int, str],
    shown: tuple[int, str],
    check: str,
    evidence: str,
) -> None:
    """The monitor keeps a checkpoint of the first store, then is shown one of the second."""
    first, second = two
    state = ClientState(client_state)
    grow(first, *kept)
    first.tlog.checkpoint()
    monitor_step(state, SIGNER.verifier, served(first), now=first.clock())
    grow(second, *shown)
    second.tlog.checkpoint()

    with pytest.raises(ProofError, match=check):
        monitor_step(state, SIGNER.verifier, served(second), now=first.clock())

    assert list((client_state / "logs").rglob(f"*-{evidence}.json"))


def test_tiles_that_do_not_hash_to_the_checkpoint_are_refused(
    two: tuple[Ledger, Ledger], client_state: Path
) -> None:
    signed, other = two
    grow(signed, 20, "A")
    note = signed.tlog.checkpoint()
    grow(other, signed.log_store.log_size(), "Z")
    tiles = served(other)

    def mixed(path: str) -> bytes:
        return note.encode() if path == "checkpoint" else tiles(path)

    with pytest.raises(IntegrityFailure, match="do not hash to its checkpoint's root"):
        monitor_step(ClientState(client_state), SIGNER.verifier, mixed, now=signed.clock())


def test_custody_monitor_exits_1_on_a_fork_and_the_evidence_proves_it(
    two: tuple[Ledger, Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    honest, forked = two
    grow(honest, 20, "A")
    honest.tlog.checkpoint()
    grow(forked, 20, "Z")  # the same size, another root
    forked.tlog.checkpoint()
    vkey = SIGNER.verifier.vkey
    shown = {"log": served(honest)}
    monkeypatch.setattr(
        custody_cli.log, "_tile_fetch", lambda url, token="": lambda path: shown["log"](path)
    )

    seen = runner.invoke(cli_app, ["monitor", "http://log.example/tlog", "--vkey", vkey])
    assert seen.exit_code == 0, seen.output
    assert "first seen" in seen.stdout and seen.stdout.count("\n") == 1

    shown["log"] = served(forked)
    refused = runner.invoke(cli_app, ["monitor", "http://log.example/tlog"])
    assert refused.exit_code == 1, refused.output
    found = re.search(r"the evidence is in (\S+\.json)", refused.stderr)
    assert found, refused.stderr
    proven = runner.invoke(cli_app, ["verify-misbehaviour", found.group(1), "--vkey", vkey])
    assert proven.exit_code == 0, proven.output
    assert proven.stdout.startswith("fork (proven)")


def test_custody_monitor_needs_a_key_the_first_time(
    two: tuple[Ledger, Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    grow(two[0], 5, "A")
    two[0].tlog.checkpoint()
    monkeypatch.setattr(custody_cli.log, "_tile_fetch", lambda url, token="": served(two[0]))
    result = runner.invoke(cli_app, ["monitor", "http://log.example/tlog"])
    assert result.exit_code == 1
    assert "pass --vkey the first time" in result.stderr


WITNESS = CosignerKey("w1.example", Ed25519PrivateKey.from_private_bytes(b"\x21" * 32))
OTHER_WITNESS = CosignerKey("w2.example", Ed25519PrivateKey.from_private_bytes(b"\x22" * 32))


def test_with_a_witness_policy_a_checkpoint_must_meet_its_quorum(
    two: tuple[Ledger, Ledger], client_state: Path
) -> None:
    ledger, state = two[0], ClientState(client_state)
    grow(ledger, 10, "A")
    note = ledger.tlog.checkpoint()
    size = ledger.log_store.log_size()
    text = note.split("\n\n")[0] + "\n"
    ledger.log_store.add_cosignatures(
        size, with_signatures(note, [cosign(text, WITNESS, timestamp=7)])
    )
    policy = f"log {SIGNER.verifier.vkey}\nwitness w1 {WITNESS.verifier.vkey}\n"
    both = policy + f"witness w2 {OTHER_WITNESS.verifier.vkey}\ngroup g all w1 w2\nquorum g\n"

    with pytest.raises(ProofError, match="witness quorum g is not met"):
        monitor_step(
            state, SIGNER.verifier, served(ledger), now=ledger.clock(), policy=parse_policy(both)
        )
    met = monitor_step(
        state,
        SIGNER.verifier,
        served(ledger),
        now=ledger.clock(),
        policy=parse_policy(policy + "quorum w1\n"),
    )

    assert met.cosigners == ("w1",)
    assert " cosigned by w1: first seen" in met.line()


def test_with_entries_readable_the_new_entries_are_rehashed_against_the_tiles(
    two: tuple[Ledger, Ledger], client_state: Path
) -> None:
    ledger, state = two[0], ClientState(client_state)
    token, _ = ledger.grant_token(party="operator", role="admin", actor=ADMIN)
    grow(ledger, 20, "A")
    ledger.tlog.checkpoint()
    first = monitor_step(
        state, SIGNER.verifier, served(ledger, token), now=ledger.clock(), entries=True
    )
    grow(ledger, 300, "B")
    ledger.tlog.checkpoint()
    honest = served(ledger, token)

    def altered(path: str) -> bytes:
        data = honest(path)
        return data[:-1] + bytes([data[-1] ^ 1]) if path.startswith("tile/entries/") else data

    with pytest.raises(IntegrityFailure, match=r"entry \d+ does not hash to its leaf"):
        monitor_step(state, SIGNER.verifier, altered, now=ledger.clock(), entries=True)
    grown = monitor_step(state, SIGNER.verifier, honest, now=ledger.clock(), entries=True)

    assert first.rehashed == first.checkpoint.size
    assert grown.rehashed == grown.checkpoint.size - first.checkpoint.size
    assert f"({grown.rehashed} new entries re-hashed)" in grown.line()
