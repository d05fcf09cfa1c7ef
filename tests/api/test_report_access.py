"""Who sees what in the oversight report and the flags, through HTTP, on SQLite and on PostgreSQL.

A partner sees only the items issued to itself or to its units: GET /v1/reports/unaccounted and
GET /v1/flags are narrowed to `recipient=<its party>`, and asking for another recipient is 403.
Every other role sees the whole fleet, and may filter by any recipient.

Five rifles under eua-1 (authorized: force and its units 1-3): A-1 and A-2 issued to unit-1, B-1 to
unit-2, C-1 to unit-3 and O-1 to outsider (not in the agreement), on 2026-03-10. A-1 stolen on
03-20; B-1 lost on 03-20 and recovered on 04-10; C-1 not presented at its inspection on 03-25. A
scan as of 04-01 puts the findings on record and C-1's flag is resolved.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from ledger.application.ledger import Ledger
from tests.conftest import Clock
from tests.programme import ADMIN, inspect_on, issue_rifles, mar, recorded

APR_1, APR_15 = "2026-04-01T00:00:00Z", "2026-04-15T00:00:00Z"
SERIALS = {"A-1": "unit-1", "A-2": "unit-1", "B-1": "unit-2", "C-1": "unit-3", "O-1": "outsider"}


@pytest.fixture
def fleet(api_ledger: Ledger, clock: Clock, client: TestClient) -> dict[str, str]:
    """item id -> serial, with the scan as of 04-01 done and C-1's flag resolved."""
    ledger = api_ledger
    ids = {
        serial: str(item) for serial, item in issue_rifles(ledger, clock, SERIALS, day=10).items()
    }
    for serial, circumstances in [("A-1", "stolen"), ("B-1", "lost")]:
        ledger.report_lost(
            ids[serial],
            circumstances=circumstances,
            occurred_at=recorded(clock, mar(20)),
            actor=ADMIN,
        )
    inspect_on(ledger, clock, UUID(ids["C-1"]), day=25, result="not_presented")
    clock.now = datetime(2026, 4, 2, tzinfo=UTC)
    scanned = client.post("/v1/flags/scan", params={"as_of": APR_1})
    assert scanned.json() == {"findings": 4, "raised": 4}, scanned.text
    (flag,) = flags(client, as_of=APR_1, item=ids["C-1"])
    resolved = client.post(
        f"/v1/flags/{flag['flag_id']}/resolution", json={"reason": "found in the armoury"}
    )
    assert resolved.status_code == 201, resolved.text
    ledger.recover(
        ids["B-1"],
        by="unit-2",
        occurred_at=recorded(clock, datetime(2026, 4, 10, 8, 0, tzinfo=UTC)),
        actor=ADMIN,
    )
    ledger.inspect(  # an independent party verifies unit-2's recovery: the loss is over
        ids["B-1"],
        result="verified",
        method="physical",
        inspector="inspectorate",
        occurred_at=recorded(clock, datetime(2026, 4, 11, 8, 0, tzinfo=UTC)),
        actor=ADMIN,
    )
    return {item: serial for serial, item in ids.items()}


@pytest.fixture
def as_role(api_ledger: Ledger, client: TestClient) -> Iterator[Any]:
    """role, party -> the headers of a token for it."""
    api_ledger.register_party(party_id="auditor", name="Auditor", kind="oversight", actor=ADMIN)

    def headers(role: str, party: str) -> dict[str, str]:
        token, _ = api_ledger.grant_token(party=party, role=role, actor=ADMIN)
        return {"Authorization": f"Bearer {token}"}

    yield headers


def flags(client: TestClient, headers: dict[str, str] | None = None, **params: Any) -> Any:
    response = client.get("/v1/flags", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["flags"]


def report(client: TestClient, headers: dict[str, str] | None = None, **params: Any) -> Any:
    response = client.get("/v1/reports/unaccounted", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def csv_rows(client: TestClient, headers: dict[str, str], **params: Any) -> list[list[str]]:
    response = client.get(
        "/v1/reports/unaccounted", params=params, headers=headers | {"Accept": "text/csv"}
    )
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.text)))


def error_of(response: Any) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"]["code"], body["error"]["message"]


def rates(body: Any) -> list[tuple[Any, ...]]:
    return [
        (r["recipient"], r["issued"], r["accounted"], r["in_custody"], r["overdue"])
        for r in body["recipients"]
    ]


@pytest.mark.parametrize(
    ("party", "serials", "recipients"),
    [
        ("unit-1", ["A-1"], [("unit-1", 2, 1, 1, 0)]),
        ("unit-2", ["B-1"], [("unit-2", 1, 0, 0, 0)]),
        (
            "force",
            ["A-1", "B-1", "C-1"],
            [("unit-1", 2, 1, 1, 0), ("unit-2", 1, 0, 0, 0), ("unit-3", 1, 0, 1, 0)],
        ),
        ("outsider", ["O-1"], [("outsider", 1, 0, 1, 0)]),
        ("unit-9", [], []),
    ],
    ids=["unit-1", "unit-2", "parent_force", "outsider", "nothing_issued"],
)
def test_a_partner_sees_only_the_items_issued_to_itself_or_its_units(
    client: TestClient,
    api_ledger: Ledger,
    fleet: dict[str, str],
    as_role: Any,
    party: str,
    serials: list[str],
    recipients: list[tuple[Any, ...]],
) -> None:
    if party == "unit-9":
        api_ledger.register_party(
            party_id=party, name="No items", kind="recipient", parent="force", actor=ADMIN
        )
    headers = as_role("partner", party)

    body = report(client, headers, as_of=APR_1)
    own = report(client, headers, as_of=APR_1, recipient=party)
    rows = csv_rows(client, headers, as_of=APR_1)
    found = flags(client, headers, as_of=APR_1, status="all")

    assert [i["serial"] for i in body["unaccounted"]] == serials
    assert rates(body) == recipients
    assert own == body
    assert [row[3] for row in rows[1:]] == serials
    assert sorted(fleet[f["item_id"]] for f in found) == serials
    assert found == [
        f for f in flags(client, as_of=APR_1, status="all") if fleet[f["item_id"]] in serials
    ]


@pytest.mark.parametrize(
    ("role", "party"),
    [
        ("admin", "operator"),
        ("oversight", "auditor"),
        ("investigator", "investigator"),
        ("inspector", "inspectorate"),
        ("supplier", "supplier"),
    ],
)
def test_every_other_role_sees_the_whole_fleet_and_may_ask_about_any_recipient(
    client: TestClient, fleet: dict[str, str], as_role: Any, role: str, party: str
) -> None:
    headers = as_role(role, party)

    everyone = report(client, headers, as_of=APR_1)
    unit_2 = report(client, headers, as_of=APR_1, recipient="unit-2")
    their_flags = flags(client, headers, as_of=APR_1, status="all", recipient="unit-3")

    assert [i["serial"] for i in everyone["unaccounted"]] == ["A-1", "B-1", "C-1", "O-1"]
    assert rates(everyone) == [
        ("outsider", 1, 0, 1, 0),
        ("unit-1", 2, 1, 1, 0),
        ("unit-2", 1, 0, 0, 0),
        ("unit-3", 1, 0, 1, 0),
    ]
    assert [i["serial"] for i in unit_2["unaccounted"]] == ["B-1"]
    assert [(fleet[f["item_id"]], f["rule"]) for f in their_flags] == [("C-1", "failed_inspection")]


@pytest.mark.parametrize("path", ["/v1/reports/unaccounted", "/v1/flags"])
@pytest.mark.parametrize(
    ("party", "asked"),
    [("unit-1", "unit-2"), ("unit-1", "force"), ("unit-2", "outsider"), ("force", "unit-2")],
    ids=["another_unit", "its_parent", "an_outsider", "a_parent_asking_for_its_unit"],
)
def test_a_partner_asking_about_another_recipient_is_403(
    client: TestClient, fleet: dict[str, str], as_role: Any, path: str, party: str, asked: str
) -> None:
    """Only `recipient=<its own party>` (or none) is allowed: even a parent force asking for one of
    its units by name is refused, although it sees that unit's items when it names no one."""
    headers = as_role("partner", party)

    response = client.get(path, params={"as_of": APR_1, "recipient": asked}, headers=headers)
    as_csv = client.get(
        path,
        params={"as_of": APR_1, "recipient": asked},
        headers=headers | {"Accept": "text/csv"},
    )

    refusal = (403, "unauthorised", f"{party} may see its own items only, not {asked}'s")
    assert error_of(response) == refusal
    assert error_of(as_csv) == refusal


def test_a_partner_does_not_see_another_recipients_flags_that_no_longer_hold(
    client: TestClient, fleet: dict[str, str], as_role: Any
) -> None:
    """On 04-15 B-1 (unit-2) is recovered: its raised `lost` flag no longer holds and is listed
    with `holds: false` to those who may see B-1, never to unit-1, to which B-1 does not exist."""
    b_1 = next(item for item, serial in fleet.items() if serial == "B-1")
    unit_1, unit_2 = as_role("partner", "unit-1"), as_role("partner", "unit-2")

    admin_view = flags(client, as_of=APR_15, status="all")
    unit_1_view = flags(client, unit_1, as_of=APR_15, status="all")
    unit_1_asks_for_b_1 = client.get(
        "/v1/flags", params={"as_of": APR_15, "status": "all", "item": b_1}, headers=unit_1
    )
    unit_2_view = flags(client, unit_2, as_of=APR_15, status="all")
    unit_1_resolved = flags(client, unit_1, as_of=APR_15, status="resolved")

    def seen(found: Any) -> list[tuple[Any, ...]]:
        return [
            (fleet[f["item_id"]], f["rule"], f["raised"], f["holds"], f["resolution"] is not None)
            for f in found
        ]

    assert seen(admin_view) == [
        ("A-1", "lost", True, True, False),
        ("C-1", "failed_inspection", True, True, True),
        ("O-1", "diversion", True, True, False),
        ("B-1", "lost", True, False, False),
    ]
    assert seen(unit_1_view) == [("A-1", "lost", True, True, False)]
    assert error_of(unit_1_asks_for_b_1) == (404, "not_found", f"item {b_1} not found")
    assert seen(unit_2_view) == [("B-1", "lost", True, False, False)]
    assert unit_1_resolved == []
    assert [datetime.fromisoformat(f["since"]) for f in unit_2_view] == [mar(20)]
