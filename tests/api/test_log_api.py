"""The log part of the HTTP contract, checked the way an outside auditor would: checkpoints by hand
and with ledger.checkpoints, proofs with pymerkle 7.0.0, with RFC 9162 verifiers written here
(not ledger.merkle) and with the naive reference in tests/reference.py."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pymerkle  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient

from ledger.application.ledger import Ledger
from ledger.integrity.checkpoints import verify_checkpoint
from ledger.integrity.signing import Signer, Verifier, generate_signer_key
from tests import reference
from tests.programme import register, rifle_request

ORIGIN = "localhost/custody"
RIFLE = rifle_request()


@pytest.fixture
def api_ledger(store_ledger: Ledger) -> Ledger:
    """The shared api_ledger, with a signing key so that it can sign checkpoints."""
    store_ledger.tlog.signer = Signer.from_text(generate_signer_key(ORIGIN))
    register(store_ledger)
    return store_ledger


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def b64(items: list[str]) -> list[bytes]:
    return [base64.b64decode(item) for item in items]


def open_by_hand(note: str, vkey: str) -> tuple[str, int, bytes]:
    """Check a C2SP signed checkpoint with string operations and `cryptography` only."""
    name, key_hex, key_data = vkey.strip().split("+", 2)
    typed_key = base64.b64decode(key_data)
    assert typed_key[0] == 0x01 and len(typed_key) == 33
    key_id = sha256(name.encode() + b"\n\x01" + typed_key[1:])[:4]
    assert key_id.hex() == key_hex
    body, signatures = note.split("\n\n", 1)
    (line,) = signatures.splitlines()
    dash, signer, signature = line.split(" ")
    blob = base64.b64decode(signature)
    assert (dash, signer, blob[:4]) == ("\u2014", name, key_id)
    Ed25519PublicKey.from_public_bytes(typed_key[1:]).verify(blob[4:], (body + "\n").encode())
    origin, size, root = body.split("\n")
    return origin, int(size), base64.b64decode(root)


def root_from_inclusion(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2, steps 1 to 5."""
    assert index < size
    fn, sn, r = index, size - 1, leaf
    for p in path:
        assert sn != 0
        if fn % 2 == 1 or fn == sn:
            r = node(p, r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn // 2, sn // 2
        else:
            r = node(r, p)
        fn, sn = fn // 2, sn // 2
    assert sn == 0
    return r


def roots_from_consistency(m: int, n: int, m_root: bytes, path: list[bytes]) -> tuple[bytes, bytes]:
    """RFC 9162 section 2.1.4.2, steps 1 to 7, for 0 < m < n: the two roots the proof leads to."""
    assert 0 < m < n and path
    if m & (m - 1) == 0:
        path = [m_root, *path]
    fn, sn = m - 1, n - 1
    while fn % 2 == 1:
        fn, sn = fn // 2, sn // 2
    fr = sr = path[0]
    for c in path[1:]:
        assert sn != 0
        if fn % 2 == 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn // 2, sn // 2
        else:
            sr = node(sr, c)
        fn, sn = fn // 2, sn // 2
    assert sn == 0
    return fr, sr


def get(client: TestClient, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return response.json()


def entries(client: TestClient) -> list[dict[str, Any]]:
    return list(get(client, "/v1/log/entries?start=0&end=1000")["entries"])


def checkpoint(client: TestClient) -> tuple[str, int, bytes]:
    """The latest checkpoint note, and its size and root as checked by hand."""
    response = client.get("/v1/log/checkpoint")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    _, size, root = open_by_hand(response.text, client.get("/v1/log/key").text)
    return response.text, size, root


def write(client: TestClient, count: int) -> None:
    for n in range(count):
        response = client.post("/v1/items", json=RIFLE | {"serial": f"AK-{n:04d}"})
        assert response.status_code == 201, response.text


def test_the_checkpoint_is_a_signed_note_over_every_entry_that_verifies_with_the_log_key(
    client: TestClient,
) -> None:
    vkey = client.get("/v1/log/key").text

    response = client.get("/v1/log/checkpoint")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    checked = verify_checkpoint(response.text, Verifier.from_vkey(vkey.strip()))
    assert open_by_hand(response.text, vkey) == (ORIGIN, checked.size, checked.root_hash)
    assert checked.origin == ORIGIN and checked.size == len(entries(client))


def test_a_second_checkpoint_without_writes_is_the_identical_note(client: TestClient) -> None:
    first, _, _ = checkpoint(client)

    second, _, _ = checkpoint(client)

    assert second == first


def test_after_a_write_the_checkpoint_is_a_new_note_of_a_larger_size(client: TestClient) -> None:
    first, first_size, _ = checkpoint(client)

    write(client, 1)

    second, second_size, _ = checkpoint(client)
    added = [json.loads(base64.b64decode(e["entry"]))["type"] for e in entries(client)[first_size:]]
    assert second != first
    assert second_size == len(entries(client))
    # The write, then the map root the ledger appends before signing (ledger/integrity/maproots.py).
    assert added == ["custody:Item.Issued", "custody:LogMap.Committed"]


def test_every_inclusion_proof_at_the_checkpoint_size_leads_to_its_root(
    client: TestClient,
) -> None:
    _, size, root = checkpoint(client)
    leaves = [bytes.fromhex(e["leaf_hash"]) for e in entries(client)]

    proofs = [get(client, f"/v1/log/proof/inclusion?index={i}&size={size}") for i in range(size)]

    for index, proof in enumerate(proofs):
        assert (proof["index"], proof["size"], b64([proof["root"]])) == (index, size, [root])
        assert root_from_inclusion(leaves[index], index, size, b64(proof["hashes"])) == root


def test_every_inclusion_proof_verifies_with_pymerkle_over_the_entries(
    client: TestClient,
) -> None:
    write(client, 4)
    _, size, root = checkpoint(client)
    tree = pymerkle.InmemoryTree()
    for entry in entries(client):
        tree.append_entry(base64.b64decode(entry["entry"]))

    proofs = [get(client, f"/v1/log/proof/inclusion?index={i}&size={size}") for i in range(size)]

    assert tree.get_root(size) == root
    for index, proof in enumerate(proofs):
        leaf, hashes = tree.get_leaf(index + 1), b64(proof["hashes"])
        own = tree.prove_inclusion(index + 1, size)
        given = pymerkle.InclusionProof("sha256", True, size, index + 1, own.rule, [leaf, *hashes])
        pymerkle.verify_inclusion(leaf, root, given, index=index + 1, size=size)
        assert hashes == own.path[1:]


def test_the_consistency_proof_between_two_checkpoints_verifies(client: TestClient) -> None:
    _, old_size, old_root = checkpoint(client)
    write(client, 5)
    _, new_size, new_root = checkpoint(client)
    logged = tuple(base64.b64decode(e["entry"]) for e in entries(client))

    proof = get(client, f"/v1/log/proof/consistency?from={old_size}&to={new_size}")

    hashes = b64(proof["hashes"])
    assert (proof["from"], proof["to"]) == (old_size, new_size)
    assert b64([proof["from_root"], proof["to_root"]]) == [old_root, new_root]
    assert roots_from_consistency(old_size, new_size, old_root, hashes) == (old_root, new_root)
    assert hashes == reference.proof(old_size, logged)


def test_consistency_proofs_from_every_smaller_size_match_the_naive_reference(
    client: TestClient,
) -> None:
    write(client, 3)
    logged = tuple(base64.b64decode(e["entry"]) for e in entries(client))
    size = len(logged)

    proofs = [get(client, f"/v1/log/proof/consistency?from={m}&to={size}") for m in range(1, size)]

    for m, proof in enumerate(proofs, start=1):
        old_root = reference.mth(logged[:m])
        hashes = b64(proof["hashes"])
        assert hashes == reference.proof(m, logged)
        assert roots_from_consistency(m, size, old_root, hashes) == (
            old_root,
            reference.mth(logged),
        )


BAD = [
    "/v1/log/proof/inclusion?index={size}&size={size}",
    "/v1/log/proof/inclusion?index=0&size={beyond}",
    "/v1/log/proof/inclusion?index=0&size=0",
    "/v1/log/proof/inclusion?index=-1&size={size}",
    "/v1/log/proof/inclusion?index=0&size=-1",
    "/v1/log/proof/inclusion?index=0&size=9223372036854775808",
    "/v1/log/proof/inclusion?index=x&size={size}",
    "/v1/log/proof/inclusion?size={size}",
    "/v1/log/proof/consistency?from=0&to={size}",
    "/v1/log/proof/consistency?from={size}&to=1",
    "/v1/log/proof/consistency?from=1&to={beyond}",
    "/v1/log/proof/consistency?from=-1&to={size}",
    "/v1/log/entries?start=0&end=1001",
    "/v1/log/entries?start=5&end=4",
    "/v1/log/entries?start=-1&end=1",
    "/v1/log/entries?start=0&end=-1",
]


@pytest.mark.parametrize("url", BAD)
def test_bad_log_arguments_are_422_with_the_error_body(client: TestClient, url: str) -> None:
    size = len(entries(client))

    response = client.get(url.format(size=size, beyond=size + 1))

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"
    assert set(response.json()["error"]) == {"code", "message"}


@pytest.mark.parametrize(
    "url",
    [
        "/v1/log/checkpoint",
        "/v1/log/key",
        "/v1/log/entries?start=0&end=1",
        "/v1/log/proof/inclusion?index=0&size=1",
        "/v1/log/proof/consistency?from=1&to=1",
    ],
)
def test_the_log_routes_without_a_token_are_401(client: TestClient, url: str) -> None:
    del client.headers["Authorization"]

    response = client.get(url)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
