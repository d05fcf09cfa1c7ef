"""Finding items by serial over HTTP, on SQLite and PostgreSQL: `GET /v1/items?serial=` (exact, in
the normal form) and `GET /v1/items/search?q=` (partial, ranked, paged, scoped for partners)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from ledger.application.ledger import Ledger
from tests.programme import ADMIN, ago, inspect, issue


def _serials(answer: Any) -> list[tuple[str, str, int]]:
    return [(c["serial"], c["match"], c["unknowns"]) for c in answer["items"]]


def _search(client: TestClient, **params: Any) -> Any:
    response = client.get("/v1/items/search", params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def rifles(api_ledger: Ledger) -> dict[str, UUID]:
    serials = ["AK-1000", "AK-1090", "AK-1001", "AK-2000", "XAK-10000", "BX-1000"]
    return {s: issue(api_ledger, s, days_ago=30) for s in serials}


def test_a_partial_serial_finds_ranked_candidates_whole_matches_before_longer_serials(
    client: TestClient, rifles: dict[str, UUID]
) -> None:
    found = _search(client, q="AK-10?0")

    assert _serials(found) == [
        ("AK-1090", "whole", 1),
        ("AK-1000", "whole", 1),
        ("XAK-10000", "partial", 3),
    ]
    assert found["items"][1]["item_id"] == str(rifles["AK-1000"])
    assert found["next"] is None


def test_the_exact_form_comes_first_then_serials_that_contain_it(
    client: TestClient, rifles: dict[str, UUID]
) -> None:
    found = _search(client, q="\u0430\u043a 1000")  # small Cyrillic, a space

    assert _serials(found) == [("AK-1000", "exact", 0), ("XAK-10000", "partial", 2)]


def test_a_pattern_with_two_unknowns_and_a_run(client: TestClient, rifles: dict[str, UUID]) -> None:
    assert [s for s, _, _ in _serials(_search(client, q="AK-1??0"))] == [
        "AK-1090",
        "AK-1000",
        "XAK-10000",
    ]
    assert [s for s, _, _ in _serials(_search(client, q="B*0"))] == ["BX-1000"]


def test_exact_lookup_by_serial_finds_the_item_and_its_look_alike_spelling(
    client: TestClient, rifles: dict[str, UUID]
) -> None:
    response = client.get("/v1/items", params={"serial": "АК.1000", "model": "m-1"})

    assert response.status_code == 200, response.text
    assert [c["item_id"] for c in response.json()["items"]] == [str(rifles["AK-1000"])]
    assert client.get("/v1/items", params={"serial": "AK-1000", "model": "M2"}).json() == {
        "items": [],
        "next": None,
    }


def test_each_candidate_has_its_holder_now_and_at_a_time_and_its_last_verified_inspection(
    client: TestClient, api_ledger: Ledger, rifles: dict[str, UUID]
) -> None:
    item = rifles["AK-2000"]
    api_ledger.transfer(item, to="unit-2", occurred_at=ago(api_ledger, days=10), actor=ADMIN)
    inspect(api_ledger, item, ago(api_ledger, days=5))
    inspect(api_ledger, item, ago(api_ledger, days=1), method="self_report", inspector=None)

    found = _search(client, q="AK-2000", at=ago(api_ledger, days=20).isoformat())

    candidate = found["items"][0]
    assert (candidate["holder"], candidate["status"]) == ("unit-2", "in_custody")
    assert (candidate["at"]["holder"], candidate["at"]["status"]) == ("unit-1", "in_custody")
    assert candidate["last_verified_inspection"]["method"] == "physical"
    assert candidate["last_verified_inspection"]["inspector"] == "inspectorate"


def test_a_long_answer_comes_in_pages_with_a_cursor(client: TestClient, api_ledger: Ledger) -> None:
    for n in range(53):
        issue(api_ledger, f"ZZ-{n:03d}")

    first = _search(client, q="ZZ*")
    second = _search(client, q="ZZ*", cursor=first["next"])

    assert (len(first["items"]), len(second["items"]), second["next"]) == (50, 3, None)
    seen = [c["item_id"] for c in first["items"] + second["items"]]
    assert len(set(seen)) == 53


def test_a_partner_finds_only_the_items_it_or_its_units_hold(
    client: TestClient, api_ledger: Ledger, rifles: dict[str, UUID]
) -> None:
    api_ledger.transfer(
        rifles["AK-1090"], to="outsider", occurred_at=ago(api_ledger, days=2), actor=ADMIN
    )
    token, _ = api_ledger.grant_token(party="force", role="partner", actor=ADMIN)

    found = client.get(
        "/v1/items/search", params={"q": "AK-10?0"}, headers={"Authorization": f"Bearer {token}"}
    ).json()

    assert [c["serial"] for c in found["items"]] == ["AK-1000", "XAK-10000"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "???"}, "pattern '???' has no letter or digit"),
        ({"q": "AK\u200d?"}, "pattern 'AK\\u200d?' contains a format character (U+200D)"),
        ({"q": "AK?", "cursor": "not-a-cursor"}, "cursor 'not-a-cursor' is not one this search"),
    ],
)
def test_a_bad_pattern_or_cursor_is_422(
    client: TestClient, rifles: dict[str, UUID], params: dict[str, str], message: str
) -> None:
    response = client.get("/v1/items/search", params=params)

    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith(message)


def test_filters_narrow_the_candidates(client: TestClient, api_ledger: Ledger) -> None:
    issue(api_ledger, "Q-77", model="M2", details={"calibre": "7.62x39"})
    issue(api_ledger, "Q-78", model="M1")

    assert _serials(_search(client, q="Q-7?", model="M-2")) == [("Q-77", "whole", 1)]
    assert _serials(_search(client, q="Q-7?", calibre="7,62 x 39")) == [("Q-77", "whole", 1)]
    assert _serials(_search(client, q="Q-7?", category="pistol")) == []


def test_a_filter_without_a_letter_or_digit_is_named_in_the_422(
    client: TestClient, rifles: dict[str, UUID]
) -> None:
    response = client.get("/v1/items/search", params={"q": "AK?", "calibre": "..."})

    assert response.status_code == 422
    assert response.json()["error"]["message"] == "calibre '...' has no letter or digit"
