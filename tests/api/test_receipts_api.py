"""Every HTTP 201 answers the log's signed receipt of the entry it recorded, and an item's history
gives each entry's receipt too (docs/api.md, docs/verification.md section 10)."""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from ledger.application.ledger import Ledger
from ledger.integrity import merkle
from ledger.integrity.endorsements import prove_key
from ledger.integrity.receipts import verify_receipt
from ledger.integrity.signing import Verifier
from tests.programme import rifle_request

RIFLE = rifle_request()
UNIT_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def check_receipt(client: TestClient, answer: dict[str, Any]) -> None:
    """The answer's receipt verifies with the served log key, for its log index and the leaf
    hash of the entry the log serves there."""
    key = Verifier.from_vkey(client.get("/v1/log/key").text.strip())
    index = answer["log_index"]
    (entry,) = client.get(f"/v1/log/entries?start={index}&end={index + 1}").json()["entries"]

    receipt = verify_receipt(answer["receipt"], key)

    assert receipt.log_index == index
    assert receipt.leaf_hash == merkle.leaf_hash(base64.b64decode(entry["entry"]))


def test_every_write_route_answers_201_with_a_receipt_of_its_entry(
    client: TestClient, api_ledger: Ledger
) -> None:
    proved = prove_key(UNIT_KEY, origin=api_ledger.origin, party="unit-9")
    writes: list[tuple[str, dict[str, Any]]] = [
        ("/v1/parties", {"id": "unit-9", "name": "Unit nine", "kind": "recipient"}),
        ("/v1/parties/unit-9/keys", proved),
        ("/v1/tokens", {"party": "unit-9", "role": "partner"}),
        (
            "/v1/agreements",
            {"id": "eua-9", "supplier": "supplier", "programme": "P9", "authorized_holders": []},
        ),
        ("/v1/items", RIFLE),
    ]
    answers = []
    for path, body in writes:
        response = client.post(path, json=body)
        assert response.status_code == 201, (path, response.text)
        answers.append(response.json())
    item = answers[-1]["item_id"]
    token_id = answers[2]["token_id"]
    key_id = answers[1]["key_id"]
    for path, body in [
        (f"/v1/items/{item}/transfers", {"to": "unit-2", "occurred_at": "2026-01-20T08:00:00Z"}),
        (f"/v1/tokens/{token_id}/revocation", {}),
        (f"/v1/parties/unit-9/keys/{key_id}/revocation", {"reason": "lost"}),
        (  # issue 17's writes: a sighting, its match, a trace and its answer
            "/v1/sightings",
            {
                "observer": "inspectorate",
                "location": "market",
                "occurred_at": "2026-01-25T08:00:00Z",
                "serial_as_read": "AK-0001",
            },
        ),
        ("/v1/traces", {"item_id": item, "addressee": "supplier", "question": "Sold to whom?"}),
        (
            "/v1/inventories",
            {
                "recipient": "unit-2",
                "occurred_at": "2026-01-26T08:00:00Z",
                "method": "physical",
                "serials": ["AK-0001"],
            },
        ),
    ]:
        response = client.post(path, json=body)
        assert response.status_code == 201, (path, response.text)
        answers.append(response.json())
    sighting, trace = answers[-3]["sighting_id"], answers[-2]["trace_id"]
    for path, body in [
        (f"/v1/sightings/{sighting}/match", {"item_id": item}),
        (f"/v1/traces/{trace}/answers", {"answer": "To the force", "documents": []}),
    ]:
        response = client.post(path, json=body)
        assert response.status_code == 201, (path, response.text)
        answers.append(response.json())

    for answer in answers:
        check_receipt(client, answer)


def test_the_history_gives_each_entrys_receipt(client: TestClient) -> None:
    issued = client.post("/v1/items", json=RIFLE).json()
    moved = client.post(
        f"/v1/items/{issued['item_id']}/transfers",
        json={"to": "unit-2", "occurred_at": "2026-01-20T08:00:00Z"},
    ).json()

    entries = client.get(f"/v1/items/{issued['item_id']}/history").json()["entries"]

    assert [e["receipt"] for e in entries] == [issued["receipt"], moved["receipt"]]
