"""The `custody` command: init, serve's checks, demo; one-line errors and exit status."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from custody_cli import app
from ledger.application.ledger import Ledger
from ledger.domain.times import system_clock
from ledger.integrity.signing import Signer, Verifier, generate_signer_key
from ledger.witness.cosignatures import CosignerKey
from ledger.witness.witness_policy import parse_policy, verify_policy_checkpoint

runner = CliRunner()


def test_init_json_prints_an_admin_token_that_works_and_the_verifier_key(in_tmp: Path) -> None:
    result = runner.invoke(app, ["init", "--json", "--db", "sqlite:///here.db"])

    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert Verifier.from_vkey(printed["vkey"]).name == "localhost/custody"
    ledger = Ledger(clock=system_clock, db="sqlite:///here.db")
    assert ledger.authenticate(printed["admin_token"]).role.value == "admin"
    assert stat.S_IMODE((in_tmp / "custody.key").stat().st_mode) == 0o600
    assert printed["admin_token"] not in (in_tmp / "custody.key").read_text()


def test_init_honours_the_environment_and_the_db_option_wins(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUSTODY_DB", "sqlite:///from-env.db")
    monkeypatch.setenv("CUSTODY_KEY", "ledger.key")
    monkeypatch.setenv("CUSTODY_ORIGIN", "ledger.example/custody")

    result = runner.invoke(app, ["init", "--json", "--db", "sqlite:///from-option.db"])

    assert result.exit_code == 0, result.output
    assert (in_tmp / "from-option.db").exists() and not (in_tmp / "from-env.db").exists()
    assert json.loads(result.stdout)["vkey"].startswith("ledger.example/custody+")
    assert (in_tmp / "ledger.key").exists()


def test_init_twice_fails_with_one_line_and_changes_nothing(in_tmp: Path) -> None:
    runner.invoke(app, ["init", "--json"])
    key = (in_tmp / "custody.key").read_bytes()

    again = runner.invoke(app, ["init"])

    assert again.exit_code == 1
    assert (
        again.stderr.strip()
        == "custody: key file custody.key exists already; refusing to overwrite it"
    )
    assert (in_tmp / "custody.key").read_bytes() == key


def test_init_on_an_initialised_store_with_a_new_key_path_is_refused(in_tmp: Path) -> None:
    runner.invoke(app, ["init", "--json"])

    again = runner.invoke(app, ["init"], env={"CUSTODY_KEY": "other.key"})

    assert again.exit_code == 1
    assert again.stderr.strip() == "custody: this ledger is initialised already"
    assert not (in_tmp / "other.key").exists()


def test_a_bad_store_url_is_one_line_and_exit_1() -> None:
    result = runner.invoke(app, ["init", "--db", "mysql://x"])

    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "custody: CUSTODY_DB 'mysql://x' must start with sqlite:/// or postgresql://"
    )


def test_serve_refuses_a_store_that_was_never_initialised_and_creates_none(in_tmp: Path) -> None:
    (in_tmp / "empty.db").touch()

    missing = runner.invoke(app, ["serve", "--db", "sqlite:///nowhere.db"])
    empty = runner.invoke(app, ["serve", "--db", "sqlite:///empty.db"])

    assert (missing.exit_code, empty.exit_code) == (1, 1)
    assert missing.stderr == (
        "custody: no ledger at sqlite:///nowhere.db: run `custody init` or pass --db\n"
    )
    assert empty.stderr == (
        "custody: no ledger at sqlite:///empty.db: run `custody init` or pass --db\n"
    )
    assert not (in_tmp / "nowhere.db").exists()


def test_serve_runs_the_app_with_the_configured_server_settings_public_tiles_off_too(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`custody serve` and api/main.py's app_from_env build the same app (api.main.configured_app);
    serve used to leave CUSTODY_PUBLIC_TILES out, so the tiles stayed public whatever it said."""
    runner.invoke(app, ["init", "--json"])
    served: list[FastAPI] = []
    monkeypatch.setattr(uvicorn, "run", lambda app_, **_: served.append(app_))

    result = runner.invoke(app, ["serve"], env={"CUSTODY_PUBLIC_TILES": "off"})

    assert result.exit_code == 0, result.output
    (api,) = served
    assert api.state.public_tiles is False
    assert TestClient(api).get("/tlog/checkpoint").status_code == 401


def test_demo_prints_where_its_store_and_key_are_and_commands_that_use_them(in_tmp: Path) -> None:
    result = runner.invoke(app, ["demo", "--no-serve", "--items", "3"])
    lines = result.stdout.splitlines()
    verify = next(line for line in lines if line.startswith("  custody verify"))

    again = runner.invoke(app, verify.split()[1:])

    assert result.exit_code == 0, result.output
    assert "store: sqlite:///custody-demo/custody.db" in lines
    assert "signing key: custody-demo/custody.key (mode 0600)" in lines
    assert verify == (
        "  custody verify --db sqlite:///custody-demo/custody.db --key custody-demo/custody.key"
    )
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("intact: ")


def test_demo_builds_a_programme_without_serving_it(in_tmp: Path) -> None:
    result = runner.invoke(app, ["demo", "--no-serve", "--items", "40", "--witness-port", "0"])

    assert result.exit_code == 0, result.output
    assert "demo ledger: 40 items" in result.stdout
    ledger = Ledger(clock=system_clock, db=f"sqlite:///{in_tmp / 'custody-demo' / 'custody.db'}")
    assert ledger.log_store.log_size() > 40
    again = runner.invoke(app, ["demo", "--no-serve", "--items", "5", "--witness-port", "0"])
    assert again.exit_code == 0, again.output


def test_the_demos_latest_checkpoint_is_cosigned_by_its_own_witness_under_the_policy_it_wrote(
    in_tmp: Path,
) -> None:
    result = runner.invoke(app, ["demo", "--no-serve", "--items", "5", "--witness-port", "0"])

    assert result.exit_code == 0, result.output
    demo_dir = in_tmp / "custody-demo"
    policy = parse_policy((demo_dir / "witness-policy.txt").read_bytes())
    ledger = Ledger(clock=system_clock, db=f"sqlite:///{demo_dir / 'custody.db'}")
    size, note = ledger.log_store.latest_checkpoint() or (0, "")
    checkpoint, cosigned = verify_policy_checkpoint(policy, note)
    assert (checkpoint.size, [c.witness for c in cosigned]) == (size, ["demo-witness"])
    assert size == ledger.log_store.log_size()
    witness_vkey = CosignerKey.from_text(
        (demo_dir / "witness.key").read_text().strip()
    ).verifier.vkey
    assert "witness: demo-witness on http://127.0.0.1:" in result.stdout
    assert f"(its key: {witness_vkey})" in result.stdout
    assert f"--policy {demo_dir.relative_to(in_tmp) / 'witness-policy.txt'}" in result.stdout


def test_demo_says_so_in_one_line_when_its_witness_port_is_taken(in_tmp: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = runner.invoke(app, ["demo", "--no-serve", "--witness-port", str(port)])

    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"custody: the demo witness cannot listen on 127.0.0.1:{port} (Address already in use);"
        " choose another port with --witness-port (0: any free port)"
    )


def test_demo_will_not_delete_a_directory_it_did_not_make(in_tmp: Path) -> None:
    (in_tmp / "precious").mkdir()
    (in_tmp / "precious" / "data.txt").write_text("keep me")

    result = runner.invoke(app, ["demo", "--no-serve", "--dir", "precious"])

    assert result.exit_code == 1
    assert (in_tmp / "precious" / "data.txt").read_text() == "keep me"


def test_demo_can_build_in_a_store_named_by_db(in_tmp: Path) -> None:
    result = runner.invoke(
        app,
        [
            "demo",
            "--no-serve",
            "--items",
            "3",
            "--db",
            "sqlite:///elsewhere.db",
            "--witness-port",
            "0",
        ],
        env={"CUSTODY_KEY": "elsewhere.key"},
    )

    assert result.exit_code == 0, result.output
    assert (in_tmp / "elsewhere.db").exists() and (in_tmp / "elsewhere.key").exists()
    assert not (in_tmp / "custody-demo").exists()
    assert (in_tmp / "elsewhere-witness" / "witness-policy.txt").exists()


def test_right_after_init_verify_checks_the_key_because_init_signed_a_checkpoint(
    in_tmp: Path,
) -> None:
    runner.invoke(app, ["init", "--json"])
    stranger = Signer.from_text(generate_signer_key("localhost/custody")).verifier.vkey

    ours = runner.invoke(app, ["verify"])
    theirs = runner.invoke(app, ["verify", "--vkey", stranger])

    ledger = Ledger(clock=system_clock, db="sqlite:///custody.db")
    signed = ledger.log_store.latest_checkpoint()
    assert signed is not None and signed[0] == ledger.log_store.log_size()  # init's whole log
    ledger.close()
    assert ours.exit_code == 0 and "1 checkpoints" in ours.stdout
    assert theirs.exit_code == 1
    assert "the entry's receipt does not verify at position 0" in theirs.stderr
