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

from ledger.submissions import Submission, key_id

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
        self.key_id = key_id(public)
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
