"""The item part of the HTTP contract, through the HTTP client, on SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.application.ledger import Ledger
from tests.programme import rifle_request

ISSUED = "2026-01-10T08:00:00Z"
RIFLE = rifle_request(ISSUED)


def issue(client: TestClient, **changes: Any) -> dict[str, Any]:
    response = client.post("/v1/items", json=RIFLE | changes)
    assert response.status_code == 201, response.text
    return dict(response.json())


def error_of(response: Any) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return response.status_code, body["error"]["code"]


def test_issuing_an_item_answers_201_with_its_id_and_log_index(client: TestClient) -> None:
    issued = issue(client)

    assert issued["version"] == 1
    assert isinstance(issued["log_index"], int) and issued["log_index"] >= 0
    state = client.get(f"/v1/items/{issued['item_id']}").json()
    assert state["holder"] == "unit-1"
    assert state["status"] == "in_custody"
    assert state["normalised_serial"] == "akoool"  # docs/identity.md: 0 and O, 1 and l fold


def test_every_event_route_records_an_entry_with_the_next_log_index(client: TestClient) -> None:
    item = issue(client)["item_id"]
    steps = [
        (
            "transfers",
            {"to": "unit-2", "occurred_at": "2026-01-20T08:00:00Z", "authority": "ORD-7"},
        ),
        (
            "inspections",
            {
                "result": "verified",
                "method": "physical",
                "occurred_at": "2026-01-25T08:00:00+02:00",
                "inspector": "inspectorate",
            },
        ),
        (
            "losses",
            {
                "circumstances": "stolen",
                "occurred_at": "2026-02-01T00:00:00Z",
                "discovered_at": "2026-02-03T00:00:00Z",
            },
        ),
        (
            "sightings",
            {
                "observer": "investigator",
                "location": "market",
                "held_by": "group",
                "occurred_at": "2026-02-10T00:00:00Z",
                "evidence": ["ab" * 32],
            },
        ),
        ("recoveries", {"by": "unit-3", "occurred_at": "2026-02-15T00:00:00Z"}),
        (
            "disposals",
            {
                "method": "destroyed",
                "occurred_at": "2026-02-20T00:00:00Z",
                "certificate": "C-1",
                "witnesses": ["w1", "w2"],
            },
        ),
        ("corrections", {"entry": 0, "reason": "placeholder"}),
    ]
    first = client.get(f"/v1/items/{item}/history").json()["entries"][0]["log_index"]
    steps[-1][1]["entry"] = first

    indexes = []
    for route, body in steps:
        response = client.post(f"/v1/items/{item}/{route}", json=body)
        assert response.status_code == 201, (route, response.text)
        indexes.append(response.json()["log_index"])

    assert indexes == list(range(indexes[0], indexes[0] + len(steps)))
    assert client.get(f"/v1/items/{item}").json()["status"] == "disposed"


def test_history_gives_each_entrys_exact_bytes_and_leaf_hash(client: TestClient) -> None:
    item = issue(client)["item_id"]
    client.post(f"/v1/items/{item}/transfers", json={"to": "unit-2", "occurred_at": ISSUED})

    entries = client.get(f"/v1/items/{item}/history").json()["entries"]

    assert [e["type"] for e in entries] == ["custody:Item.Issued", "custody:Item.Transferred"]
    first, second = (base64.b64decode(e["entry"]) for e in entries)
    assert entries[0]["leaf_hash"] == hashlib.sha256(b"\x00" + first).hexdigest()
    assert json.loads(second)["prev"] == entries[0]["leaf_hash"]
    assert json.loads(first)["prev"] is None


def test_custody_at_a_time_replays_by_field_time_and_known_at_by_recording_time(
    client: TestClient,
) -> None:
    item = issue(client)["item_id"]
    client.post(
        f"/v1/items/{item}/transfers", json={"to": "unit-2", "occurred_at": "2026-01-20T00:00:00Z"}
    )

    before = client.get(f"/v1/items/{item}/custody", params={"at": "2026-01-15T00:00:00Z"}).json()
    after = client.get(
        f"/v1/items/{item}/custody", params={"at": "2026-01-21T00:00:00+00:00"}
    ).json()
    unknown = client.get(
        f"/v1/items/{item}/custody",
        params={"at": "2026-01-21T00:00:00Z", "known_at": "2020-01-01T00:00:00Z"},
    )

    assert (before["holder"], before["status"]) == ("unit-1", "in_custody")
    assert (after["holder"], after["status"]) == ("unit-2", "in_custody")
    assert len(after["log_indexes"]) == 2
    assert error_of(unknown) == (404, "not_found")


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"occurred_at": "2026-01-10T08:00:00"}, 422, "invalid_input"),  # no zone
        ({"occurred_at": "2099-01-01T00:00:00Z"}, 422, "invalid_time"),
        ({"category": "spaceship"}, 422, "invalid_input"),
        ({"serial": ""}, 422, "invalid_input"),
        ({"serial": "AK\u00000001"}, 422, "invalid_input"),
        ({"serial": "X" * 65}, 422, "invalid_input"),
        ({"agreement": "nope"}, 404, "not_found"),
        ({"recipient": "nobody"}, 404, "not_found"),
        ({"value": 12.5}, 422, "invalid_input"),
    ],
)
def test_bad_issue_input_gets_a_4xx_with_the_error_body_and_records_nothing(
    client: TestClient, changes: dict[str, Any], status: int, code: str
) -> None:
    response = client.post("/v1/items", json=RIFLE | changes)

    assert error_of(response) == (status, code)
    assert client.post("/v1/items", json=RIFLE).status_code == 201  # nothing was taken


def test_a_duplicate_issue_is_409(client: TestClient) -> None:
    issue(client)

    assert error_of(client.post("/v1/items", json=RIFLE | {"serial": "ak 0001"})) == (
        409,
        "duplicate_item",
    )


def test_a_rule_violation_is_409_with_its_own_code(client: TestClient) -> None:
    item = issue(client)["item_id"]
    client.post(f"/v1/items/{item}/losses", json={"circumstances": "lost", "occurred_at": ISSUED})

    response = client.post(
        f"/v1/items/{item}/transfers", json={"to": "unit-2", "occurred_at": ISSUED}
    )

    assert error_of(response) == (409, "item_lost")
    assert "reported lost" in response.json()["error"]["message"]


def test_an_unknown_item_is_404_and_a_malformed_id_is_422(client: TestClient) -> None:
    assert error_of(client.get("/v1/items/00000000-0000-0000-0000-000000000000")) == (
        404,
        "not_found",
    )
    assert error_of(client.get("/v1/items/not-a-uuid")) == (422, "invalid_input")


def test_malformed_json_is_400(client: TestClient) -> None:
    response = client.post(
        "/v1/items", content=b'{"serial": ', headers={"Content-Type": "application/json"}
    )

    assert error_of(response) == (400, "malformed_json")


def test_a_body_over_the_limit_is_413_before_it_is_read(client: TestClient) -> None:
    response = client.post(
        "/v1/items", content=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "application/json"}
    )

    assert error_of(response) == (413, "too_large")


def test_no_token_or_a_wrong_token_is_401_and_writes_nothing(client: TestClient) -> None:
    anonymous = client.post("/v1/items", json=RIFLE, headers={"Authorization": ""})
    forged = client.post("/v1/items", json=RIFLE, headers={"Authorization": "Bearer cst_forged"})

    assert error_of(anonymous) == (401, "unauthenticated")
    assert error_of(forged) == (401, "unauthenticated")
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert client.post("/v1/items", json=RIFLE).status_code == 201


def test_the_openapi_schema_and_docs_are_served(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    assert "/v1/items/{item_id}/custody" in schema["paths"]
    assert client.get("/docs").status_code == 200


def test_parties_and_agreements_can_be_registered_over_http(client: TestClient) -> None:
    party = client.post(
        "/v1/parties",
        json={"id": "unit-9", "name": "Unit 9", "kind": "recipient", "parent": "force"},
    )
    again = client.post("/v1/parties", json={"id": "unit-9", "name": "Unit 9", "kind": "recipient"})
    agreement = client.post(
        "/v1/agreements",
        json={
            "id": "eua-2",
            "supplier": "supplier",
            "programme": "Two",
            "authorized_holders": ["unit-9"],
            "retransfer_requires_consent": True,
        },
    )

    assert party.status_code == 201 and agreement.status_code == 201
    assert error_of(again) == (409, "already_exists")
    assert issue(client, agreement="eua-2", recipient="unit-9", serial="NEW-1")["version"] == 1


def test_a_bug_answers_the_contracts_500_body_without_its_traceback(
    api_ledger: Ledger, admin_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(api_ledger, "item_ids", broken)
    client = TestClient(create_app(api_ledger), raise_server_exceptions=False)

    response = client.get(
        "/v1/reports/unaccounted",
        params={"as_of": "2026-03-01T00:00:00Z", "exact": "true"},  # the reference lists items
        headers={"Authorization": f"Bearer {admin_token}"},
    )

    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "unexpected server error; see the log"}
    }
    assert "secret" not in response.text
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
