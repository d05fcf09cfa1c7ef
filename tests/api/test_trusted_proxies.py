"""`X-Forwarded-For` is honoured only from proxies listed in CUSTODY_TRUSTED_PROXIES (issue 16):
before, the failed-token limit took the header from any client, so rotating it bypassed the limit.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import security
from api.main import create_app
from ledger.application.ledger import Ledger
from ledger.domain.errors import InvalidInput

LIMIT = security.FAILURES_PER_WINDOW
WRONG = {"Authorization": "Bearer cst_not-a-token-of-this-ledger"}
PROXY = ("10.0.0.5", 40000)
CLIENT = ("203.0.113.7", 40000)


@pytest.fixture
def app(api_ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setenv("CUSTODY_TRUSTED_PROXIES", "10.0.0.0/24, 2001:db8::1")
    return create_app(api_ledger)


def statuses(app: FastAPI, peer: tuple[str, int], forwarded: list[str | None]) -> list[int]:
    client = TestClient(app, raise_server_exceptions=False, client=peer)
    return [
        client.get(
            "/v1/flags", headers=WRONG | ({"X-Forwarded-For": f} if f is not None else {})
        ).status_code
        for f in forwarded
    ]


def test_a_client_rotating_x_forwarded_for_is_still_limited_by_its_own_address(
    app: FastAPI,
) -> None:
    rotating = [f"192.0.2.{n}" for n in range(LIMIT + 1)]

    answers = statuses(app, CLIENT, rotating)

    assert answers == [401] * LIMIT + [429]


def test_behind_a_trusted_proxy_each_client_is_counted_by_what_the_proxy_saw(app: FastAPI) -> None:
    """The proxy appends the address it saw; whatever the client wrote is to its left."""
    one = [f"192.0.2.{n}, 198.51.100.1" for n in range(LIMIT + 1)]

    first = statuses(app, PROXY, one)
    other = statuses(app, PROXY, ["198.51.100.2"])

    assert first == [401] * LIMIT + [429]
    assert other == [401]


def test_a_chain_of_trusted_proxies_is_skipped_to_the_first_untrusted_address(app: FastAPI) -> None:
    chain = ["198.51.100.3, 10.0.0.9, 2001:db8::1"] * (LIMIT + 1)

    assert statuses(app, PROXY, chain)[-1] == 429
    assert statuses(app, PROXY, ["198.51.100.4"]) == [401]


def test_without_the_setting_no_header_is_trusted(api_ledger: Ledger) -> None:
    app = create_app(api_ledger)  # CUSTODY_TRUSTED_PROXIES unset

    answers = statuses(app, PROXY, [f"192.0.2.{n}" for n in range(LIMIT + 1)])

    assert answers == [401] * LIMIT + [429]


def test_a_bad_trusted_proxies_setting_is_refused_by_name() -> None:
    with pytest.raises(
        InvalidInput, match="CUSTODY_TRUSTED_PROXIES '10.0.0.5, proxy.example': "
    ) as refused:
        security.trusted_proxies("10.0.0.5, proxy.example")

    assert refused.value.message.startswith("CUSTODY_TRUSTED_PROXIES '10.0.0.5, proxy.example': ")
