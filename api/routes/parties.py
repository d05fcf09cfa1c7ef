"""Registry routes: parties and end-use agreements."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActorDep, LedgerDep
from api.schemas import AgreementIn, PartyIn, RecordedOut
from ledger.application import Recorded

router = APIRouter(prefix="/v1", tags=["registry"])


def _recorded(key: str, recorded: Recorded) -> RecordedOut:
    return RecordedOut(id=key, version=recorded.version, log_index=recorded.log_index)


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
