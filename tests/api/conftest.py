from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.application.ledger import Ledger
from tests.programme import ADMIN, register


@pytest.fixture
def api_ledger(store_ledger: Ledger) -> Ledger:
    register(store_ledger)
    return store_ledger


@pytest.fixture
def admin_token(api_ledger: Ledger) -> str:
    token, _ = api_ledger.grant_token(party="operator", role="admin", actor=ADMIN)
    return token


@pytest.fixture
def client(api_ledger: Ledger, admin_token: str) -> Iterator[TestClient]:
    with TestClient(create_app(api_ledger), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {admin_token}"
        yield test_client
