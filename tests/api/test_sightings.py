"""Sightings not yet matched to an item, over HTTP on SQLite and PostgreSQL: recorded as their own
aggregate, listed with candidates from the serial search, matched to an item (whose `Sighted` names
the sighting's entry, and whose findings then apply), and scoped for partners."""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from ledger.application.ledger import Ledger
from ledger.integrity.entries import decode_entry
from tests.programme import ADMIN, ago, issue

PHOTO = "ab" * 32


@pytest.fixture
def investigator(client: TestClient, api_ledger: Ledger) -> dict[str, str]:
    token, _ = api_ledger.grant_token(party="investigator", role="investigator", actor=ADMIN)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def rifles(api_ledger: Ledger) -> dict[str, UUID]:
    return {s: issue(api_ledger, s, days_ago=30) for s in ("AK-1000", "AK-1090", "BX-7")}


def _report(api_ledger: Ledger, **extra: Any) -> dict[str, Any]:
    return {
        "observer": "investigator",
        "location": "market, grid 38S MB 123 456",
        "occurred_at": ago(api_ledger, days=2).isoformat(),
        "serial_as_read": "AK-10?0",
        "manufacturer": "Maker",
        "held_by": "outsider",
        "evidence": [PHOTO],
    } | extra


def _record(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> str:
    response = client.post("/v1/sightings", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["sighting_id"])


def test_an_unmatched_sighting_is_listed_with_candidates_from_the_serial_search(
    client: TestClient, api_ledger: Ledger, investigator: dict[str, str], rifles: dict[str, UUID]
) -> None:
    sighting = _record(client, investigator, _report(api_ledger))

    listed = client.get("/v1/sightings", params={"status": "unmatched"}, headers=investigator)

    assert listed.status_code == 200, listed.text
    [seen] = listed.json()["sightings"]
    assert (seen["sighting_id"], seen["status"], seen["serial_as_read"]) == (
        sighting,
        "unmatched",
        "AK-10?0",
    )
    assert [c["serial"] for c in seen["candidates"]] == ["AK-1090", "AK-1000"]
    assert api_ledger.log_store.log_entries_of(UUID(sighting))[0].log_index >= 0


def test_matching_gives_the_item_a_sighted_entry_naming_the_sighting_and_its_findings_apply(
    client: TestClient, api_ledger: Ledger, investigator: dict[str, str], rifles: dict[str, UUID]
) -> None:
    sighting = _record(client, investigator, _report(api_ledger))
    item = rifles["AK-1000"]

    matched = client.post(
        f"/v1/sightings/{sighting}/match", json={"item_id": str(item)}, headers=investigator
    )

    assert matched.status_code == 201, matched.text
    recorded = api_ledger.log_store.log_entries_of(UUID(sighting))[0].entry
    sighted = decode_entry(api_ledger.history(item)[-1].entry)
    assert sighted["type"] == "custody:Item.Sighted"
    assert sighted["payload"]["evidence"] == [hashlib.sha256(recorded).hexdigest(), PHOTO]
    assert sighted["payload"]["held_by"] == "outsider"
    assert matched.json()["log_index"] == api_ledger.history(item)[-1].log_index
    assert api_ledger.sighting(sighting).item_id == str(item)
    flags = client.get("/v1/flags", params={"item": str(item)}).json()["flags"]
    assert "diversion" in {f["rule"] for f in flags}
    assert client.get("/v1/sightings", headers=investigator).json()["sightings"] == []


def test_a_sighting_is_matched_once(
    client: TestClient, api_ledger: Ledger, investigator: dict[str, str], rifles: dict[str, UUID]
) -> None:
    sighting = _record(client, investigator, _report(api_ledger))
    body = {"item_id": str(rifles["AK-1000"])}
    client.post(f"/v1/sightings/{sighting}/match", json=body, headers=investigator)

    again = client.post(f"/v1/sightings/{sighting}/match", json=body, headers=investigator)

    assert again.status_code == 409
    assert again.json()["error"]["message"] == (
        f"sighting {sighting} is matched to item {rifles['AK-1000']} already"
    )


def test_a_partner_may_not_record_sightings_and_sees_only_matches_to_its_own_items(
    client: TestClient, api_ledger: Ledger, investigator: dict[str, str], rifles: dict[str, UUID]
) -> None:
    mine = _record(client, investigator, _report(api_ledger))
    _record(client, investigator, _report(api_ledger, serial_as_read="BX-7"))
    theirs = _record(client, investigator, _report(api_ledger, serial_as_read="BX-?"))
    client.post(
        f"/v1/sightings/{mine}/match",
        json={"item_id": str(rifles["AK-1000"])},
        headers=investigator,
    )
    api_ledger.transfer(
        rifles["BX-7"], to="outsider", occurred_at=ago(api_ledger, days=1), actor=ADMIN
    )
    client.post(
        f"/v1/sightings/{theirs}/match",
        json={"item_id": str(rifles["BX-7"])},
        headers=investigator,
    )
    token, _ = api_ledger.grant_token(party="force", role="partner", actor=ADMIN)
    partner = {"Authorization": f"Bearer {token}"}

    refused = client.post("/v1/sightings", json=_report(api_ledger), headers=partner)
    listed = client.get("/v1/sightings", params={"status": "all"}, headers=partner).json()

    assert refused.status_code == 403
    assert [s["sighting_id"] for s in listed["sightings"]] == [mine]


def test_a_sighting_without_a_serial_or_lot_is_422(
    client: TestClient, api_ledger: Ledger, investigator: dict[str, str]
) -> None:
    body = _report(api_ledger)
    del body["serial_as_read"]

    response = client.post("/v1/sightings", json=body, headers=investigator)

    assert response.status_code == 422
    assert response.json()["error"]["message"] == "a sighting needs the serial as read or the lot"


def test_matching_a_sighting_seen_before_the_item_was_issued_is_refused(
    client: TestClient, api_ledger: Ledger, investigator: dict[str, str], rifles: dict[str, UUID]
) -> None:
    body = _report(api_ledger, occurred_at=ago(api_ledger, days=60).isoformat())
    sighting = _record(client, investigator, body)

    response = client.post(
        f"/v1/sightings/{sighting}/match",
        json={"item_id": str(rifles["AK-1000"])},
        headers=investigator,
    )

    assert response.status_code == 422
    assert "is before the item was issued" in response.json()["error"]["message"]
    assert api_ledger.sighting(sighting).item_id is None
