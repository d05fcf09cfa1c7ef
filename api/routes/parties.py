"""Registry routes: parties and end-use agreements."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActorDep, LedgerDep
from api.schemas import (
    AgreementIn,
    KeyIdPath,
    KeyIn,
    KeyOut,
    KeyRevocationIn,
    PartyIdPath,
    PartyIn,
    RecordedOut,
)
from ledger.application import Recorded

router = APIRouter(prefix="/v1", tags=["registry"])


def _recorded(key: str, recorded: Recorded) -> RecordedOut:
    return RecordedOut(
        id=key, version=recorded.version, log_index=recorded.log_index, receipt=recorded.receipt
    )


@router.post("/parties", status_code=201, response_model=RecordedOut)
def register_party(body: PartyIn, ledger: LedgerDep, actor: ActorDep) -> RecordedOut:
    recorded = ledger.register_party(
        party_id=body.id, name=body.name, kind=body.kind, parent=body.parent, actor=actor
    )
    return _recorded(body.id, recorded)


@router.post("/agreements", status_code=201, response_model=RecordedOut)
def conclude_agreement(body: AgreementIn, ledger: LedgerDep, actor: ActorDep) -> RecordedOut:
    recorded = ledger.conclude_agreement(
        agreement_id=body.id,
        supplier=body.supplier,
        programme=body.programme,
        authorized_holders=body.authorized_holders,
        retransfer_requires_consent=body.retransfer_requires_consent,
        areas=body.areas,
        actor=actor,
    )
    return _recorded(body.id, recorded)


@router.post("/parties/{party_id}/keys", status_code=201, response_model=KeyOut)
def register_key(party_id: PartyIdPath, body: KeyIn, ledger: LedgerDep, actor: ActorDep) -> KeyOut:
    """Register a party's Ed25519 public key; submissions signed with it are then accepted."""
    key, recorded = ledger.register_key(party=party_id, public_key=body.public_key, actor=actor)
    return KeyOut(
        party=party_id, key_id=key, log_index=recorded.log_index, receipt=recorded.receipt
    )


@router.post(
    "/parties/{party_id}/keys/{key_id}/revocation", status_code=201, response_model=RecordedOut
)
def revoke_key(
    party_id: PartyIdPath,
    key_id: KeyIdPath,
    body: KeyRevocationIn,
    ledger: LedgerDep,
    actor: ActorDep,
) -> RecordedOut:
    """Revoke a key from `revoked_at` on: signatures recorded after that time are refused."""
    recorded = ledger.revoke_key(
        party=party_id, key=key_id, reason=body.reason, revoked_at=body.revoked_at, actor=actor
    )
    return _recorded(party_id, recorded)
