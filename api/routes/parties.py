"""Registry routes: parties and end-use agreements, registered by an admin and listed to every
role (a new user discovers the ids to use here)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActorDep, LedgerDep
from api.schemas import (
    AgreementIn,
    AgreementOut,
    AgreementsOut,
    KeyConfirmationIn,
    KeyHistoryOut,
    KeyIdPath,
    KeyIn,
    KeyOut,
    KeyRevocationIn,
    KeysOut,
    PagingDep,
    PartiesOut,
    PartyIdPath,
    PartyIn,
    PartyKeyOut,
    PartyOut,
    RecordedOut,
)
from ledger.application import lists
from ledger.domain import Action

router = APIRouter(prefix="/v1", tags=["registry"])


@router.post("/parties", status_code=201, response_model=RecordedOut)
def register_party(body: PartyIn, ledger: LedgerDep, actor: ActorDep) -> RecordedOut:
    recorded = ledger.register_party(
        party_id=body.id, name=body.name, kind=body.kind, parent=body.parent, actor=actor
    )
    return RecordedOut.of(recorded, key=body.id)


@router.post("/agreements", status_code=201, response_model=RecordedOut)
def conclude_agreement(body: AgreementIn, ledger: LedgerDep, actor: ActorDep) -> RecordedOut:
    recorded = ledger.conclude_agreement(
        agreement_id=body.id, **body.model_dump(exclude={"id"}), actor=actor
    )
    return RecordedOut.of(recorded, key=body.id)


@router.post("/parties/{party_id}/keys", status_code=201, response_model=KeyOut)
def register_key(party_id: PartyIdPath, body: KeyIn, ledger: LedgerDep, actor: ActorDep) -> KeyOut:
    """Register a party's Ed25519 public key with its proof of possession (and, if the party
    has an active key, that key's endorsement); submissions signed with it are then accepted."""
    key, recorded = ledger.register_key(
        party=party_id,
        public_key=body.public_key,
        proof=body.proof,
        endorsed_by=body.endorsed_by,
        endorsement=body.endorsement,
        actor=actor,
    )
    return KeyOut(
        party=party_id, key_id=key, log_index=recorded.log_index, receipt=recorded.receipt
    )


@router.get("/parties/{party_id}/keys", response_model=KeysOut)
def key_history(party_id: PartyIdPath, ledger: LedgerDep, actor: ActorDep) -> KeysOut:
    """Every key ever registered for the party: by whom, how endorsed, confirmed, revoked."""
    actor.require(Action.READ)
    keys = [
        KeyHistoryOut.model_validate(k, from_attributes=True) for k in ledger.key_history(party_id)
    ]
    return KeysOut(party=party_id, keys=keys)


@router.post(
    "/parties/{party_id}/keys/{key_id}/confirmation", status_code=201, response_model=RecordedOut
)
def confirm_key(
    party_id: PartyIdPath,
    key_id: KeyIdPath,
    body: KeyConfirmationIn,
    ledger: LedgerDep,
    actor: ActorDep,
) -> RecordedOut:
    """The party confirms an operator-registered key with a signature by it (its own token)."""
    recorded = ledger.confirm_key(
        party=party_id, key=key_id, confirmation=body.confirmation, actor=actor
    )
    return RecordedOut.of(recorded, key=party_id)


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
    return RecordedOut.of(recorded, key=party_id)


@router.get("/parties", response_model=PartiesOut)
def list_parties(ledger: LedgerDep, actor: ActorDep, paging: PagingDep) -> PartiesOut:
    """Every registered party, in the order registered, with its keys (never a private one)."""
    actor.require(Action.READ)
    page = lists.parties(ledger, **paging)
    return PartiesOut(
        next=page.next,
        parties=[
            PartyOut(
                id=p.party_id,
                name=p.name,
                kind=p.kind.value,
                parent=p.parent,
                registered_at=p.registered_at,
                keys=[
                    PartyKeyOut(key_id=k.key_id, valid_from=k.valid_from, revoked_at=k.revoked_at)
                    for k in p.keys.values()
                ],
            )
            for p in page.items
        ],
    )


@router.get("/agreements", response_model=AgreementsOut)
def list_agreements(ledger: LedgerDep, actor: ActorDep, paging: PagingDep) -> AgreementsOut:
    """Every end-use agreement, in the order concluded."""
    actor.require(Action.READ)
    page = lists.agreements(ledger, **paging)
    agreements = [AgreementOut.model_validate(a, from_attributes=True) for a in page.items]
    return AgreementsOut(agreements=agreements, next=page.next)
