"""The fuzz beyond the OpenAPI document (issue 16): the dashboard's pages, which the schema leaves
out, and the witness endpoint (api/witness_app.py), whose body is text, not JSON. Whatever is
sent, nothing answers 5xx. Hypothesis, bounded (PAGE_EXAMPLES per page, WITNESS_EXAMPLES bodies)
so that the suite stays quick; CUSTODY_FUZZ_EXAMPLES raises both, as for tests/api/test_fuzz.py.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import ui
from api.main import create_app
from api.ui.pages import DashboardRoute
from api.witness_app import create_witness_app
from ledger.integrity.checkpoints import Checkpoint, sign_checkpoint
from ledger.store.witness_store import SQLiteWitnessState
from ledger.witness.cosignatures import CosignerKey
from ledger.witness.witness import Witness, format_add_checkpoint
from tests.conftest import SIGNER, Clock, LedgerFactory
from tests.programme import ADMIN, ago, issue, register

SCALE = int(os.environ.get("CUSTODY_FUZZ_EXAMPLES", "10"))
PAGE_EXAMPLES, WITNESS_EXAMPLES = 3 * SCALE, 10 * SCALE
PARAM = re.compile(r"\{(\w+)\}")
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

texts = st.text(max_size=40) | st.sampled_from(
    ["", "-1", "0", "99999999999999999999", "2026-02-30", "0001-01-01", "9999-12-31", "%00"]
)
numbers = st.integers(min_value=-(2**70), max_value=2**70).map(str)
dates = st.dates().map(str) | st.sampled_from(["2026-06-30T00:00:00Z", "10000-01-01", "0-0-0"])


@pytest.fixture
def dashboard(make_ledger: LedgerFactory, sqlite_url: str) -> tuple[TestClient, list[str]]:
    """A signed-in admin on the dashboard of a small fleet; the ids an input may hit."""
    ledger = make_ledger(sqlite_url)
    register(ledger)
    item = issue(ledger, "PG-1")
    ledger.report_lost(item, circumstances="lost", occurred_at=ago(ledger, days=1), actor=ADMIN)
    token, _ = ledger.grant_token(party="operator", role="admin", actor=ADMIN)
    client = TestClient(
        create_app(ledger), base_url="http://127.0.0.1", raise_server_exceptions=False
    )
    client.headers["Cookie"] = f"custody_token={token}"
    return client, [str(item), "1", str(ledger.log_store.log_size())]


def page_requests(known: list[str]) -> st.SearchStrategy[tuple[str, str, dict[str, str]]]:
    """(method, path, query) of any dashboard route, its path and query filled with anything."""
    routes = [r for r in ui.router.routes if isinstance(r, DashboardRoute)]
    assert len(routes) >= 9  # every page and form

    def request(route: Any) -> st.SearchStrategy[tuple[str, str, dict[str, str]]]:
        names = PARAM.findall(route.path)
        values = st.lists(
            texts | numbers | st.sampled_from(known), min_size=len(names), max_size=len(names)
        )
        query = st.dictionaries(
            st.sampled_from([p.name for p in route.dependant.query_params] or ["x"]),
            texts | numbers | dates,
        )
        return st.tuples(st.sampled_from(sorted(route.methods)), values, query).map(
            lambda t: (t[0], _fill(route.path, t[1]), t[2])
        )

    return st.one_of([request(r) for r in routes])


def _fill(path: str, values: list[str]) -> str:
    it = iter(values)
    return PARAM.sub(lambda _: quote(next(it), safe="") or "x", path)


def test_no_dashboard_page_or_form_answers_5xx_whatever_its_path_and_query(
    dashboard: tuple[TestClient, list[str]],
) -> None:
    client, known = dashboard
    seen: list[int] = []

    @settings(FUZZ, max_examples=PAGE_EXAMPLES * 9)
    @given(page_requests(known))
    def answer(request: tuple[str, str, dict[str, str]]) -> None:
        method, path, query = request
        response = client.request(method, path, params=query, follow_redirects=False)
        seen.append(response.status_code)
        assert response.status_code < 500, (method, path, query, response.text[:300])

    answer()

    assert {200, 404, 422} <= set(seen), sorted(set(seen))


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/ui/proof/1", {"size": "999999"}),  # a tree beyond the log: raised before issue 16
        ("/ui/proof/999999", {}),
        ("/ui/proof/-1", {}),
        ("/ui/unaccounted", {"as_of": "0999-01-01"}),
        ("/ui/unaccounted", {"as_of": "1799-12-31"}),
        ("/ui/items/not-an-id", {}),
    ],
)
def test_a_dashboard_page_beyond_the_log_or_the_calendar_is_refused_with_a_page(
    dashboard: tuple[TestClient, list[str]], path: str, query: dict[str, str]
) -> None:
    client, _ = dashboard

    response = client.get(path, params=query)

    assert response.status_code in (404, 422), response.text[:300]
    assert "text/html" in response.headers["content-type"]


# The witness endpoint -----------------------------------------------------------------------------


@pytest.fixture
def witness(tmp_path: Path, clock: Clock) -> tuple[TestClient, bytes]:
    """A witness of the tests' log, and a good add-checkpoint request to mutate."""
    key = CosignerKey("w.example", Ed25519PrivateKey.from_private_bytes(b"\x21" * 32))
    state = SQLiteWitnessState(tmp_path / "witness.db")
    app = create_witness_app(Witness(key, {SIGNER.name: SIGNER.verifier}, state, clock), state)
    note = sign_checkpoint(Checkpoint(SIGNER.name, 1, b"\x01" * 32), SIGNER)
    return TestClient(app, raise_server_exceptions=False), format_add_checkpoint(0, [], note)


@st.composite
def mutated(draw: st.DrawFn, good: bytes) -> bytes:
    """The good request with some lines replaced, cut, repeated or corrupted, or random bytes."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=300))
    lines = good.split(b"\n")
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(lines) - 1))
        lines[at] = draw(
            st.sampled_from(
                [
                    b"",
                    lines[at] * 2,
                    lines[at][: len(lines[at]) // 2],
                    b"old -1",
                    b"old 18446744073709551616",
                    b"old 99999999999999999999999999",
                    b"\xff\xfe",
                    "\u2014 w.example AAAA".encode(),
                ]
            )
            | st.binary(max_size=80)
        )
    return b"\n".join(lines)


def test_the_witness_answers_no_request_body_with_5xx(witness: tuple[TestClient, bytes]) -> None:
    client, good = witness
    seen: list[int] = []

    @settings(FUZZ, max_examples=WITNESS_EXAMPLES)
    @given(mutated(good))
    def answer(body: bytes) -> None:
        response = client.post("/add-checkpoint", content=body)
        seen.append(response.status_code)
        assert response.status_code < 500, (body, response.text)

    answer()

    assert client.post("/add-checkpoint", content=good).status_code in (200, 409)
    assert client.get("/key").status_code == 200
    assert client.get("/misbehaviour").status_code == 200
    assert {400} <= set(seen), sorted(set(seen))
