"""The oversight dashboard under /ui, through HTTP, on an in-memory ledger (docs/dashboard.md).

Four rifles under eua-1 issued on 2026-03-01: A-1 and A-2 to unit-1, B-1 to unit-2, C-1 to
unit-3. A-1 goes to unit-2 on 03-05, is inspected (verified) on 03-08 and stolen on 03-20; B-1 is
not presented at its inspection on 03-25. The clock then reads 2026-04-02: A-1 and B-1 are
unaccounted for, and each has a finding that oversight can put on record and resolve.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.ui.visits import cookie_name
from ledger.application import Ledger
from ledger.domain.access import Actor
from ledger.domain.tokens import Role
from ledger.integrity.endorsements import confirm_key
from ledger.integrity.notes import split_note
from ledger.witness.cosignatures import CosignerKey, cosign
from tests.checks_submissions import registered_by_the_operator, self_reported_inspection
from tests.conftest import Clock, LedgerFactory
from tests.programme import (
    ADMIN,
    APR_2,
    inspect_on,
    issue_rifles,
    mar,
    recorded,
    register,
    transfer_inspect_and_lose,
)

LOCAL = "http://localhost"
SERIALS = {"A-1": "unit-1", "A-2": "unit-1", "B-1": "unit-2", "C-1": "unit-3"}
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def build_fleet(ledger: Ledger, clock: Clock) -> dict[str, UUID]:
    register(ledger)
    ids = issue_rifles(ledger, clock, SERIALS, day=1)
    transfer_inspect_and_lose(ledger, clock, ids["A-1"])
    inspect_on(ledger, clock, ids["B-1"], day=25, result="not_presented")
    clock.now = APR_2
    return ids


@pytest.fixture
def fleet(ledger: Ledger, clock: Clock) -> dict[str, UUID]:
    return build_fleet(ledger, clock)


@pytest.fixture
def app(ledger: Ledger, fleet: dict[str, UUID]) -> FastAPI:
    return create_app(ledger)


def token_for(ledger: Ledger, party: str, role: str, kind: str | None = None) -> str:
    if kind is not None:
        ledger.register_party(party_id=party, name=party, kind=kind, actor=ADMIN)
    token, _ = ledger.grant_token(party=party, role=role, actor=ADMIN)
    return token


@pytest.fixture
def admin_token(ledger: Ledger, fleet: dict[str, UUID]) -> str:
    return token_for(ledger, "operator", "admin")


def browser(app: FastAPI, base_url: str = LOCAL) -> TestClient:
    return TestClient(app, base_url=base_url, raise_server_exceptions=False)


def login_csrf(client: TestClient) -> str:
    page = client.get("/ui/login")
    assert page.status_code == 200, page.text
    return hidden(page.text, "csrf")


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden {name} field"
    return found.group(1)


def sign_in(client: TestClient, token: str, target: str = "/ui") -> Any:
    """The login form, sent back with its double-submit cookie (which an http client keeps
    only for http://localhost: elsewhere it is Secure, for https)."""
    csrf = login_csrf(client)
    form = {"csrf": csrf, "token": token, "next": target}
    cookie = {"Cookie": f"custody_login_csrf={csrf}"}
    return client.post("/ui/login", data=form, headers=cookie, follow_redirects=False)


def signed_in(app: FastAPI, token: str) -> TestClient:
    client = browser(app)
    response = sign_in(client, token)
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def admin(app: FastAPI, admin_token: str) -> TestClient:
    return signed_in(app, admin_token)


@pytest.fixture
def oversight(app: FastAPI, ledger: Ledger) -> TestClient:
    return signed_in(app, token_for(ledger, "auditor", "oversight", kind="oversight"))


@pytest.fixture
def api(app: FastAPI, admin_token: str) -> TestClient:
    """The JSON API, with the bearer token."""
    return TestClient(app, headers={"Authorization": f"Bearer {admin_token}"})


def text_of(html: str) -> str:
    """The page's text with tags dropped and white space folded, for `in` checks."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def table(html: str, table_id: str) -> list[list[str]]:
    """The text of each cell of each body row of the table with this id."""
    found = re.search(rf'<table id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert found, f"no table {table_id}"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", found.group(1), re.S)
    return [[text_of(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


def set_cookie_headers(response: Any) -> list[str]:
    return response.headers.get_list("set-cookie")


def session_cookie(response: Any) -> str:
    (cookie,) = [c for c in set_cookie_headers(response) if c.startswith("custody_token=")]
    return cookie


# Signing in and out -------------------------------------------------------------------------------


def test_a_good_token_sets_an_httponly_strict_session_cookie_and_redirects_with_303(
    app: FastAPI, admin_token: str
) -> None:
    client = browser(app)

    response = sign_in(client, admin_token, "/ui/flags")

    assert (response.status_code, response.headers["location"]) == (303, "/ui/flags")
    cookie = session_cookie(response)
    assert cookie.startswith(f"custody_token={admin_token};")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/ui" in cookie
    assert client.get("/ui/flags").status_code == 200


@pytest.mark.parametrize(
    ("base_url", "secure"),
    [
        ("https://custody.example", True),
        ("http://custody.example", True),  # plain http elsewhere: TLS ends at a proxy
        ("http://localhost", False),
        ("http://127.0.0.1:8000", False),
    ],
)
def test_the_session_cookie_is_secure_unless_the_request_is_plain_http_to_a_loopback_host(
    app: FastAPI, admin_token: str, base_url: str, secure: bool
) -> None:
    response = sign_in(browser(app, base_url), admin_token)

    assert response.status_code == 303
    assert ("Secure" in session_cookie(response)) is secure


def test_a_bad_token_shows_why_with_401_and_sets_no_session_cookie(app: FastAPI) -> None:
    response = sign_in(browser(app), "cst_not-a-token-of-this-ledger")

    assert response.status_code == 401
    assert "Sign-in failed: unknown token." in text_of(response.text)
    assert not [c for c in set_cookie_headers(response) if c.startswith("custody_token=")]


def test_a_login_without_the_login_forms_csrf_value_is_refused_with_403(
    app: FastAPI, admin_token: str
) -> None:
    client = browser(app)
    login_csrf(client)

    response = client.post(
        "/ui/login", data={"token": admin_token, "csrf": "forged"}, follow_redirects=False
    )

    assert response.status_code == 403
    assert "The sign-in form had expired" in response.text
    assert not [c for c in set_cookie_headers(response) if c.startswith("custody_token=")]


@pytest.mark.parametrize("target", ["//evil.example/ui", "https://evil.example/", "/v1/flags"])
def test_after_signing_in_the_dashboard_never_sends_the_user_to_another_site(
    app: FastAPI, admin_token: str, target: str
) -> None:
    response = sign_in(browser(app), admin_token, target)

    assert response.headers["location"] == "/ui"


def test_a_page_asked_for_without_a_session_is_shown_after_signing_in(
    app: FastAPI, admin_token: str
) -> None:
    client = browser(app)

    first = client.get("/ui/unaccounted?as_of=2026-03-31", follow_redirects=False)
    login = client.get(first.headers["location"])
    response = client.post(
        "/ui/login",
        data={
            "csrf": hidden(login.text, "csrf"),
            "token": admin_token,
            "next": hidden(login.text, "next"),
        },
        follow_redirects=False,
    )

    assert first.headers["location"] == "/ui/login?next=/ui/unaccounted%3Fas_of%3D2026-03-31"
    assert response.headers["location"] == "/ui/unaccounted?as_of=2026-03-31"


def pages(ids: dict[str, UUID]) -> list[str]:
    item = ids["A-1"]
    return [
        "/ui",
        "/ui/unaccounted",
        "/ui/unaccounted?as_of=2026-03-31",
        "/ui/unaccounted?show=all&recipient=unit-1&limit=1&offset=1",
        "/ui/unaccounted.csv?reason=lost",
        "/ui/flags",
        "/ui/flags?status=all&rule=lost&limit=1",
        f"/ui/items/{item}",
        f"/ui/items/{item}/evidence",
        "/ui/log",
        "/ui/proof/0",
    ]


def test_every_page_without_a_session_redirects_to_the_login_form(
    app: FastAPI, fleet: dict[str, UUID]
) -> None:
    client = browser(app)

    for path in pages(fleet):
        response = client.get(path, follow_redirects=False)

        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/ui/login?next=/ui"), path


@pytest.mark.parametrize(
    "path", ["/ui/logout", "/ui/flags/scan", f"/ui/flags/{UUID(int=1)}/resolution"]
)
def test_every_form_without_a_session_redirects_to_the_login_form(app: FastAPI, path: str) -> None:
    response = browser(app).post(path, data={"csrf": "x"}, follow_redirects=False)

    assert (response.status_code, response.headers["location"]) == (303, "/ui/login")


def test_a_session_with_a_token_that_is_no_longer_valid_redirects_to_the_login_form(
    app: FastAPI, ledger: Ledger
) -> None:
    token = token_for(ledger, "auditor", "oversight", kind="oversight")
    client = signed_in(app, token)
    (info,) = [t for t in ledger.tokens(actor=ADMIN) if t.party == "auditor"]

    ledger.revoke_token(info.token_id, actor=ADMIN)

    assert client.get("/ui", follow_redirects=False).status_code == 303


def test_signing_out_clears_the_cookie_and_the_pages_ask_for_a_login_again(
    admin: TestClient,
) -> None:
    csrf = hidden(admin.get("/ui").text, "csrf")

    response = admin.post("/ui/logout", data={"csrf": csrf}, follow_redirects=False)

    assert (response.status_code, response.headers["location"]) == (303, "/ui/login")
    assert 'custody_token=""' in session_cookie(response)
    assert "Max-Age=0" in session_cookie(response)
    assert admin.get("/ui", follow_redirects=False).status_code == 303


def test_signing_out_by_the_link_clears_the_cookie_too(admin: TestClient) -> None:
    response = admin.get("/ui/logout", follow_redirects=False)

    assert (response.status_code, response.headers["location"]) == (303, "/ui/login")
    assert "Max-Age=0" in session_cookie(response)
    assert admin.get("/ui", follow_redirects=False).status_code == 303


# The pages ---------------------------------------------------------------------------------------


def test_the_overview_shows_items_by_category_and_status_and_the_rates(admin: TestClient) -> None:
    response = admin.get("/ui")

    assert response.status_code == 200
    text = text_of(response.text)
    assert "4 items issued, 2 unaccounted for" in text
    assert "rifle 3 1 0 4" in text  # category, in custody, lost, disposed, total
    assert "unit-1 2 1 50.0%" in text
    assert "unit-2 1 0 0.0%" in text
    assert "unit-3 1 1 100.0%" in text


def test_the_overview_charts_the_unaccounted_count_at_the_end_of_each_of_the_last_12_months(
    admin: TestClient,
) -> None:
    response = admin.get("/ui")

    months = re.findall(
        r'<th scope="row">(\w{3} \d{4}(?: \(to date\))?)</th>.*?<td class="num"><a [^>]*>(\d+)</a>',
        response.text,
        re.S,
    )
    assert len(months) == 12
    assert months[0] == ("May 2025", "0")
    assert months[-3:] == [("Feb 2026", "0"), ("Mar 2026", "2"), ("Apr 2026 (to date)", "2")]
    assert '<svg id="unaccounted-chart"' in response.text
    assert response.text.count('class="bar"') == 12


def test_the_unaccounted_page_lists_the_serials_and_reasons_with_links(
    admin: TestClient, fleet: dict[str, UUID]
) -> None:
    response = admin.get("/ui/unaccounted", params={"as_of": "2026-04-01"})

    assert response.status_code == 200
    text = text_of(response.text)
    assert "2 items unaccounted for as of 2026-04-01 23:59 UTC" in text
    assert f'href="/ui/items/{fleet["A-1"]}" class="serial">A-1</a>' in response.text
    assert f'href="/ui/items/{fleet["B-1"]}" class="serial">B-1</a>' in response.text
    assert "critical lost since 2026-03-20 : reported stolen and not recovered" in text
    assert "high failed inspection since 2026-03-25 : inspection found: not_presented" in text
    assert re.search(r'href="/ui/proof/\d+"', response.text)
    assert "C-1" not in text


def test_the_as_of_date_changes_the_list(admin: TestClient) -> None:
    before_the_loss = text_of(admin.get("/ui/unaccounted?as_of=2026-03-15").text)
    after_the_loss = text_of(admin.get("/ui/unaccounted?as_of=2026-03-21").text)
    after_both = text_of(admin.get("/ui/unaccounted?as_of=2026-03-31").text)

    assert "0 items unaccounted for" in before_the_loss
    assert "No item is unaccounted for as of this date." in before_the_loss
    assert "1 item unaccounted for" in after_the_loss
    assert " A-1 " in after_the_loss and " B-1 " not in after_the_loss
    assert "2 items unaccounted for" in after_both


@pytest.mark.parametrize("as_of", ["yesterday", "2026-02-30", "20260301", "2026-03-01T00:00:00Z"])
def test_an_as_of_that_is_not_a_date_is_refused_with_422_and_says_how_to_write_it(
    admin: TestClient, as_of: str
) -> None:
    response = admin.get("/ui/unaccounted", params={"as_of": as_of})

    assert response.status_code == 422
    assert "as_of must be a date written YYYY-MM-DD" in text_of(response.text)


def test_the_item_page_draws_the_custody_intervals_with_holders_and_dates(
    admin: TestClient, fleet: dict[str, UUID], ledger: Ledger
) -> None:
    response = admin.get(f"/ui/items/{fleet['A-1']}")

    assert response.status_code == 200
    intervals = table(response.text, "intervals-table")
    assert intervals == [
        ["unit-1", "in custody", "2026-03-01 08:00 UTC", "2026-03-05 08:00 UTC", "4"],
        ["unit-2", "in custody", "2026-03-05 08:00 UTC", "2026-03-20 08:00 UTC", "15"],
        ["unit-2", "lost", "2026-03-20 08:00 UTC", "now", ""],
    ]
    assert '<svg id="timeline-chart"' in response.text
    assert response.text.count('class="span span-') == 3
    assert 'class="marker inspection independent"' in response.text
    assert 'class="marker loss"' in response.text


def test_the_item_page_lists_each_entry_with_its_log_index_and_a_proof_link(
    admin: TestClient, fleet: dict[str, UUID], ledger: Ledger
) -> None:
    response = admin.get(f"/ui/items/{fleet['A-1']}")

    indexes = [row.log_index for row in ledger.history(fleet["A-1"])]
    links = [int(i) for i in re.findall(r'<a href="/ui/proof/(\d+)" id="entry-', response.text)]
    assert links == indexes
    kinds = [row[1] for row in table(response.text, "entries-table")]
    assert kinds == ["Issued", "Transferred", "Inspected", "ReportedLost"]


def test_the_item_page_tells_an_independent_inspection_from_the_holders_self_report(
    admin: TestClient, fleet: dict[str, UUID], ledger: Ledger, clock: Clock
) -> None:
    item = fleet["B-1"]
    holder = ledger.item(item).holder
    ledger.inspect(
        item,
        result="verified",
        method="self_report",
        occurred_at=recorded(clock, mar(28)),
        actor=Actor(holder, Role.PARTNER),
    )
    clock.now = APR_2

    response = admin.get(f"/ui/items/{item}")

    whats = [row[5] for row in table(response.text, "entries-table")]
    assert whats[1:] == [
        "not_presented (physical), recorded by operator for inspectorate independent",
        f"verified (self_report) by {holder} self-reported: the holder's statement",
    ]
    assert 'class="marker inspection self-reported"' in response.text


def test_the_item_page_says_when_a_signature_is_by_a_key_the_party_had_not_confirmed(
    admin: TestClient, fleet: dict[str, UUID], ledger: Ledger, clock: Clock
) -> None:
    item = fleet["C-1"]
    holder = ledger.item(item).holder
    key = Ed25519PrivateKey.generate()
    kid = registered_by_the_operator(ledger, holder, key)

    def self_report(day: int) -> None:
        at = recorded(clock, mar(day))
        self_reported_inspection(
            ledger, item, party=holder, key=key, nonce=f"nonce-{day:08d}", occurred_at=at
        )

    self_report(26)
    ledger.confirm_key(
        party=holder,
        key=kid,
        actor=Actor(holder, Role.PARTNER),
        **confirm_key(key, origin=ledger.origin, party=holder),
    )
    self_report(27)
    clock.now = APR_2

    response = admin.get(f"/ui/items/{item}")

    by = [row[4] for row in table(response.text, "entries-table")][-2:]
    assert by == [
        f"{holder} signed by an operator-registered key {holder} had not confirmed",
        f"{holder} signed",
    ]


def test_a_proof_index_that_is_not_a_number_is_a_422_page(admin: TestClient) -> None:
    response = admin.get("/ui/proof/first")

    assert response.status_code == 422
    assert "text/html" in response.headers["content-type"]


def test_an_unknown_item_is_a_404_page(admin: TestClient) -> None:
    response = admin.get(f"/ui/items/{UUID(int=7)}")

    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "not found" in text_of(response.text)


def test_the_evidence_bundle_downloads_from_the_item_page(
    admin: TestClient, fleet: dict[str, UUID]
) -> None:
    response = admin.get(f"/ui/items/{fleet['A-1']}/evidence")

    assert response.status_code == 200
    assert response.json()["item_id"] == str(fleet["A-1"])
    assert "attachment" in response.headers["content-disposition"]


def test_the_log_page_shows_the_checkpoint_size_and_the_logs_signature(
    admin: TestClient, ledger: Ledger
) -> None:
    response = admin.get("/ui/log")

    size = ledger.log_store.log_size()
    assert response.status_code == 200
    assert f'<dd id="checkpoint-size">{size}</dd>' in response.text
    assert f'<dd id="log-size">{size}</dd>' in response.text
    assert "the log's key verified" in text_of(response.text)
    assert f'href="/ui/proof/{size - 1}"' in response.text
    assert "No witness keys are configured" in response.text


def test_the_proof_page_shows_the_same_inclusion_proof_as_the_api(
    admin: TestClient, api: TestClient, ledger: Ledger
) -> None:
    response = admin.get("/ui/proof/3")

    size = ledger.log_store.log_size()  # the page signed a checkpoint: its map root ends the log
    proof = api.get("/v1/log/proof/inclusion", params={"index": 3, "size": size}).json()
    assert response.status_code == 200
    assert "The inclusion proof below leads from this entry" in text_of(response.text)
    assert f'<dd id="proof-size">{size}</dd>' in response.text
    assert (
        re.findall(r'<li><code class="hash">([^<]+)</code></li>', response.text) == proof["hashes"]
    )
    assert f'<code class="hash" id="root-hash">{proof["root"]}</code>' in response.text


def test_a_proof_of_an_entry_beyond_the_log_is_a_404_page(
    admin: TestClient, ledger: Ledger
) -> None:
    ledger.tlog.checkpoint()  # signed now, so that the page appends no map root of its own

    response = admin.get(f"/ui/proof/{ledger.log_store.log_size()}")

    assert response.status_code == 404
    assert "is not in the tree" in response.text


def test_the_log_page_names_the_witnesses_and_their_last_cosignature(
    make_ledger: LedgerFactory, clock: Clock
) -> None:
    key = CosignerKey("w0.example", Ed25519PrivateKey.from_private_bytes(b"\x21" * 32))
    stamp = int(datetime(2026, 4, 2, 9, 0, tzinfo=UTC).timestamp())

    def cosigners(note: str, proof_from: Any) -> list[str]:
        return [cosign(split_note(note)[0], key, timestamp=stamp)]

    ledger = make_ledger(
        "sqlite:///:memory:", cosigners=cosigners, witness_keys=[f"w0 {key.verifier.vkey}"]
    )
    build_fleet(ledger, clock)
    client = signed_in(create_app(ledger), token_for(ledger, "operator", "admin"))

    response = client.get("/ui/log")

    witnesses = table(response.text, "witnesses-table")
    size = str(ledger.log_store.log_size())
    assert witnesses == [["w0", key.verifier.key, size, "2026-04-02 09:00 UTC"]]
    assert ["w0", key.verifier.key, "witness", "2026-04-02 09:00 UTC", "verified"] in table(
        response.text, "signatures-table"
    )


# Flags ------------------------------------------------------------------------------------------


def put_on_record(client: TestClient) -> None:
    csrf = hidden(client.get("/ui/flags").text, "csrf")
    response = client.post("/ui/flags/scan", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303, response.text


def flag_of(client: TestClient, serial: str) -> str:
    page = client.get("/ui/flags").text
    found = re.search(
        rf'<tr id="flag-([0-9a-f-]+)">(?:(?!</tr>).)*?class="serial">{serial}<', page, re.S
    )
    assert found, f"no open flag of {serial}"
    return found.group(1)


def test_the_flags_page_lists_the_open_flags_with_a_resolve_form_for_oversight(
    oversight: TestClient,
) -> None:
    put_on_record(oversight)

    response = oversight.get("/ui/flags")

    text = text_of(response.text)
    assert "2 open flags." in text
    assert "reported stolen and not recovered" in text
    assert "inspection found: not_presented" in text
    flag = flag_of(oversight, "B-1")
    assert f'<form method="post" action="/ui/flags/{flag}/resolution"' in response.text
    assert f'<label for="reason-{flag}">Resolution</label>' in response.text


def test_resolving_a_flag_by_the_form_records_a_resolution_the_api_lists(
    oversight: TestClient, api: TestClient
) -> None:
    put_on_record(oversight)
    flag = flag_of(oversight, "B-1")
    csrf = hidden(oversight.get("/ui/flags").text, "csrf")

    response = oversight.post(
        f"/ui/flags/{flag}/resolution",
        data={"csrf": csrf, "reason": "found in the armoury"},
        follow_redirects=False,
    )

    assert (response.status_code, response.headers["location"]) == (
        303,
        f"/ui/flags?resolved={flag}",
    )
    assert f"Flag {flag} resolved" in oversight.get(response.headers["location"]).text
    resolved = api.get("/v1/flags", params={"status": "resolved", "as_of": APR_2.isoformat()})
    (only,) = resolved.json()["flags"]
    assert only["flag_id"] == flag
    assert only["resolution"]["reason"] == "found in the armoury"
    assert only["resolution"]["by"] == "auditor"
    assert "1 open flag." in text_of(oversight.get("/ui/flags").text)


def test_a_partners_attempt_to_resolve_a_flag_is_refused_with_403_and_a_message(
    app: FastAPI, ledger: Ledger, oversight: TestClient, api: TestClient
) -> None:
    put_on_record(oversight)
    flag = flag_of(oversight, "B-1")
    partner = signed_in(app, token_for(ledger, "unit-2", "partner"))
    page = partner.get("/ui/flags")

    response = partner.post(
        f"/ui/flags/{flag}/resolution",
        data={"csrf": hidden(page.text, "csrf"), "reason": "nothing to see"},
    )

    assert response.status_code == 403
    assert "role partner may not resolve flag" in text_of(response.text)
    assert "Your role (partner) cannot resolve flags." in text_of(page.text)
    assert api.get("/v1/flags", params={"status": "resolved"}).json()["flags"] == []


@pytest.mark.parametrize("csrf", [None, "", "0" * 64])
def test_a_form_without_the_sessions_csrf_token_is_refused_and_records_nothing(
    oversight: TestClient, api: TestClient, csrf: str | None
) -> None:
    put_on_record(oversight)
    flag = flag_of(oversight, "B-1")
    form = {"reason": "forged"} | ({"csrf": csrf} if csrf is not None else {})

    response = oversight.post(f"/ui/flags/{flag}/resolution", data=form)

    assert response.status_code == 403
    assert "security token is missing or out of date" in text_of(response.text)
    assert api.get("/v1/flags", params={"status": "resolved"}).json()["flags"] == []


def test_a_partner_sees_only_the_items_issued_to_it_or_its_units(
    app: FastAPI, ledger: Ledger
) -> None:
    partner = signed_in(app, token_for(ledger, "unit-2", "partner"))

    text = text_of(partner.get("/ui/unaccounted?as_of=2026-04-01").text)

    assert "1 item unaccounted for" in text
    assert " B-1 " in text and " A-1 " not in text


# Security headers and accessibility --------------------------------------------------------------


def test_every_dashboard_response_carries_the_security_headers(
    app: FastAPI, admin: TestClient, fleet: dict[str, UUID]
) -> None:
    anonymous = browser(app)
    responses = [admin.get(path) for path in pages(fleet)]
    responses += [
        anonymous.get("/ui/login"),
        anonymous.get("/ui", follow_redirects=False),
        admin.get(f"/ui/items/{UUID(int=7)}"),
        anonymous.get("/ui/static/dashboard.css"),
    ]

    for response in responses:
        csp = response.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, response.url
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (response.url, name)


class Page(HTMLParser):
    """What the accessibility checks need from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def parsed(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def html_pages(
    app: FastAPI, admin: TestClient, oversight: TestClient, ids: dict[str, UUID]
) -> dict[str, str]:
    put_on_record(oversight)
    found = {
        path: admin.get(path).text
        for path in pages(ids)
        if not path.endswith("/evidence") and ".csv" not in path
    }
    found["/ui/flags (oversight)"] = oversight.get("/ui/flags").text
    found["/ui/login"] = browser(app).get("/ui/login").text
    found["404"] = admin.get(f"/ui/items/{UUID(int=7)}").text
    return found


def test_pages_have_no_inline_script_and_every_form_control_has_a_label(
    app: FastAPI, admin: TestClient, oversight: TestClient, fleet: dict[str, UUID]
) -> None:
    for path, html in html_pages(app, admin, oversight, fleet).items():
        page = parsed(html)
        labelled = {label.get("for") for label in page.all("label")}
        controls = [
            attrs
            for tag in ("input", "select", "textarea")
            for attrs in page.all(tag)
            if attrs.get("type") != "hidden"
        ]

        assert all(s.get("src") for s in page.all("script")), path
        assert not [a for name, a in page.tags if any(k.startswith("on") for k in a)], path
        assert not [a for _, a in page.tags if "style" in a], path
        assert all(c.get("id") in labelled for c in controls), path


def test_pages_have_a_language_a_skip_link_landmarks_and_scoped_table_headers(
    app: FastAPI, admin: TestClient, oversight: TestClient, fleet: dict[str, UUID]
) -> None:
    for path, html in html_pages(app, admin, oversight, fleet).items():
        page = parsed(html)

        assert page.all("html")[0].get("lang") == "en", path
        assert page.all("a")[0].get("href") == "#main", path
        assert [m.get("id") for m in page.all("main")] == ["main"], path
        assert page.all("header"), path
        assert all(th.get("scope") in ("col", "row") for th in page.all("th")), path
        if path != "/ui/login":
            assert page.all("nav"), path


# Issue 19: filters, the CSV of a list, the bulk action, the visit mark, the title ----------------


def test_the_csv_holds_exactly_the_rows_the_filtered_list_shows_every_page_of_it(
    admin: TestClient,
) -> None:
    query = "show=all&recipient=unit-1"
    shown = table(admin.get(f"/ui/unaccounted?{query}&limit=1").text, "unaccounted-table")
    second = table(admin.get(f"/ui/unaccounted?{query}&limit=1&offset=1").text, "unaccounted-table")

    response = admin.get(f"/ui/unaccounted.csv?{query}")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="unaccounted-2026-04-02.csv"'
    )
    listed = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["serial"] for r in listed] == [row[0] for row in shown + second] == ["A-1", "A-2"]
    assert [(r["rule"], r["severity"]) for r in listed] == [("lost", "critical"), ("", "")]
    assert {r["as_of"] for r in listed} == {"2026-04-02T23:59:59.999999Z"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("reason=theft", "reason must be one of diversion, lost,"),
        ("show=everything", "show must be one of unaccounted, accounted, all"),
        ("severity=urgent", "severity must be one of critical, high, medium, low"),
        ("offset=-1", "greater than or equal to 0"),
        ("limit=0", "greater than or equal to 1"),
    ],
)
def test_a_filter_with_an_unknown_value_is_refused_with_422_and_names_the_allowed_ones(
    admin: TestClient, query: str, message: str
) -> None:
    paged = query.startswith(("offset", "limit"))  # the pages' parameters, not the CSV's
    for path in ["/ui/unaccounted", "/ui/flags" if paged else "/ui/unaccounted.csv"]:
        response = admin.get(f"{path}?{query}")

        assert response.status_code == 422, path
        assert message in text_of(response.text), path


def test_the_bulk_action_puts_on_record_only_what_the_filters_select(
    oversight: TestClient,
) -> None:
    csrf = hidden(oversight.get("/ui/flags").text, "csrf")

    response = oversight.post(
        "/ui/flags/record", data={"csrf": csrf, "rule": "lost"}, follow_redirects=False
    )

    assert response.headers["location"] == "/ui/flags?rule=lost&scanned=1"
    page = text_of(oversight.get("/ui/flags").text)
    assert "2 open flags. 1 of them is not on record yet" in page
    assert "Put these 1 findings on record" not in text_of(
        oversight.get("/ui/flags?rule=lost").text
    )


@pytest.mark.parametrize("csrf", [None, "", "0" * 64])
def test_the_bulk_action_without_the_sessions_csrf_token_is_refused_and_records_nothing(
    oversight: TestClient, csrf: str | None
) -> None:
    form = {"rule": "lost"} | ({"csrf": csrf} if csrf is not None else {})

    response = oversight.post("/ui/flags/record", data=form)

    assert response.status_code == 403
    assert "security token is missing or out of date" in text_of(response.text)
    assert "2 of them are not on record yet" in text_of(oversight.get("/ui/flags").text)


def test_a_partner_may_not_use_the_bulk_action_and_sees_no_such_button(
    app: FastAPI, ledger: Ledger, oversight: TestClient
) -> None:
    partner = signed_in(app, token_for(ledger, "unit-2", "partner"))
    page = partner.get("/ui/flags")

    response = partner.post("/ui/flags/record", data={"csrf": hidden(page.text, "csrf")})

    assert response.status_code == 403
    assert "role partner may not raise flag" in text_of(response.text)
    assert 'id="record-form"' not in page.text
    assert "2 of them are not on record yet" in text_of(oversight.get("/ui/flags").text)


def test_the_overview_keeps_the_visit_mark_in_an_httponly_strict_cookie_per_party(
    admin: TestClient, ledger: Ledger
) -> None:
    first = admin.get("/ui")

    cookie = first.headers["set-cookie"]
    assert cookie.startswith(cookie_name("operator") + "=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert "first visit from this browser as operator" in text_of(first.text)
    size = ledger.log_store.log_size()
    assert f"Since 2026-04-02 09:00 UTC (the log then had {size} entries)" in text_of(
        admin.get("/ui").text
    )


@pytest.mark.parametrize(
    "value", ["garbage", "1.2.3.4.5.x", "1.-2.3.1.2.3", "9" * 40 + ".1.1.1.1.1"]
)
def test_an_unreadable_visit_cookie_is_a_first_visit(admin: TestClient, value: str) -> None:
    admin.cookies.set(cookie_name("operator"), value, path="/ui")

    response = admin.get("/ui")

    assert response.status_code == 200
    assert "first visit from this browser" in text_of(response.text)


def test_a_partners_pages_say_partner_dashboard_and_never_oversight_dashboard(
    app: FastAPI, ledger: Ledger, fleet: dict[str, UUID]
) -> None:
    partner = signed_in(app, token_for(ledger, "unit-2", "partner"))

    for path in ("/ui", "/ui/unaccounted", "/ui/flags", f"/ui/items/{fleet['B-1']}"):
        html = partner.get(path).text

        assert re.search(r"<title>[^<]* · Custody partner dashboard · unit-2</title>", html), path
        assert "oversight dashboard" not in html, path


def test_the_item_page_says_what_its_findings_say_with_their_evidence_and_who_clears_them(
    admin: TestClient, fleet: dict[str, UUID]
) -> None:
    html = admin.get(f"/ui/items/{fleet['B-1']}").text
    text = text_of(html)

    assert "UNACCOUNTED FOR" in text.upper()
    assert re.search(r'id="item-standing-label">unaccounted for<', html)
    assert "failed inspection since 2026-03-25 08:00 UTC" in text
    assert "Evidence #18 Inspected 2026-03-25 08:00 UTC by operator : not_presented" in text
    assert "a later verified inspection by an independent party" in text
    assert "not on record yet" in text


def test_a_partner_filters_its_lists_by_one_of_its_units_but_not_by_another_recipient(
    app: FastAPI, ledger: Ledger
) -> None:
    force = signed_in(app, token_for(ledger, "force", "partner"))

    unit = force.get("/ui/unaccounted?recipient=unit-2&show=all")
    flags = force.get("/ui/flags?recipient=unit-1")
    other = force.get("/ui/unaccounted?recipient=outsider")

    assert [row[0] for row in table(unit.text, "unaccounted-table")] == ["B-1"]
    assert "A-1" in text_of(flags.text) and "B-1" not in text_of(flags.text)
    assert other.status_code == 403
    assert "force may see its own items only, not outsider's" in text_of(other.text)
