"""One scope per role, on every read (ledger/application/scope.py, docs/api.md "What each role
reads").

The walk takes every GET route of the OpenAPI document and every GET page of the dashboard, so a
route added later is walked too, and asks each with a partner's token about another force's item:
the answer is 403 or 404, or it names neither the item's id nor its serial anywhere (base64 entry
bytes decoded). The owner's own walk finds its item, so the detector is not blind.

The programme (tests/programme.py): `force` with units unit-1..3, and `outsider`, another force.
OUT-1 is issued to outsider, FORCE-1 to unit-1; both lost, so both have flags on record; each
has a sighting matched to it and a trace about it addressed to its force (issue 17).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import ui
from api.main import create_app
from api.ui.pages import DashboardRoute
from ledger.application.ledger import Ledger
from tests.conftest import Clock
from tests.programme import ADMIN, ago, issue, record_sighting

PARAM = re.compile(r"\{(\w+)\}")
NARROWING = ("item", "status", "serial", "q")
"""The optional query parameters the walk fills in: those that point at the target item."""


@pytest.fixture
def items(api_ledger: Ledger, clock: Clock, client: TestClient) -> dict[str, UUID]:
    found = {
        "OUT-1": issue(api_ledger, "OUT-1", recipient="outsider", days_ago=20),
        "FORCE-1": issue(api_ledger, "FORCE-1", recipient="unit-1", days_ago=20),
    }
    for serial, item in found.items():
        api_ledger.report_lost(
            item, circumstances="stolen", occurred_at=ago(api_ledger, days=10), actor=ADMIN
        )
        # issue 17: a sighting of it, matched to it, and a trace about it to its force
        seen = record_sighting(api_ledger, serial, ago(api_ledger, days=5)).id
        api_ledger.match_sighting(seen, item=item, actor=ADMIN)
        owner = "outsider" if serial == "OUT-1" else "force"
        api_ledger.request_trace(
            item=item, addressee=owner, question="Where is it?", answer_days=28, actor=ADMIN
        )
    assert client.post("/v1/flags/scan").status_code == 200
    return found


@pytest.fixture
def app(api_ledger: Ledger, items: dict[str, UUID]) -> FastAPI:
    return create_app(api_ledger)


def token(ledger: Ledger, party: str) -> str:
    granted, _ = ledger.grant_token(party=party, role="partner", actor=ADMIN)
    return granted


def issue_index(ledger: Ledger, item: UUID) -> int:
    return ledger.history(item)[0].log_index


def values(ledger: Ledger, item: UUID, recipient: str) -> dict[str, str]:
    """A value for every path and query parameter the routes take, about the target item."""
    size = ledger.log_store.log_size()
    flag = next(f for f in ledger.raised_flags() if f.item_id == item)
    serial = ledger.item(item).serial
    pattern = serial[:-1] + "?"  # finds the serial without spelling it, as a page would echo it
    return {
        "item_id": str(item),
        "aggregate_id": str(item),
        "serial": serial,
        "q": pattern,
        "party_id": recipient,
        "holder": recipient,
        "recipient": recipient,
        "item": str(item),
        "flag_id": str(flag.id),
        "token_id": str(UUID(int=1)),
        "key_id": "0" * 8,
        "index": str(issue_index(ledger, item)),
        "start": "0",
        "end": str(size),
        "size": str(size),
        "from": "1",
        "to": str(size),
        "at": "2026-03-01T12:00:00Z",
        "known_at": "2026-03-01T12:00:00Z",
        "as_of": ledger.clock().date().isoformat(),
        "status": "all",
        "view": "items",
        "bundle": f"000.p/{min(size, 255)}",  # /tlog/ (api/routes/tiles.py)
        "level": "0",
        "number": f"000.p/{min(size, 255)}",
    }


def api_requests(app: FastAPI, given: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    """(path, query) for every GET operation of the OpenAPI document, every parameter filled."""
    for path, operations in app.openapi()["paths"].items():
        if "get" not in operations:
            continue
        query = {
            p["name"]: given[p["name"]]
            for p in operations["get"].get("parameters", [])
            if p["in"] == "query" and (p.get("required") or p["name"] in NARROWING)
        }
        yield PARAM.sub(lambda m: given[m.group(1)], path), query


def dashboard_requests(given: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    """(path, query) for every GET page of the dashboard but the sign-in and sign-out."""
    for route in _routes(ui.router.routes):
        if not isinstance(route, DashboardRoute) or "GET" not in route.methods:
            continue
        if route.path.startswith(("/ui/login", "/ui/logout")):
            continue
        query = {p.name: given[p.name] for p in route.dependant.query_params if p.name in given}
        yield PARAM.sub(lambda m: given[m.group(1)], route.path), query


def _routes(routes: list[Any]) -> Iterator[Any]:
    """The routes, those of included routers too (FastAPI keeps an included router as one route,
    so /ui/search and /ui/investigations were not walked)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        yield from _routes(included.routes) if included is not None else [route]


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, str):
        yield value
        with contextlib.suppress(binascii.Error, ValueError):
            yield base64.b64decode(value, validate=True).decode("utf-8", "replace")


def mentions(text: str, item: UUID, serial: str) -> bool:
    try:
        found = "\n".join(strings(json.loads(text)))
    except ValueError:
        found = text
    return str(item) in found or serial in found


def leaks(client: TestClient, path: str, query: dict[str, str], item: UUID, serial: str) -> str:
    response = client.get(path, params=query)
    assert response.status_code < 500, (path, response.text)
    if response.status_code in (403, 404):
        return ""
    return f"{path} {response.status_code}" if mentions(response.text, item, serial) else ""


@pytest.mark.parametrize(
    ("reader", "serial", "owner"),
    [
        ("force", "OUT-1", "outsider"),  # another force
        ("unit-2", "FORCE-1", "unit-1"),  # a sibling unit of the same force
        ("outsider", "FORCE-1", "unit-1"),
    ],
)
def test_no_route_or_page_shows_a_partner_another_forces_item(
    api_ledger: Ledger, app: FastAPI, items: dict[str, UUID], reader: str, serial: str, owner: str
) -> None:
    item = items[serial]
    given = values(api_ledger, item, owner)
    api = TestClient(app, raise_server_exceptions=False)
    api.headers["Authorization"] = f"Bearer {token(api_ledger, reader)}"
    ui = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)
    ui.headers["Cookie"] = f"custody_token={token(api_ledger, reader)}"

    requests = list(api_requests(app, given)), list(dashboard_requests(given))
    assert len(requests[0]) >= 13 and len(requests[1]) >= 7  # the walk finds the routes

    found = [leaks(api, path, query, item, serial) for path, query in api_requests(app, given)]
    found += [leaks(ui, path, query, item, serial) for path, query in dashboard_requests(given)]

    assert [f for f in found if f] == []


def test_the_walk_finds_the_item_for_its_own_force_so_it_can_fail(
    api_ledger: Ledger, app: FastAPI, items: dict[str, UUID]
) -> None:
    item = items["FORCE-1"]
    given = values(api_ledger, item, "unit-1")
    api = TestClient(app, raise_server_exceptions=False)
    api.headers["Authorization"] = f"Bearer {token(api_ledger, 'force')}"
    ui = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)
    ui.headers["Cookie"] = f"custody_token={token(api_ledger, 'force')}"

    seen = {
        path for path, query in api_requests(app, given) if leaks(api, path, query, item, "FORCE-1")
    }
    seen |= {
        path for path, query in dashboard_requests(given) if leaks(ui, path, query, item, "FORCE-1")
    }

    assert {
        f"/v1/items/{item}",
        f"/v1/items/{item}/history",
        f"/v1/items/{item}/custody",
        f"/v1/items/{item}/evidence",
        "/v1/items",  # ?serial= (issue 17)
        "/v1/items/search",  # ?q= (issue 17)
        "/v1/sightings",
        "/v1/traces",
        "/v1/custody",
        "/v1/log/entries",
        "/v1/flags",
        "/v1/reports/unaccounted",
        f"/ui/items/{item}",
        f"/ui/items/{item}/evidence",
        f"/ui/proof/{issue_index(api_ledger, item)}",
        "/ui/flags",
        "/ui/unaccounted",
        "/ui/search",
        "/ui/investigations",
    } <= seen


def test_a_partner_reads_the_leaf_hash_but_not_the_bytes_of_another_forces_entry(
    api_ledger: Ledger, client: TestClient, items: dict[str, UUID]
) -> None:
    index = issue_index(api_ledger, items["OUT-1"])
    headers = {"Authorization": f"Bearer {token(api_ledger, 'force')}"}

    seen = client.get("/v1/log/entries", params={"start": index, "end": index + 1}, headers=headers)
    admin = client.get("/v1/log/entries", params={"start": index, "end": index + 1})

    (entry,) = seen.json()["entries"]
    assert entry["entry"] is None
    assert entry["leaf_hash"] == admin.json()["entries"][0]["leaf_hash"]


def test_a_partner_asking_what_another_force_holds_is_refused(
    api_ledger: Ledger, client: TestClient, items: dict[str, UUID]
) -> None:
    headers = {"Authorization": f"Bearer {token(api_ledger, 'force')}"}

    refused = client.get(
        "/v1/custody", params={"holder": "outsider", "at": "2026-03-01T12:00:00Z"}, headers=headers
    )
    own_unit = client.get(
        "/v1/custody", params={"holder": "unit-1", "at": "2026-03-01T12:00:00Z"}, headers=headers
    )

    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == (
        "force may see what it and its units hold, not what outsider holds"
    )
    assert own_unit.status_code == 200


def test_a_partner_reads_an_item_it_was_transferred_and_the_custody_at_a_time_it_held_it(
    api_ledger: Ledger, client: TestClient, clock: Clock
) -> None:
    item = issue(api_ledger, "MOVED-1", recipient="unit-1", days_ago=20)
    api_ledger.transfer(item, to="unit-2", occurred_at=ago(api_ledger, days=15), actor=ADMIN)
    api_ledger.transfer(item, to="unit-3", occurred_at=ago(api_ledger, days=5), actor=ADMIN)
    headers = {"Authorization": f"Bearer {token(api_ledger, 'unit-2')}"}
    then = ago(api_ledger, days=10).isoformat()
    now = api_ledger.clock().isoformat()

    held_then = client.get(f"/v1/items/{item}/custody", params={"at": then}, headers=headers)
    not_now = client.get(f"/v1/items/{item}/custody", params={"at": now}, headers=headers)
    state = client.get(f"/v1/items/{item}", headers=headers)

    assert held_then.status_code == 200
    assert held_then.json()["holder"] == "unit-2"
    assert not_now.status_code == 404
    assert state.status_code == 404


def test_another_forces_item_asked_about_before_its_issue_is_not_found_as_any_other(
    api_ledger: Ledger, client: TestClient, items: dict[str, UUID]
) -> None:
    """The Ledger's own answer ("had not been issued by ...") would confirm that it exists."""
    headers = {"Authorization": f"Bearer {token(api_ledger, 'force')}"}
    item = items["OUT-1"]

    early = client.get(
        f"/v1/items/{item}/custody", params={"at": "2020-01-01T00:00:00Z"}, headers=headers
    )

    assert early.status_code == 404
    assert early.json()["error"]["message"] == f"item {item} not found"
