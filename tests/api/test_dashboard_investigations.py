"""The dashboard's serial search (a box on every page) and investigations page, on SQLite and
PostgreSQL: candidates for a partial serial; unmatched sightings, open and overdue traces, and
inventories with their reconciliation."""

from __future__ import annotations

from uuid import UUID

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.application.ledger import Ledger
from ledger.readmodels.models import Fleet
from ledger.readmodels.reconciliation import Count, take_inventory
from tests.api.test_dashboard import signed_in, table, text_of
from tests.conftest import Clock
from tests.programme import ADMIN, ago, issue, record_sighting


@pytest.fixture
def app(api_ledger: Ledger) -> FastAPI:
    return create_app(api_ledger)


@pytest.fixture
def admin(app: FastAPI, admin_token: str) -> TestClient:
    return signed_in(app, admin_token)


@pytest.fixture
def rifles(api_ledger: Ledger) -> dict[str, UUID]:
    return {s: issue(api_ledger, s, days_ago=60) for s in ("AK-1000", "AK-1090", "BX-7")}


def test_every_page_has_the_serial_search_box_and_it_lists_ranked_candidates(
    admin: TestClient, rifles: dict[str, UUID]
) -> None:
    overview = admin.get("/ui")
    found = admin.get("/ui/search", params={"q": "\u0430\u043a-10?0"})

    assert 'id="serial-search"' in overview.text
    assert found.status_code == 200, found.text
    rows = table(found.text, "candidates-table")
    assert [r[:3] for r in rows] == [["AK-1090", "whole", "1"], ["AK-1000", "whole", "1"]]
    assert f'href="/ui/items/{rifles["AK-1000"]}"' in found.text


def test_a_search_with_no_readable_character_says_why(
    admin: TestClient, rifles: dict[str, UUID]
) -> None:
    found = admin.get("/ui/search", params={"q": "???"})

    assert found.status_code == 200
    assert "pattern '???' has no letter or digit" in text_of(found.text)


def test_the_investigations_page_lists_sightings_traces_and_inventories(
    admin: TestClient, api_ledger: Ledger, rifles: dict[str, UUID], clock: Clock
) -> None:
    record_sighting(api_ledger, "AK-10?0", ago(api_ledger, days=2), held_by="armed group X")
    api_ledger.request_trace(
        item=rifles["AK-1000"],
        addressee="supplier",
        question="Sold to whom?",
        answer_days=28,
        occurred_at=ago(api_ledger, days=30),
        actor=ADMIN,
    )
    count = Count("force", ago(api_ledger, days=1), "serial_read", ["AK-1000", "ZZ-1"])
    take_inventory(api_ledger, Fleet.of(api_ledger), count, actor=ADMIN)

    page = admin.get("/ui/investigations")

    assert page.status_code == 200, page.text
    assert [r[1:3] for r in table(page.text, "sightings-table")] == [["AK-10?0", "armed group X"]]
    assert [r[0] for r in table(page.text, "traces-table")] == ["overdue"]
    assert table(page.text, "inventories-table") == [["force", "", "2", "1", "2", "0", "1"]]


def test_an_item_page_and_its_bundle_are_named_by_serial_manufacturer_and_model(
    admin: TestClient, rifles: dict[str, UUID]
) -> None:
    page = admin.get("/ui/items/\u0430\u043a 1000", params={"manufacturer": "Maker", "model": "M1"})
    bundle = admin.get(
        "/ui/items/AK-1000/evidence", params={"manufacturer": "Maker", "model": "M1"}
    )
    half = admin.get("/ui/items/AK-1000", params={"model": "M1"})

    assert page.status_code == 200, page.text
    assert str(rifles["AK-1000"]) in page.text
    assert bundle.status_code == 200
    assert bundle.json()["item_id"] == str(rifles["AK-1000"])
    assert half.status_code == 422
    assert "name an item by its serial with both manufacturer and model" in text_of(half.text)
