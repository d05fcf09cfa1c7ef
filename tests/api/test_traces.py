"""Trace requests over HTTP, on SQLite and PostgreSQL: requested by investigators and oversight
about an item or a sighting, due in the policy's days, answered by the addressee only, listed by
status, an overdue one with its `trace_unanswered` finding."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from ledger.application.ledger import Ledger
from tests.conftest import Clock
from tests.programme import ADMIN, ago, issue, record_sighting

DOC = "cd" * 32


def _auth(ledger: Ledger, party: str, role: str) -> dict[str, str]:
    token, _ = ledger.grant_token(party=party, role=role, actor=ADMIN)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def item(api_ledger: Ledger) -> UUID:
    return issue(api_ledger, "AK-1000")


@pytest.fixture
def trace(client: TestClient, api_ledger: Ledger, item: UUID) -> dict[str, Any]:
    response = client.post(
        "/v1/traces",
        json={"item_id": str(item), "addressee": "supplier", "question": "To whom was it sold?"},
        headers=_auth(api_ledger, "investigator", "investigator"),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _statuses(client: TestClient, status: str) -> list[str]:
    response = client.get("/v1/traces", params={"status": status})
    assert response.status_code == 200, response.text
    return [t["trace_id"] for t in response.json()["traces"]]


def test_a_trace_is_due_in_28_days_and_open_until_then(
    client: TestClient, api_ledger: Ledger, trace: dict[str, Any], clock: Clock
) -> None:
    due = api_ledger.trace(trace["trace_id"]).due_at

    assert (due - clock.now).days == 28
    assert _statuses(client, "open") == [trace["trace_id"]]
    assert _statuses(client, "overdue") == []


def test_an_overdue_trace_is_a_trace_unanswered_finding_about_its_item(
    client: TestClient, api_ledger: Ledger, trace: dict[str, Any], item: UUID, clock: Clock
) -> None:
    clock.advance(days=29)

    [overdue] = client.get("/v1/traces", params={"status": "overdue"}).json()["traces"]

    assert overdue["item_id"] == str(item)
    assert overdue["finding"]["rule"] == "trace_unanswered"
    assert overdue["finding"]["evidence"] == [trace["log_index"]]
    assert overdue["finding"]["detail"].startswith("trace to supplier unanswered since")


def test_only_the_addressee_answers_and_only_once(
    client: TestClient, api_ledger: Ledger, trace: dict[str, Any], clock: Clock
) -> None:
    path = f"/v1/traces/{trace['trace_id']}/answers"
    body = {"answer": "Sold to the force under EUA-1", "documents": [DOC]}

    stranger = client.post(path, json=body, headers=_auth(api_ledger, "force", "partner"))
    answered = client.post(path, json=body, headers=_auth(api_ledger, "supplier", "supplier"))
    again = client.post(path, json=body, headers=_auth(api_ledger, "supplier", "supplier"))
    clock.advance(days=40)

    assert stranger.status_code == 403
    assert stranger.json()["error"]["message"] == (
        f"trace {trace['trace_id']} is addressed to supplier"
    )
    assert answered.status_code == 201, answered.text
    assert again.status_code == 409
    assert _statuses(client, "answered") == [trace["trace_id"]]
    assert _statuses(client, "overdue") == []
    assert api_ledger.trace(trace["trace_id"]).answer["documents"] == [DOC]  # type: ignore[index]


def test_a_trace_about_a_sighting_and_who_may_request(
    client: TestClient, api_ledger: Ledger
) -> None:
    sighting = record_sighting(api_ledger, "AK-?", ago(api_ledger, days=1)).id
    body = {"sighting_id": str(sighting), "addressee": "supplier", "question": "Yours?"}

    by_partner = client.post("/v1/traces", json=body, headers=_auth(api_ledger, "force", "partner"))
    by_admin = client.post("/v1/traces", json=body)
    both = client.post("/v1/traces", json=body | {"item_id": str(sighting)})

    assert by_partner.status_code == 403
    assert by_admin.status_code == 201, by_admin.text
    assert both.json()["error"]["message"] == "a trace names either an item or a sighting"


def test_an_overdue_trace_is_among_the_items_flags_and_the_scan_raises_it(
    client: TestClient, api_ledger: Ledger, trace: dict[str, Any], item: UUID, clock: Clock
) -> None:
    clock.advance(days=29)

    flags = client.get("/v1/flags", params={"item": str(item), "rule": "trace_unanswered"})
    scanned = client.post("/v1/flags/scan")

    assert flags.status_code == 200, flags.text
    [flag] = flags.json()["flags"]
    assert (flag["severity"], flag["evidence"], flag["raised"]) == (
        "medium",
        [trace["log_index"]],
        False,
    )
    assert scanned.status_code == 200, scanned.text
    raised = client.get("/v1/flags", params={"item": str(item), "rule": "trace_unanswered"})
    assert raised.json()["flags"][0]["raised"] is True
