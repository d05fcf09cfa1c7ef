"""GET /v1/parties, GET /v1/agreements, `custody parties`, `custody agreements` (issue 16): a new
user discovers the ids to use."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from custody_cli import app
from ledger.application.ledger import Ledger
from ledger.domain.times import system_clock
from ledger.integrity.endorsements import prove_key
from ledger.integrity.signing import Signer, read_private_key_file
from tests.programme import ADMIN, UNITS, register_parties

runner = CliRunner()


def test_every_role_lists_the_parties_in_the_order_registered_with_their_keys(
    api_ledger: Ledger, client: TestClient
) -> None:
    token, _ = api_ledger.grant_token(party="unit-2", role="partner", actor=ADMIN)
    proved = prove_key(Ed25519PrivateKey.generate(), origin=api_ledger.origin, party="unit-1")
    key, _ = api_ledger.register_key(party="unit-1", actor=ADMIN, **proved)

    listed = client.get("/v1/parties", headers={"Authorization": f"Bearer {token}"})

    assert listed.status_code == 200, listed.text
    parties = listed.json()["parties"]
    assert [p["id"] for p in parties] == [
        "operator",
        "supplier",
        "force",
        *UNITS,
        "outsider",
        "inspectorate",
        "investigator",
    ]
    unit_1 = next(p for p in parties if p["id"] == "unit-1")
    assert (unit_1["kind"], unit_1["parent"]) == ("recipient", "force")
    assert [k["key_id"] for k in unit_1["keys"]] == [key]
    assert unit_1["keys"][0]["revoked_at"] is None


def test_every_role_lists_the_agreements(api_ledger: Ledger, client: TestClient) -> None:
    listed = client.get("/v1/agreements")

    assert listed.status_code == 200, listed.text
    assert listed.json()["agreements"] == [
        {
            "id": "eua-1",
            "supplier": "supplier",
            "programme": "Programme One",
            "authorized_holders": ["force", *UNITS],
            "retransfer_requires_consent": True,
            "areas": [],
        }
    ]


def test_the_lists_need_a_token(client: TestClient) -> None:
    del client.headers["Authorization"]

    assert client.get("/v1/parties").status_code == 401
    assert client.get("/v1/agreements").status_code == 401


def test_custody_parties_and_agreements_print_the_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path / 'custody.db'}"
    assert runner.invoke(app, ["init", "--db", db, "--key", "k.key"]).exit_code == 0
    signer = Signer.from_text(read_private_key_file(tmp_path / "k.key"))
    ledger = Ledger(clock=system_clock, db=db, signer=signer)
    register_parties(ledger)
    ledger.close()

    parties = runner.invoke(app, ["parties", "--db", db])
    agreements = runner.invoke(app, ["agreements", "--db", db])

    assert parties.exit_code == 0, parties.output
    assert agreements.exit_code == 0, agreements.output
    for party in ("operator", "supplier", "force", "unit-3", "inspectorate"):
        assert f"│ {party} " in parties.stdout, parties.stdout
    assert "│ eua-1 " in agreements.stdout
    assert "Programme One" in agreements.stdout
