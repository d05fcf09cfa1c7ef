"""How a request becomes a `Submitted`: its signature (checked by the Ledger) or its
`Idempotency-Key`. The signed body is the JSON body exactly as sent, less its `signature` member,
so the server reconstructs the same bytes the client signed (docs/signing.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Header, Request

from api.deps import ActorDep, LedgerDep
from api.limits import check_depth
from ledger.application import Ledger
from ledger.domain import Action, Actor, InvalidInput
from ledger.integrity import Submission, Submitted, signed_from_request


@dataclass(frozen=True)
class Arrival:
    """The raw JSON body and the idempotency key of a write request."""

    raw: Any
    idempotency_key: str | None

    def submitted(
        self, *, origin: str, actor: Actor, action: str, item: UUID | None
    ) -> Submitted | None:
        body = (
            {k: v for k, v in self.raw.items() if k != "signature"}
            if isinstance(self.raw, dict)
            else {}
        )
        signature = self.raw.get("signature") if isinstance(self.raw, dict) else None
        item_text = str(item) if item is not None else None
        if isinstance(signature, dict):
            submission = Submission(
                origin,
                actor.party,
                str(signature.get("key_id")),
                action,
                item_text,
                str(signature.get("nonce")),
                body,
            )
            return Submitted.from_signed(
                signed_from_request(submission, str(signature.get("value")))
            )
        if self.idempotency_key is not None:
            submission = Submission(
                origin, actor.party, "", action, item_text, self.idempotency_key, body
            )
            return Submitted.unsigned(submission)
        return None


async def _arrival(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=128,
            description="8 to 128 letters, digits, '.', '_', ':' or '-' (else 422, checked by "
            "the ledger); the same key and body again record nothing new and answer as the "
            "first time",
        ),
    ] = None,
) -> Arrival:
    raw = await request.body()
    try:
        parsed = json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        raise InvalidInput("the body is not valid JSON, or is nested too deeply") from None
    return Arrival(check_depth(parsed), idempotency_key)


ArrivalDep = Annotated[Arrival, Depends(_arrival)]


@dataclass(frozen=True)
class Write:
    """A write request as a route hands it to the Ledger: the ledger, the caller, and what the
    request carries (`via`: its signature or idempotency key)."""

    ledger: Ledger
    actor: Actor
    arrival: Arrival

    def via(self, action: Action, item: UUID | None = None) -> Submitted | None:
        return self.arrival.submitted(
            origin=self.ledger.origin, actor=self.actor, action=action.value, item=item
        )


def _write(ledger: LedgerDep, actor: ActorDep, arrival: ArrivalDep) -> Write:
    return Write(ledger, actor, arrival)


WriteDep = Annotated[Write, Depends(_write)]
