"""Serial-number inventories over HTTP, on SQLite and PostgreSQL: the count reconciled with the
book (counted and on the book; on the book and not counted; counted but held elsewhere; unknown),
an inspection recorded for every item of the book, and the count itself on record."""

from __future__ import annotations

import csv
import io
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from ledger.application.ledger import Ledger
from ledger.integrity.entries import decode_entry
from tests.programme import ADMIN, ago, issue


@pytest.fixture
def book(api_ledger: Ledger) -> dict[str, UUID]:
    items = {
        "AK-1": issue(api_ledger, "AK-1", recipient="unit-1"),
        "AK-2": issue(api_ledger, "AK-2", recipient="unit-1"),
        "AK-3": issue(api_ledger, "AK-3", recipient="unit-1"),
        "AK-4": issue(api_ledger, "AK-4", recipient="unit-2"),
        "AK-5": issue(api_ledger, "AK-5", recipient="unit-1"),
        "BX-1": issue(api_ledger, "BX-1", recipient="unit-3", model="M2"),
    }
    api_ledger.transfer(
        items["AK-5"], to="outsider", occurred_at=ago(api_ledger, days=3), actor=ADMIN
    )
    return items


def _count(api_ledger: Ledger, **extra: Any) -> dict[str, Any]:
    return {
        "recipient": "force",
        "occurred_at": ago(api_ledger, days=1).isoformat(),
        "method": "serial_read",
        "site": "arms room 4",
        "model": "M1",
        "serials": ["\u0410\u041a-1", "AK 2", "AK-5", "ZZ-9", "ak-1"],
    } | extra


def _lines(answer: dict[str, Any], status: str) -> list[tuple[str, str | None, str | None]]:
    return sorted((x["serial"], x["item_id"], x["holder"]) for x in answer[status])


def test_an_inventory_answers_the_four_lists_of_its_reconciliation(
    client: TestClient, api_ledger: Ledger, book: dict[str, UUID]
) -> None:
    response = client.post("/v1/inventories", json=_count(api_ledger))

    assert response.status_code == 201, response.text
    done = response.json()
    assert done["counts"] == {"on_book": 2, "not_counted": 2, "held_elsewhere": 1, "unknown": 1}
    assert _lines(done, "on_book") == [
        ("AK 2", str(book["AK-2"]), "unit-1"),
        ("\u0410\u041a-1", str(book["AK-1"]), "unit-1"),
    ]
    assert _lines(done, "not_counted") == [
        ("AK-3", str(book["AK-3"]), "unit-1"),
        ("AK-4", str(book["AK-4"]), "unit-2"),
    ]
    assert _lines(done, "held_elsewhere") == [("AK-5", str(book["AK-5"]), "outsider")]
    assert _lines(done, "unknown") == [("ZZ-9", None, None)]


def test_every_item_of_the_book_gets_an_inspection_from_the_inventory(
    client: TestClient, api_ledger: Ledger, book: dict[str, UUID]
) -> None:
    client.post("/v1/inventories", json=_count(api_ledger))

    def last(item: UUID) -> dict[str, Any]:
        return decode_entry(api_ledger.history(item)[-1].entry)

    assert last(book["AK-1"])["payload"] | {"inspector": "operator"} == {
        "inspector": "operator",
        "method": "serial_read",
        "result": "verified",
        "observed_serial": "\u0410\u041a-1",
        "location": "arms room 4",
    }
    assert last(book["AK-4"])["payload"]["result"] == "not_presented"
    assert last(book["AK-5"])["type"] == "custody:Item.Transferred"  # held elsewhere: untouched
    assert last(book["BX-1"])["type"] == "custody:Item.Issued"  # another model: not counted


def test_the_count_is_on_record_in_entries_of_its_own(
    client: TestClient, api_ledger: Ledger, book: dict[str, UUID]
) -> None:
    done = client.post("/v1/inventories", json=_count(api_ledger)).json()

    entries = [
        decode_entry(r.entry)
        for r in api_ledger.log_store.log_entries_of(UUID(done["inventory_id"]))
    ]

    assert [e["type"] for e in entries] == [
        "custody:Inventory.Recorded",
        "custody:Inventory.Counted",
        "custody:Inventory.Reconciled",
    ]
    assert entries[1]["payload"]["serials"] == ["\u0410\u041a-1", "AK 2", "AK-5", "ZZ-9"]
    assert entries[0]["payload"]["counted"] == 4


def test_the_reconciliation_comes_as_csv_when_asked(
    client: TestClient, api_ledger: Ledger, book: dict[str, UUID]
) -> None:
    response = client.post(
        "/v1/inventories", json=_count(api_ledger), headers={"Accept": "text/csv"}
    )

    assert response.status_code == 201
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["status", "serial", "item_id", "holder"]
    assert sorted(r[0] for r in rows[1:]) == [
        "held_elsewhere",
        "not_counted",
        "not_counted",
        "on_book",
        "on_book",
        "unknown",
    ]


def test_a_partner_may_not_take_an_inventory_and_a_bad_serial_is_named(
    client: TestClient, api_ledger: Ledger, book: dict[str, UUID]
) -> None:
    token, _ = api_ledger.grant_token(party="force", role="partner", actor=ADMIN)
    size = api_ledger.log_store.log_size()

    refused = client.post(
        "/v1/inventories",
        json=_count(api_ledger),
        headers={"Authorization": f"Bearer {token}"},
    )
    bad = client.post("/v1/inventories", json=_count(api_ledger, serials=["AK-1", "..."]))

    assert refused.status_code == 403
    assert (bad.status_code, bad.json()["error"]["message"]) == (
        422,
        "serial 2 of the count: serial '...' has no letter or digit",
    )
    assert api_ledger.log_store.log_size() == size
