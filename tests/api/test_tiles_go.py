"""Interop: golang.org/x/mod reads the log's c2sp.org/tlog-tiles API (docs/verification.md,
section 13). tests/go/tiles_check/main.go, built with Debian's golang-go and
golang-golang-x-mod-dev off-line (GOPATH=/usr/share/gocode, GO111MODULE=off), fetches the checkpoint
from the app served by uvicorn on a free loopback port, opens it with sumdb/note and the log's vkey,
reads hash tiles through tlog.TileHashReader, checks tlog.TreeHash against the checkpoint's root,
and proves and checks inclusion (entries from entry bundles) and consistency with an older
checkpoint, refusing a tampered entry and a forged old root. `custody monitor` follows the same
served log over HTTP (that test needs no Go).

.ci/run installs Go; without it the test is skipped on a workstation and fails in CI (`CI` set), as
tests/browser does for Chromium.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from api.main import create_app
from custody_cli import app as cli_app
from ledger.application.ledger import Ledger
from ledger.integrity.signing import Signer
from tests import serving
from tests.conftest import SIGNER, Clock, unavailable
from tests.programme import ADMIN, issue, register

PROGRAM = Path(__file__).parent.parent / "go" / "tiles_check"
GOPATH = Path("/usr/share/gocode")
X_MOD = GOPATH / "src" / "golang.org" / "x" / "mod" / "sumdb" / "tlog"


def go_problem() -> str | None:
    if shutil.which("go") is None:
        return "go is missing: apt-get install golang-go golang-golang-x-mod-dev (as .ci/run does)"
    if not X_MOD.is_dir():
        return f"{X_MOD} is missing: apt-get install golang-golang-x-mod-dev (as .ci/run does)"
    return None


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    problem = go_problem()
    if problem is not None:
        unavailable("Go", problem)
    out = tmp_path_factory.mktemp("go")
    env = os.environ | {
        "GOPATH": str(GOPATH),
        "GO111MODULE": "off",
        "GOFLAGS": "",
        "GOCACHE": str(out / "cache"),
        "GOPROXY": "off",
    }
    built = subprocess.run(
        ["go", "build", "-o", str(out / "tiles_check"), "."],
        cwd=PROGRAM,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    return out / "tiles_check"


@pytest.fixture
def served(ledger_on_disk: Ledger) -> Iterator[str]:
    with serving.served(create_app(ledger_on_disk)) as url:
        yield url


@pytest.fixture
def ledger_on_disk(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger(
        clock=Clock(), db=f"sqlite:///{tmp_path / 'custody.db'}", create_tables=True, signer=SIGNER
    )
    register(ledger)
    yield ledger
    ledger.close()


def grow(ledger: Ledger, size: int, prefix: str) -> None:
    n = 0
    while ledger.log_store.log_size() < size:
        issue(ledger, f"{prefix}-{n}")
        n += 1


def test_go_reads_the_tiles_verifies_the_checkpoint_and_checks_inclusion_and_consistency(
    program: Path, ledger_on_disk: Ledger, served: str, tmp_path: Path
) -> None:
    ledger = ledger_on_disk
    grow(ledger, 300, "A")  # a full level-0 tile and a partial one
    old = tmp_path / "old.checkpoint"
    old.write_text(ledger.tlog.checkpoint())
    old_size = ledger.log_store.log_size()
    grow(ledger, 600, "B")
    ledger.tlog.checkpoint()
    size = ledger.log_store.log_size()
    grow(ledger, size + 5, "C")  # the tiles run ahead of the checkpoint
    token, _ = ledger.grant_token(party="operator", role="admin", actor=ADMIN)

    checked = subprocess.run(
        [str(program), served, ledger.tlog.verifier().vkey, token, str(old)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
    lines = checked.stdout.splitlines()
    assert f"ok checkpoint {size} opened" in lines
    assert any(line.startswith(f"ok TreeHash({size}) from") for line in lines), lines
    assert f"ok entry 256 included in tree {size}" in lines
    assert f"ok entry {size - 1} included in tree {size}" in lines
    assert f"ok tree {size} consistent with tree {old_size}" in lines


def test_go_refuses_a_checkpoint_under_another_key(
    program: Path, ledger_on_disk: Ledger, served: str, tmp_path: Path
) -> None:
    grow(ledger_on_disk, 5, "A")
    old = tmp_path / "old.checkpoint"
    old.write_text(ledger_on_disk.tlog.checkpoint())
    other = Signer("localhost/custody", Ed25519PrivateKey.from_private_bytes(b"\x08" * 32))

    checked = subprocess.run(
        [str(program), served, other.verifier.vkey, "no-token", str(old)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert checked.returncode == 1
    assert "FAIL note.Open" in checked.stderr


def test_custody_monitor_follows_the_served_log_over_http(
    ledger_on_disk: Ledger, served: str
) -> None:
    """No Go needed: `custody monitor` against the same served log, tiles fetched over HTTP."""
    ledger = ledger_on_disk
    grow(ledger, 300, "A")
    first_size = int(ledger.tlog.checkpoint().split("\n")[1])
    vkey = ledger.tlog.verifier().vkey
    first = CliRunner().invoke(cli_app, ["monitor", f"{served}/tlog", "--vkey", vkey])
    grow(ledger, 700, "B")
    ledger.tlog.checkpoint()
    token, _ = ledger.grant_token(party="operator", role="admin", actor=ADMIN)
    second = CliRunner().invoke(cli_app, ["monitor", f"{served}/tlog/", "--token", token])

    assert first.exit_code == 0, first.output
    assert f"size {first_size} root" in first.stdout and "first seen" in first.stdout
    assert second.exit_code == 0, second.output
    assert f"consistent with size {first_size}" in second.stdout
    assert "new entries re-hashed" in second.stdout
