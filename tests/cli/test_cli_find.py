"""`custody find`, and `custody evidence` / `custody submit` naming an item by its serial with
--manufacturer and --model (docs/identity.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.client import CustodyClient
from api.main import create_app
from custody_cli import app
from ledger.application.ledger import Ledger
from ledger.integrity.signing import write_private_key_file
from tests.conftest import SIGNER, Clock
from tests.programme import ADMIN, issue, register

runner = CliRunner()


@pytest.fixture
def store(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    ledger = Ledger(clock=clock, db="sqlite:///custody.db", create_tables=True, signer=SIGNER)
    register(ledger)
    write_private_key_file("custody.key", SIGNER.to_text())
    monkeypatch.setenv("CUSTODY_DB", "sqlite:///custody.db")
    monkeypatch.setenv("CUSTODY_KEY", "custody.key")
    yield ledger
    ledger.close()


@pytest.fixture
def items(store: Ledger) -> dict[str, UUID]:
    return {s: issue(store, s) for s in ("AK-1000", "AK-1090", "XAK-10000")}


def test_find_prints_the_ranked_candidates_as_json(items: dict[str, UUID]) -> None:
    result = runner.invoke(app, ["find", "AK-10?0", "--json"])

    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert [(c["serial"], c["match"]) for c in found["items"]] == [
        ("AK-1090", "whole"),
        ("AK-1000", "whole"),
        ("XAK-10000", "partial"),
    ]
    assert found["items"][1]["item_id"] == str(items["AK-1000"])
    assert found["next"] is None


def test_find_prints_a_table_with_the_holder(items: dict[str, UUID]) -> None:
    result = runner.invoke(app, ["find", "АК-1000"])

    assert result.exit_code == 0, result.output
    assert "2 candidates for АК-1000" in result.stdout
    assert str(items["AK-1000"]) in result.stdout and "unit-1" in result.stdout


def test_find_with_no_readable_character_exits_1_with_one_line(items: dict[str, UUID]) -> None:
    result = runner.invoke(app, ["find", "???"])

    assert (result.exit_code, result.stderr) == (
        1,
        "custody: pattern '???' has no letter or digit\n",
    )


def test_evidence_names_the_item_by_its_serial_in_any_look_alike_spelling(
    items: dict[str, UUID],
) -> None:
    result = runner.invoke(
        app, ["evidence", "ак.1000", "--manufacturer", "MAKER", "--model", "m1", "-o", "b.json"]
    )

    assert result.exit_code == 0, result.output
    assert json.loads(Path("b.json").read_text())["item_id"] == str(items["AK-1000"])


def test_evidence_by_an_unknown_serial_exits_1(items: dict[str, UUID]) -> None:
    result = runner.invoke(
        app, ["evidence", "AK-9", "--manufacturer", "Maker", "--model", "M1", "-o", "b.json"]
    )

    assert result.exit_code == 1
    assert result.stderr.startswith("custody: no item Maker M1 serial 'AK-9'")


def test_the_item_id_form_still_works(items: dict[str, UUID]) -> None:
    result = runner.invoke(app, ["evidence", str(items["AK-1000"]), "-o", "b.json"])

    assert result.exit_code == 0, result.output


def test_submit_with_a_serial_needs_both_manufacturer_and_model(store: Ledger) -> None:
    write_private_key_file("party.key", SIGNER.to_text())

    result = runner.invoke(app, ["submit", "inspect", "AK-1000", "--model", "M1"])

    assert (result.exit_code, result.stderr) == (
        1,
        "custody: give both --manufacturer and --model with a serial, or neither\n",
    )


def test_the_client_finds_an_item_id_by_its_marking(items: dict[str, UUID], store: Ledger) -> None:
    token, _ = store.grant_token(party="operator", role="admin", actor=ADMIN)
    with TestClient(create_app(store)) as http:
        client = CustodyClient(
            "http://testserver", token, party="unit-1", key=SIGNER.private_key, http=http
        )

        found = client.item_by_serial("AK 1000", manufacturer="Maker", model="M1")

    assert found == [str(items["AK-1000"])]


def test_inventory_reads_a_scanner_export_and_prints_the_reconciliation(
    items: dict[str, UUID], store: Ledger
) -> None:
    Path("count.csv").write_text("serial,scanned_at\nAK 1000,09:00\nZZ-1,09:01\n", encoding="utf-8")

    result = runner.invoke(
        app,
        [
            "inventory",
            "count.csv",
            "--recipient",
            "force",
            "--at",
            "2026-03-01T10:00:00Z",
            "--json",
        ],
    )

    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["counts"] == {"on_book": 1, "not_counted": 2, "held_elsewhere": 0, "unknown": 1}
    assert {(x["status"], x["serial"]) for x in answer["lines"]} == {
        ("on_book", "AK 1000"),
        ("not_counted", "AK-1090"),
        ("not_counted", "XAK-10000"),
        ("unknown", "ZZ-1"),
    }


def test_readmodels_rebuild_refills_the_index_of_identities(items: dict[str, UUID]) -> None:
    result = runner.invoke(app, ["readmodels", "rebuild"])

    assert result.exit_code == 0, result.output
    assert "rebuilt the index of identities (docs/identity.md): 3 items" in result.stdout
