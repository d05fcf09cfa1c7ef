"""A partner paging a filtered list while the read models lag (issue 18: reads never catch up;
docs/readmodels.md). Another process's writes are in the log but not yet in the server's views:
the search's SQL filter reads the views as they are, and each candidate's holder is checked
against the replay where the views are behind (ledger/readmodels/search.py, `search`). So a
partner walking the pages never sees an item that has left its force, nothing is doubled, and
an item that came to it shows once the follower has caught up."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.follower import follow
from api.main import create_app
from ledger.application.ledger import Ledger
from ledger.domain.paging import MAX_LIMIT
from tests.conftest import LedgerFactory
from tests.programme import ADMIN, ago, issue

FORCE = {"force", "unit-1", "unit-2", "unit-3"}


def behind(app: Any) -> int:
    """How many log entries the server's read models have yet to apply."""
    views = next(step for step in app.state.follower.steps if step.name == "read models")
    return int(views.behind())


def pages(client: TestClient, params: dict[str, Any], limit: int) -> Iterator[dict[str, Any]]:
    params = params | {"limit": limit}
    while True:
        response = client.get("/v1/items/search", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        yield page
        if page["next"] is None:
            return
        params["cursor"] = page["next"]


def found(client: TestClient, limit: int) -> list[tuple[str, str]]:
    walked = pages(client, {"q": "LG*"}, limit)
    return [(row["item_id"], row["holder"]) for page in walked for row in page["items"]]


@pytest.fixture
def lagging(
    api_ledger: Ledger, make_ledger: LedgerFactory, db_url: str
) -> Iterator[tuple[TestClient, dict[str, UUID]]]:
    """Force's items and an outsider's; then, written by another process on the same store (so
    the server's follower has not applied them): two of force's items go to the outsider, and
    one of the outsider's to unit-2."""
    held = {f"LG-{n:04d}": issue(api_ledger, f"LG-{n:04d}", days_ago=30) for n in range(6)}
    for n in range(6, 9):
        held[f"LG-{n:04d}"] = issue(api_ledger, f"LG-{n:04d}", days_ago=30, recipient="outsider")
    partner, _ = api_ledger.grant_token(party="force", role="partner", actor=ADMIN)
    app = create_app(api_ledger)  # its follower catches up as it starts
    elsewhere = make_ledger(db_url)
    for serial, to in (("LG-0001", "outsider"), ("LG-0004", "outsider"), ("LG-0007", "unit-2")):
        elsewhere.transfer(held[serial], to=to, occurred_at=ago(elsewhere, days=1), actor=ADMIN)
    assert behind(app) == 3  # the three transfers are in the log, not in the server's views
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {partner}"
        yield client, held
        follow(app.state.follower)


def test_a_partner_paging_a_search_while_the_views_lag_never_sees_an_item_that_left_its_force(
    lagging: tuple[TestClient, dict[str, UUID]],
) -> None:
    client, held = lagging

    for limit in (1, 2, MAX_LIMIT):
        rows = found(client, limit)

        ids = [item for item, _ in rows]
        assert len(set(ids)) == len(ids), limit  # nothing doubled across pages
        assert {holder for _, holder in rows} <= FORCE, limit
        gone = {str(held["LG-0001"]), str(held["LG-0004"])}
        assert gone.isdisjoint(ids), limit  # the views still say unit-1; the replay says not
        stayed = {str(held[f"LG-{n:04d}"]) for n in (0, 2, 3, 5)}
        assert stayed <= set(ids), limit  # nothing the force still holds is lost
    assert behind(client.app) == 3  # no read caught up


def test_an_item_that_came_to_the_partner_shows_in_its_search_once_the_follower_caught_up(
    api_ledger: Ledger, lagging: tuple[TestClient, dict[str, UUID]]
) -> None:
    client, held = lagging
    came = str(held["LG-0007"])
    assert came not in [item for item, _ in found(client, 2)]  # the views: still the outsider's

    follow(client.app.state.follower)  # type: ignore[attr-defined]
    assert behind(client.app) == 0

    rows = dict(found(client, 2))
    assert rows[came] == "unit-2"
    assert len(rows) == 5  # LG-0000, 0002, 0003, 0005 and 0007
