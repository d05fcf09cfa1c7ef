"""Signed submissions, idempotency and tokens through HTTP, on a SQLite file and on PostgreSQL.

A signed entry is checked here with plain `cryptography` and `json` only: the entry bytes from the
history and the party's public key are all a verifier needs (docs/signing.md, section 6).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi.testclient import TestClient

from api.client import CustodyClient
from api.main import create_app
from api.security import FailureLimiter
from ledger.application.ledger import Ledger
from ledger.application.writes import Signature
from ledger.domain.access import Actor
from ledger.domain.errors import InvalidInput, Unauthenticated
from ledger.domain.tokens import Role
from ledger.integrity.endorsements import prove_key
from ledger.integrity.submissions import Submission, Submitted
from ledger.store.config import Config
from tests.conftest import SIGNER, Clock, LedgerFactory
from tests.programme import ADMIN, rifle_request

ISSUED = "2026-01-10T08:00:00Z"
RIFLE = rifle_request(ISSUED)
INSPECTION = {"result": "verified", "method": "self_report", "occurred_at": "2026-02-01T09:30:00Z"}
RECEIPT = {"occurred_at": "2026-02-01T09:30:00Z", "location": "depot"}
NONCE = "nonce-0001-abcdef"


# Helpers ------------------------------------------------------------------------------------------


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes_raw()


def key_id_of(key: Ed25519PrivateKey) -> str:
    return hashlib.sha256(raw_public(key)).hexdigest()[:16]


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed_request(
    key: Ed25519PrivateKey,
    *,
    item: str | None,
    body: dict[str, Any],
    action: str = "inspect",
    party: str = "unit-1",
    nonce: str = NONCE,
    key_id: str | None = None,
    origin: str = "localhost/custody",
) -> dict[str, Any]:
    """The request body with its signature, made as docs/signing.md section 3 says."""
    claimed = key_id or key_id_of(key)
    submission = {
        "format": "custody-submission/v1",
        "origin": origin,
        "party": party,
        "key_id": claimed,
        "action": action,
        "item": item,
        "nonce": nonce,
        "body": body,
    }
    value = base64.b64encode(key.sign(canonical(submission))).decode()
    return body | {"signature": {"key_id": claimed, "nonce": nonce, "value": value}}


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return response.status_code, body["error"]["code"], body["error"]["message"]


def history(client: TestClient, item: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/items/{item}/history")
    assert response.status_code == 200, response.text
    return list(response.json()["entries"])


def entry_bytes(client: TestClient, item: str, log_index: int) -> bytes:
    (found,) = [e for e in history(client, item) if e["log_index"] == log_index]
    return base64.b64decode(found["entry"])


def verifies_with(entry: bytes, public_key: bytes) -> dict[str, Any]:
    """Check a signed entry with nothing but the party's raw public key; answer the submission."""
    signature = json.loads(entry)["signature"]
    submission = base64.b64decode(signature["submission"])
    Ed25519PublicKey.from_public_bytes(public_key).verify(
        base64.b64decode(signature["signature"]), submission
    )
    return dict(json.loads(submission))


def register_key(
    client: TestClient,
    party: str,
    key: Ed25519PrivateKey,
    endorsing_key: Ed25519PrivateKey | None = None,
) -> str:
    origin = client.get("/v1/log/checkpoint").text.split("\n", 1)[0]
    body = prove_key(key, origin=origin, party=party, endorsing_key=endorsing_key)
    response = client.post(f"/v1/parties/{party}/keys", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["key_id"] == key_id_of(key)
    return key_id_of(key)


def as_token(ledger: Ledger, token: str) -> TestClient:
    http = TestClient(create_app(ledger), raise_server_exceptions=False)
    http.headers["Authorization"] = f"Bearer {token}"
    return http


def token_for(ledger: Ledger, party: str, role: str) -> str:
    token, _ = ledger.grant_token(party=party, role=role, actor=ADMIN)
    return token


# Fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def key(client: TestClient) -> Ed25519PrivateKey:
    """unit-1's signing key, registered by the admin."""
    private = Ed25519PrivateKey.generate()
    register_key(client, "unit-1", private)
    return private


@pytest.fixture
def unit(api_ledger: Ledger) -> Iterator[TestClient]:
    """An HTTP client holding a partner token of unit-1."""
    with as_token(api_ledger, token_for(api_ledger, "unit-1", "partner")) as http:
        yield http


@pytest.fixture
def item(client: TestClient) -> str:
    response = client.post("/v1/items", json=RIFLE)
    assert response.status_code == 201, response.text
    return str(response.json()["item_id"])


@pytest.fixture
def signing_client(unit: TestClient, key: Ed25519PrivateKey) -> CustodyClient:
    token = unit.headers["Authorization"].removeprefix("Bearer ")
    return CustodyClient("http://testserver", token, party="unit-1", key=key, http=unit)


class RecordCount:
    """How much is recorded: the item's history length and the log's size."""

    def __init__(self, client: TestClient, ledger: Ledger, item: str) -> None:
        self.client, self.ledger, self.item = client, ledger, item

    def __call__(self) -> tuple[int, int]:
        return len(history(self.client, self.item)), self.ledger.log_store.log_size()


@pytest.fixture
def recorded(client: TestClient, api_ledger: Ledger, item: str) -> RecordCount:
    return RecordCount(client, api_ledger, item)


def refused_unrecorded(
    unit: TestClient, item: str, request: dict[str, Any], recorded: RecordCount
) -> str:
    """Post the signed inspection `request` as unit-1: refused with 401, nothing recorded; the
    refusal's message."""
    before = recorded()
    status, code, message = error_of(unit.post(f"/v1/items/{item}/inspections", json=request))
    assert (status, code) == (401, "unauthenticated")
    assert recorded() == before
    return message


# A signed inspection, verified from its entry alone -----------------------------------------------


def test_a_signed_inspection_is_201_and_its_entry_verifies_with_only_the_partys_public_key(
    signing_client: CustodyClient, client: TestClient, key: Ed25519PrivateKey, item: str
) -> None:
    response = signing_client.submit("inspect", item, INSPECTION, nonce=NONCE)

    assert response.status_code == 201, response.text
    entry = entry_bytes(client, item, response.json()["log_index"])
    submission = verifies_with(entry, raw_public(key))
    assert submission["body"] == INSPECTION
    assert submission["party"] == json.loads(entry)["actor"] == "unit-1"
    assert (submission["action"], submission["item"]) == ("inspect", item)
    assert submission["origin"] == json.loads(entry)["origin"]
    assert json.loads(entry)["signature"]["key_id"] == key_id_of(key)
    assert json.loads(entry)["type"] == "custody:Item.Inspected"


def test_a_request_signed_with_plain_cryptography_as_the_docs_say_is_accepted(
    unit: TestClient, client: TestClient, key: Ed25519PrivateKey, item: str
) -> None:
    response = unit.post(
        f"/v1/items/{item}/inspections", json=signed_request(key, item=item, body=INSPECTION)
    )

    assert response.status_code == 201, response.text
    entry = entry_bytes(client, item, response.json()["log_index"])
    assert verifies_with(entry, raw_public(key))["nonce"] == NONCE


def test_a_tampered_entry_no_longer_verifies_with_the_public_key(
    signing_client: CustodyClient, client: TestClient, key: Ed25519PrivateKey, item: str
) -> None:
    response = signing_client.submit("inspect", item, INSPECTION, nonce=NONCE)
    entry = json.loads(entry_bytes(client, item, response.json()["log_index"]))
    submission = json.loads(base64.b64decode(entry["signature"]["submission"]))
    submission["body"]["result"] = "serial_mismatch"
    entry["signature"]["submission"] = base64.b64encode(canonical(submission)).decode()

    with pytest.raises(InvalidSignature, match="^$"):  # cryptography's, which says nothing
        verifies_with(canonical(entry), raw_public(key))


def test_a_signed_issue_by_a_supplier_names_no_item_and_verifies_with_its_key(
    api_ledger: Ledger, client: TestClient
) -> None:
    supplier_key = Ed25519PrivateKey.generate()
    register_key(client, "supplier", supplier_key)
    body = RIFLE | {"serial": "SIGNED-1"}
    request = signed_request(supplier_key, item=None, body=body, action="issue", party="supplier")

    with as_token(api_ledger, token_for(api_ledger, "supplier", "supplier")) as supplier:
        response = supplier.post("/v1/items", json=request)

    assert response.status_code == 201, response.text
    item = response.json()["item_id"]
    entry = entry_bytes(client, item, response.json()["log_index"])
    submission = verifies_with(entry, raw_public(supplier_key))
    assert (submission["item"], submission["action"], submission["body"]) == (None, "issue", body)
    assert json.loads(entry)["actor"] == "supplier"


def test_custody_signed_roles_names_the_roles_that_must_sign_and_refuses_unknown_ones() -> None:
    assert Config.from_env({"CUSTODY_SIGNED_ROLES": " partner, inspector "}).signed_roles == {
        Role.PARTNER,
        Role.INSPECTOR,
    }
    assert Config.from_env({}).signed_roles == frozenset()
    with pytest.raises(InvalidInput, match="^CUSTODY_SIGNED_ROLES 'partner,boss' must name roles"):
        Config.from_env({"CUSTODY_SIGNED_ROLES": "partner,boss"})


# Refused signatures: 401, a clear message, nothing recorded ---------------------------------------


def test_a_body_changed_after_signing_is_refused_with_401_and_records_nothing(
    unit: TestClient, key: Ed25519PrivateKey, item: str, recorded: RecordCount
) -> None:
    request = signed_request(key, item=item, body=INSPECTION) | {"result": "damaged"}
    before = recorded()

    response = unit.post(f"/v1/items/{item}/inspections", json=request)

    assert error_of(response) == (
        401,
        "unauthenticated",
        f"the signature does not verify with key {key_id_of(key)}: the submission was changed, "
        "or signed by another key",
    )
    assert recorded() == before


def test_a_forged_signature_value_is_refused_with_401_and_records_nothing(
    unit: TestClient, key: Ed25519PrivateKey, item: str, recorded: RecordCount
) -> None:
    request = signed_request(key, item=item, body=INSPECTION)
    request["signature"]["value"] = base64.b64encode(bytes(64)).decode()

    message = refused_unrecorded(unit, item, request, recorded)

    assert message.startswith(f"the signature does not verify with key {key_id_of(key)}")


def test_a_truncated_signature_is_refused_with_401_and_records_nothing(
    unit: TestClient, key: Ed25519PrivateKey, item: str, recorded: RecordCount
) -> None:
    request = signed_request(key, item=item, body=INSPECTION)
    value = base64.b64decode(request["signature"]["value"])
    request["signature"]["value"] = base64.b64encode(value[:63]).decode()

    message = refused_unrecorded(unit, item, request, recorded)

    assert message.startswith("the signature is 63 bytes; an Ed25519 signature has 64")


def test_a_truncated_signature_that_reaches_the_ledger_is_refused_as_unauthenticated(
    api_ledger: Ledger, key: Ed25519PrivateKey, item: str, recorded: RecordCount
) -> None:
    submission = Submission(
        api_ledger.origin, "unit-1", key_id_of(key), "inspect", item, NONCE, INSPECTION
    )
    whole = submission.sign(key)
    truncated = Submitted.from_signed(replace(whole, signature=whole.signature[:63]))
    before = recorded()

    with pytest.raises(Unauthenticated, match="^the signature is 63 bytes; an Ed25519 signature"):
        api_ledger.inspect(
            item,
            result="verified",
            method="self_report",
            occurred_at=datetime.fromisoformat(INSPECTION["occurred_at"]),
            actor=Actor("unit-1", Role.PARTNER),
            via=truncated,
        )

    assert recorded() == before


def test_a_signature_value_that_is_not_base64_is_401_and_records_nothing(
    unit: TestClient, key: Ed25519PrivateKey, item: str, recorded: RecordCount
) -> None:
    request = signed_request(key, item=item, body=INSPECTION)
    request["signature"]["value"] = "!" * 88
    before = recorded()

    response = unit.post(f"/v1/items/{item}/inspections", json=request)

    assert error_of(response) == (401, "unauthenticated", "the signature is not standard base64")
    assert recorded() == before


@pytest.mark.parametrize(
    "how", ["another party's key", "an unregistered key with unit-1's key id", "an unknown key id"]
)
def test_a_signature_by_a_key_unit_1_did_not_register_is_refused_with_401(
    unit: TestClient,
    client: TestClient,
    key: Ed25519PrivateKey,
    item: str,
    recorded: RecordCount,
    how: str,
) -> None:
    other = Ed25519PrivateKey.generate()
    if how == "another party's key":
        register_key(client, "unit-2", other)
        request, expected = (
            signed_request(other, item=item, body=INSPECTION),
            f"party unit-1 has no key {key_id_of(other)}",
        )
    elif how == "an unregistered key with unit-1's key id":
        request, expected = (
            signed_request(other, item=item, body=INSPECTION, key_id=key_id_of(key)),
            f"the signature does not verify with key {key_id_of(key)}: the submission was "
            "changed, or signed by another key",
        )
    else:
        request, expected = (
            signed_request(other, item=item, body=INSPECTION),
            f"party unit-1 has no key {key_id_of(other)}",
        )
    before = recorded()

    response = unit.post(f"/v1/items/{item}/inspections", json=request)

    assert error_of(response) == (401, "unauthenticated", expected)
    assert recorded() == before


@pytest.mark.parametrize("signed_for", ["another item", "another action", "another party"])
def test_a_signature_made_for_another_request_is_refused_with_401_when_replayed_onto_this_one(
    unit: TestClient,
    client: TestClient,
    key: Ed25519PrivateKey,
    item: str,
    recorded: RecordCount,
    signed_for: str,
) -> None:
    other_item = client.post("/v1/items", json=RIFLE | {"serial": "AK-0002"}).json()["item_id"]
    claims: dict[str, Any] = {
        "another item": {"item": other_item},
        "another action": {"item": item, "action": "receive"},
        "another party": {"item": item, "party": "unit-2"},
    }[signed_for]
    request = signed_request(key, body=INSPECTION, **claims)

    message = refused_unrecorded(unit, item, request, recorded)

    assert message.startswith(f"the signature does not verify with key {key_id_of(key)}")


def test_a_signature_by_a_key_revoked_before_now_is_refused_with_401_and_records_nothing(
    unit: TestClient, client: TestClient, key: Ed25519PrivateKey, item: str, recorded: RecordCount
) -> None:
    revoked = client.post(
        f"/v1/parties/unit-1/keys/{key_id_of(key)}/revocation",
        json={"reason": "laptop stolen", "revoked_at": "2026-02-15T00:00:00Z"},
    )
    assert revoked.status_code == 201, revoked.text
    before = recorded()

    response = unit.post(
        f"/v1/items/{item}/inspections", json=signed_request(key, item=item, body=INSPECTION)
    )

    assert error_of(response) == (
        401,
        "unauthenticated",
        f"key {key_id_of(key)} of party unit-1 was revoked at 2026-02-15T00:00:00.000000Z",
    )
    assert recorded() == before


def test_a_party_may_revoke_its_own_key_but_not_another_partys(
    unit: TestClient, client: TestClient, key: Ed25519PrivateKey
) -> None:
    theirs = Ed25519PrivateKey.generate()
    register_key(client, "unit-2", theirs)

    refused = unit.post(
        f"/v1/parties/unit-2/keys/{key_id_of(theirs)}/revocation", json={"reason": "mine now"}
    )
    own = unit.post(
        f"/v1/parties/unit-1/keys/{key_id_of(key)}/revocation", json={"reason": "rotated"}
    )

    assert error_of(refused) == (403, "unauthorised", "unit-1 may not revoke keys of unit-2")
    assert own.status_code == 201, own.text


def test_an_entry_signed_before_its_key_was_revoked_stays_valid(
    signing_client: CustodyClient,
    client: TestClient,
    api_ledger: Ledger,
    key: Ed25519PrivateKey,
    item: str,
    clock: Clock,
) -> None:
    accepted = signing_client.submit("inspect", item, INSPECTION, nonce=NONCE)
    clock.advance(hours=1)
    revoked = client.post(
        f"/v1/parties/unit-1/keys/{key_id_of(key)}/revocation", json={"reason": "rotated"}
    )
    assert revoked.status_code == 201, revoked.text

    later = signing_client.submit("receive", item, RECEIPT)

    assert accepted.status_code == 201
    assert error_of(later)[:2] == (401, "unauthenticated")
    entry = entry_bytes(client, item, accepted.json()["log_index"])
    assert verifies_with(entry, raw_public(key))["body"] == INSPECTION
    assert datetime.fromisoformat(json.loads(entry)["recorded_at"]) < clock()
    assert (
        api_ledger.tlog.verify(api_ledger.tlog.verifier()).entries
        == api_ledger.log_store.log_size()
    )


# Idempotency: a nonce or an Idempotency-Key ------------------------------------------------------


def test_the_same_signed_request_sent_twice_gives_the_same_answer_and_records_once(
    signing_client: CustodyClient, item: str, recorded: RecordCount
) -> None:
    assert signing_client.origin  # asked of the checkpoint now: signing it appends a map root
    before = recorded()

    first = signing_client.submit("inspect", item, INSPECTION, nonce=NONCE)
    again = signing_client.submit("inspect", item, INSPECTION, nonce=NONCE)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    history_length, log_size = recorded()
    assert history_length == before[0] + 1
    assert log_size == before[1] + 2  # the inspection and its custody:Nonce.Used entry


def test_the_same_nonce_with_another_body_is_409_and_records_nothing(
    signing_client: CustodyClient, item: str, recorded: RecordCount
) -> None:
    signing_client.submit("inspect", item, INSPECTION, nonce=NONCE)
    before = recorded()

    response = signing_client.submit(
        "inspect", item, INSPECTION | {"result": "damaged"}, nonce=NONCE
    )

    assert error_of(response) == (
        409,
        "conflict",
        f"nonce {NONCE} was used already, for another request",
    )
    assert recorded() == before


def test_an_idempotency_key_makes_an_unsigned_write_answer_the_same_and_record_once(
    unit: TestClient, item: str, recorded: RecordCount
) -> None:
    headers = {"Idempotency-Key": "receipt-2026-02-01"}
    before = recorded()

    first = unit.post(f"/v1/items/{item}/receipts", json=RECEIPT, headers=headers)
    again = unit.post(f"/v1/items/{item}/receipts", json=RECEIPT, headers=headers)
    other = unit.post(
        f"/v1/items/{item}/receipts", json=RECEIPT | {"location": "field"}, headers=headers
    )

    assert (first.status_code, again.status_code) == (201, 201), first.text
    assert again.json() == first.json()
    assert error_of(other) == (
        409,
        "conflict",
        "nonce receipt-2026-02-01 was used already, for another request",
    )
    assert recorded() == (before[0] + 1, before[1] + 2)


def test_a_malformed_idempotency_key_is_422_and_records_nothing(
    unit: TestClient, item: str, recorded: RecordCount
) -> None:
    before = recorded()

    response = unit.post(
        f"/v1/items/{item}/receipts", json=RECEIPT, headers={"Idempotency-Key": "short"}
    )

    assert error_of(response) == (
        422,
        "invalid_input",
        "nonce must be 8 to 128 letters, digits, '.', '_', ':' or '-'",
    )
    assert recorded() == before


def test_a_forged_signature_reusing_an_accepted_nonce_is_refused_with_401(
    signing_client: CustodyClient,
    unit: TestClient,
    key: Ed25519PrivateKey,
    item: str,
    recorded: RecordCount,
) -> None:
    signing_client.submit("inspect", item, INSPECTION, nonce=NONCE)
    forged = signed_request(key, item=item, body=INSPECTION)
    forged["signature"]["value"] = base64.b64encode(bytes(64)).decode()
    before = recorded()

    response = unit.post(f"/v1/items/{item}/inspections", json=forged)

    assert recorded() == before
    assert error_of(response)[:2] == (401, "unauthenticated")


# Mandatory signatures -----------------------------------------------------------------------------


@pytest.fixture
def strict(make_ledger: LedgerFactory, db_url: str, api_ledger: Ledger) -> Ledger:
    """A second ledger on the same store that requires partners to sign."""
    return make_ledger(db_url, signed_roles=[Role.PARTNER])


def test_a_ledger_requiring_partner_signatures_refuses_an_unsigned_partner_write_with_403(
    strict: Ledger, key: Ed25519PrivateKey, client: TestClient, item: str, recorded: RecordCount
) -> None:
    partner = as_token(strict, token_for(strict, "unit-1", "partner"))
    admin = as_token(strict, client.headers["Authorization"].removeprefix("Bearer "))
    before = recorded()

    unsigned = partner.post(f"/v1/items/{item}/inspections", json=INSPECTION)
    keyed = partner.post(
        f"/v1/items/{item}/inspections", json=INSPECTION, headers={"Idempotency-Key": NONCE}
    )

    assert error_of(unsigned) == (403, "unauthorised", "role partner must sign its submissions")
    assert error_of(keyed) == (403, "unauthorised", "role partner must sign its submissions")
    assert recorded() == before
    signed = partner.post(
        f"/v1/items/{item}/inspections", json=signed_request(key, item=item, body=INSPECTION)
    )
    assert signed.status_code == 201, signed.text
    assert admin.post(f"/v1/items/{item}/receipts", json=RECEIPT).status_code == 201


@pytest.mark.parametrize("write", ["register a key", "revoke its key", "revoke its token"])
def test_a_ledger_requiring_partner_signatures_still_lets_a_partner_manage_its_own_keys_and_tokens(
    strict: Ledger, key: Ed25519PrivateKey, write: str
) -> None:
    token, granted = strict.grant_token(party="unit-1", role="partner", actor=ADMIN)
    partner = as_token(strict, token)
    new_key = prove_key(
        Ed25519PrivateKey.generate(), origin=strict.origin, party="unit-1", endorsing_key=key
    )

    response = {
        "register a key": lambda: partner.post("/v1/parties/unit-1/keys", json=new_key),
        "revoke its key": lambda: partner.post(
            f"/v1/parties/unit-1/keys/{key_id_of(key)}/revocation", json={"reason": "stolen"}
        ),
        "revoke its token": lambda: partner.post(f"/v1/tokens/{granted.id}/revocation"),
    }[write]()

    assert response.status_code == 201, response.text


# Tokens ------------------------------------------------------------------------------------------


def test_a_party_lists_only_its_own_tokens_and_an_admin_lists_all(
    api_ledger: Ledger, client: TestClient, unit: TestClient
) -> None:
    token_for(api_ledger, "unit-2", "partner")
    token_for(api_ledger, "inspectorate", "inspector")

    own = unit.get("/v1/tokens")
    everyone = client.get("/v1/tokens")

    assert own.status_code == 200, own.text
    assert {t["party"] for t in own.json()["tokens"]} == {"unit-1"}
    assert {t["party"] for t in everyone.json()["tokens"]} == {
        "operator",
        "unit-1",
        "unit-2",
        "inspectorate",
    }
    assert all(set(t) == {"token_id", "party", "role", "revoked"} for t in own.json()["tokens"])


def test_a_non_admin_may_not_create_tokens(unit: TestClient, api_ledger: Ledger) -> None:
    size = api_ledger.log_store.log_size()

    response = unit.post("/v1/tokens", json={"party": "unit-1", "role": "partner"})

    assert error_of(response) == (403, "unauthorised", "role partner may not grant token")
    assert api_ledger.log_store.log_size() == size


def test_a_party_may_not_revoke_another_partys_token(unit: TestClient, api_ledger: Ledger) -> None:
    _, granted = api_ledger.grant_token(party="unit-2", role="partner", actor=ADMIN)
    size = api_ledger.log_store.log_size()

    response = unit.post(f"/v1/tokens/{granted.id}/revocation")

    assert error_of(response) == (403, "unauthorised", "unit-1 may not revoke tokens of unit-2")
    assert api_ledger.log_store.log_size() == size


def test_a_revoked_token_gets_401_and_a_granted_one_works_until_then(
    client: TestClient, api_ledger: Ledger
) -> None:
    created = client.post("/v1/tokens", json={"party": "unit-2", "role": "partner"})
    assert created.status_code == 201, created.text
    holder = as_token(api_ledger, created.json()["token"])
    assert holder.get("/v1/tokens").status_code == 200

    revoked = client.post(f"/v1/tokens/{created.json()['token_id']}/revocation")
    response = holder.get("/v1/tokens")

    assert revoked.status_code == 201, revoked.text
    assert error_of(response) == (401, "unauthenticated", "token revoked")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_role_that_does_not_fit_the_partys_kind_is_422_and_records_nothing(
    client: TestClient, api_ledger: Ledger
) -> None:
    size = api_ledger.log_store.log_size()

    response = client.post("/v1/tokens", json={"party": "unit-1", "role": "inspector"})

    assert error_of(response) == (
        422,
        "invalid_input",
        "a party of kind recipient may hold the roles: partner",
    )
    assert api_ledger.log_store.log_size() == size


WRITES = [
    ("/v1/parties", {"id": "unit-9", "name": "U", "kind": "recipient"}),
    ("/v1/agreements", {"id": "eua-9", "supplier": "supplier", "programme": "P",
                        "authorized_holders": ["force"]}),
    ("/v1/parties/unit-1/keys", {"public_key": base64.b64encode(bytes(32)).decode()}),
    ("/v1/tokens", {"party": "unit-1", "role": "partner"}),
    ("/v1/items", RIFLE | {"serial": "AK-0009"}),
    ("/v1/items/{item}/transfers", {"to": "unit-2", "occurred_at": ISSUED}),
    ("/v1/items/{item}/receipts", RECEIPT),
    ("/v1/items/{item}/inspections", INSPECTION),
    ("/v1/items/{item}/losses", {"circumstances": "lost", "occurred_at": ISSUED}),
    ("/v1/items/{item}/recoveries", {"by": "unit-1", "occurred_at": ISSUED}),
    ("/v1/items/{item}/sightings", {"observer": "investigator", "location": "x",
                                    "occurred_at": ISSUED}),
    ("/v1/items/{item}/disposals", {"method": "destroyed", "occurred_at": ISSUED}),
    ("/v1/items/{item}/corrections", {"entry": 0, "reason": "typo"}),
]  # fmt: skip


def test_no_route_writes_without_a_valid_token(api_ledger: Ledger, item: str) -> None:
    revoked_token, granted = api_ledger.grant_token(party="operator", role="admin", actor=ADMIN)
    api_ledger.revoke_token(granted.id, actor=ADMIN)
    app = create_app(api_ledger)
    app.state.failure_limiter = FailureLimiter(limit=10**6)  # 26 failures on purpose, not 429s
    anonymous = TestClient(app, raise_server_exceptions=False)
    refusals = {
        None: "send Authorization: Bearer <token>",
        "Basic b3A6cHc=": "send Authorization: Bearer <token>",
        "Bearer cst_not-a-token": "unknown token",
        f"Bearer {revoked_token}": "token revoked",
    }
    size = api_ledger.log_store.log_size()

    answers = {
        (path, authorization): anonymous.post(
            path.format(item=item),
            json=body,
            headers={"Authorization": authorization} if authorization else {},
        )
        for path, body in WRITES
        for authorization in refusals
    }

    for (path, authorization), response in answers.items():
        expected = (401, "unauthenticated", refusals[authorization])
        assert error_of(response) == expected, (path, authorization)
    assert api_ledger.log_store.log_size() == size


def test_every_write_through_the_api_records_the_party_of_its_token_as_actor(
    unit: TestClient, client: TestClient, item: str
) -> None:
    receipt = unit.post(f"/v1/items/{item}/receipts", json=RECEIPT)
    transfer = unit.post(
        f"/v1/items/{item}/transfers", json={"to": "unit-2", "occurred_at": "2026-02-02T00:00:00Z"}
    )

    entries = {
        e["log_index"]: json.loads(base64.b64decode(e["entry"])) for e in history(client, item)
    }
    assert entries[receipt.json()["log_index"]]["actor"] == "unit-1"
    assert entries[transfer.json()["log_index"]]["actor"] == "unit-1"
    assert entries[min(entries)]["actor"] == "operator"  # the issue, by the admin


# Two copies of one signed request, at the same moment --------------------------------------------


def racing_ledger(clock: Clock, db_url: str, racers: int) -> Ledger:
    """A ledger whose writes wait at the signature check until all racers have passed the nonce
    lookup."""
    racing = Ledger(clock=clock, db=db_url, signer=SIGNER)
    barrier, check = threading.Barrier(racers), racing._writes.signature

    def waiting(*args: Any, **kwargs: Any) -> Signature:
        barrier.wait(timeout=20)
        return check(*args, **kwargs)

    racing._writes.signature = waiting  # type: ignore[method-assign]
    return racing


def test_the_same_signed_request_sent_twice_at_once_records_one_entry_and_answers_alike(
    db_url: str, clock: Clock, api_ledger: Ledger, key: Ed25519PrivateKey, item: str,
    recorded: RecordCount,
) -> None:  # fmt: skip
    racing = racing_ledger(clock, db_url, racers=2)
    token = token_for(api_ledger, "unit-1", "partner")
    request = signed_request(key, item=item, body=INSPECTION)
    before = recorded()

    def send(_: int) -> httpx.Response:
        with as_token(racing, token) as http:
            return http.post(f"/v1/items/{item}/inspections", json=request)

    try:
        with ThreadPoolExecutor(2) as pool:
            first, second = pool.map(send, range(2))
    finally:
        racing.close()

    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    assert first.json() == second.json()
    assert recorded() == (before[0] + 1, before[1] + 2)
    assert UUID(first.json()["item_id"]) == UUID(item)
