"""The key routes (docs/api.md): registration with its proof and endorsement, the history, the
party's confirmation, through the client a partner uses (api/client.py)."""

from __future__ import annotations

from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from api.client import CustodyClient
from ledger.application.ledger import Ledger
from ledger.integrity.endorsements import prove_key
from ledger.integrity.submissions import key_id
from tests.programme import ADMIN


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"]


def partner(ledger: Ledger, client: TestClient, key: Ed25519PrivateKey) -> CustodyClient:
    token, _ = ledger.grant_token(party="unit-1", role="partner", actor=ADMIN)
    return CustodyClient("", token, party="unit-1", key=key, origin=ledger.origin, http=client)


def kid(key: Ed25519PrivateKey) -> str:
    return key_id(key.public_key().public_bytes_raw())


def test_a_partner_rotates_and_confirms_its_keys_and_the_history_shows_how_each_was_endorsed(
    api_ledger: Ledger, client: TestClient
) -> None:
    first, second = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    registered = client.post(
        "/v1/parties/unit-1/keys",
        json=prove_key(first, origin=api_ledger.origin, party="unit-1"),
    )
    unit_1 = partner(api_ledger, client, first)

    confirmed = unit_1.confirm_key()
    rotated = unit_1.register_key(second)
    history = client.get("/v1/parties/unit-1/keys")

    assert (registered.status_code, confirmed.status_code, rotated.status_code) == (201, 201, 201)
    keys: list[dict[str, Any]] = history.json()["keys"]
    assert [(k["key_id"], k["registered_by"], k["how"]) for k in keys] == [
        (kid(first), "operator", "operator-registered, confirmed by the party"),
        (kid(second), "unit-1", f"endorsed by key {kid(first)}"),
    ]


def test_an_unendorsed_second_key_is_403_and_a_missing_proof_is_422(
    api_ledger: Ledger, client: TestClient
) -> None:
    first, planted = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    client.post(
        "/v1/parties/unit-1/keys", json=prove_key(first, origin=api_ledger.origin, party="unit-1")
    )
    body = prove_key(planted, origin=api_ledger.origin, party="unit-1")

    unendorsed = client.post("/v1/parties/unit-1/keys", json=body)
    no_proof = client.post("/v1/parties/unit-1/keys", json={"public_key": body["public_key"]})

    assert error_of(unendorsed)[:2] == (403, "unauthorised")
    assert error_of(no_proof) == (422, "invalid_input", "proof: Field required")


def test_a_key_over_the_bound_is_429_with_the_reason(
    api_ledger: Ledger, client: TestClient
) -> None:
    keys = [Ed25519PrivateKey.generate() for _ in range(21)]
    client.post(
        "/v1/parties/unit-1/keys",
        json=prove_key(keys[0], origin=api_ledger.origin, party="unit-1"),
    )
    unit_1 = partner(api_ledger, client, keys[0])
    for key in keys[1:20]:
        assert unit_1.register_key(key).status_code == 201

    refused = unit_1.register_key(keys[20])

    assert error_of(refused) == (
        429,
        "limit_exceeded",
        "party unit-1 has 20 active keys, the most allowed (20); revoke one first",
    )
