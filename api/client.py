"""A small client that signs submissions with a party key and sends them (docs/signing.md).

client = CustodyClient("http://127.0.0.1:8000", token, party="unit-1", key=private_key)
client.submit("inspect", item_id, {"result": "verified", "method": "self_report",
                                   "occurred_at": "2026-03-01T09:30:00Z"})
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.domain import CustodyError, InvalidInput
from ledger.integrity import (
    Submission,
    Verifier,
    confirm_key,
    decode_base64,
    party_key_id,
    prove_key,
)

PATHS = {
    "issue": "/v1/items",
    "transfer": "/v1/items/{item}/transfers",
    "receive": "/v1/items/{item}/receipts",
    "inspect": "/v1/items/{item}/inspections",
    "report_lost": "/v1/items/{item}/losses",
    "recover": "/v1/items/{item}/recoveries",
    "sight": "/v1/items/{item}/sightings",
    "dispose": "/v1/items/{item}/disposals",
    "correct": "/v1/items/{item}/corrections",
}


class CustodyClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        party: str,
        key: Ed25519PrivateKey,
        origin: str | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.http = http or httpx.Client(base_url=base_url, timeout=30)
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.party, self.key = party, key
        public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = party_key_id(public)
        self._origin = origin

    @property
    def origin(self) -> str:
        """The log's origin, the first line of its checkpoint, asked for once."""
        if self._origin is None:
            response = self.http.get("/v1/log/checkpoint")
            response.raise_for_status()
            self._origin = response.text.split("\n", 1)[0]
        return self._origin

    def item_by_serial(self, serial: str, *, manufacturer: str, model: str) -> list[str]:
        """The ids of the items with this marking (`GET /v1/items?serial=`, in the normal form)."""
        response = self.http.get(
            "/v1/items", params={"serial": serial, "manufacturer": manufacturer, "model": model}
        )
        response.raise_for_status()
        return [str(c["item_id"]) for c in response.json()["items"]]

    def submit(
        self, action: str, item: str | None, body: dict[str, Any], *, nonce: str | None = None
    ) -> httpx.Response:
        """Sign `body` for `action` on `item` and POST it; sending it again with the same nonce
        records nothing new and answers as the first time."""
        if action not in PATHS:
            raise ValueError(f"action must be one of: {', '.join(PATHS)}")
        nonce = nonce or secrets.token_urlsafe(18)
        submission = Submission(self.origin, self.party, self.key_id, action, item, nonce, body)
        signed = submission.sign(self.key).as_entry_value()
        signature = {"key_id": self.key_id, "nonce": nonce, "value": signed["signature"]}
        return self.http.post(PATHS[action].format(item=item), json=body | {"signature": signature})

    def register_key(self, new_key: Ed25519PrivateKey, *, endorse: bool = True) -> httpx.Response:
        """Register `new_key` for the party with its proof of possession, endorsed by this
        client's key (a rotation) unless `endorse` is False (the party's first key)."""
        body = prove_key(
            new_key,
            origin=self.origin,
            party=self.party,
            endorsing_key=self.key if endorse else None,
        )
        return self.http.post(f"/v1/parties/{self.party}/keys", json=body)

    def confirm_key(self) -> httpx.Response:
        """Confirm this client's key as the party's own (after an operator registered it)."""
        body = confirm_key(self.key, origin=self.origin, party=self.party)
        return self.http.post(
            f"/v1/parties/{self.party}/keys/{self.key_id}/confirmation", json=body
        )


class LogClient:
    """Reads of a log over HTTP for the clients that check it (`custody checkpoint pull`,
    `receipts check`, `submit`): any valid token may read the log. Every failure to get an
    answer is a CustodyError with one line to say why."""

    def __init__(self, base_url: str, token: str, *, http: httpx.Client | None = None) -> None:
        self.http = http or httpx.Client(base_url=base_url, timeout=30)
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def checkpoint(self) -> str:
        return self._get("/v1/log/checkpoint").text

    def key(self) -> Verifier:
        return Verifier.from_vkey(self._get("/v1/log/key").text.strip())

    def consistency(self, first: int, second: int) -> list[bytes]:
        answer = self._get("/v1/log/proof/consistency", {"from": first, "to": second}).json()
        return _hashes(answer.get("hashes"))

    def inclusion(self, index: int, size: int) -> list[bytes]:
        answer = self._get("/v1/log/proof/inclusion", {"index": index, "size": size}).json()
        return _hashes(answer.get("hashes"))

    def entry(self, index: int) -> bytes | None:
        """The entry bytes at `index`, or None if the log has none there."""
        answer = self._get("/v1/log/entries", {"start": index, "end": index + 1}).json()
        entries = answer.get("entries") or []
        if not entries or entries[0].get("log_index") != index:
            return None
        return decode_base64(str(entries[0].get("entry")), what="entry")

    def _get(self, path: str, params: dict[str, int] | None = None) -> httpx.Response:
        try:
            response = self.http.get(path, params=params)
        except httpx.HTTPError as error:
            raise CustodyError(f"cannot reach {self.http.base_url}: {error}") from None
        if response.is_error:
            raise CustodyError(
                f"{self.http.base_url}{path} answered {response.status_code}: {response.text[:300]}"
            )
        return response


def _hashes(values: object) -> list[bytes]:
    if not isinstance(values, list):
        raise InvalidInput("the proof has no list of hashes")
    return [decode_base64(str(v), what="proof hash") for v in values]
