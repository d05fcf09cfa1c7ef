"""Token routes: an admin grants tokens; a party sees and revokes only its own (an admin, all)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from api.deps import ActorDep, LedgerDep, PagingDep
from api.schemas import (
    RecordedOut,
    TokenCreatedOut,
    TokenIn,
    TokenOut,
    TokensOut,
)
from ledger.application import lists

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])


@router.post("", status_code=201, response_model=TokenCreatedOut)
def create_token(body: TokenIn, ledger: LedgerDep, actor: ActorDep) -> TokenCreatedOut:
    """A new bearer token, shown once in this answer; only its SHA-256 is stored."""
    token, recorded = ledger.grant_token(party=body.party, role=body.role, actor=actor)
    return TokenCreatedOut(
        token=token,
        token_id=recorded.id,
        party=body.party,
        role=body.role,
        log_index=recorded.log_index,
        receipt=recorded.receipt,
    )


@router.get("", response_model=TokensOut)
def list_tokens(ledger: LedgerDep, actor: ActorDep, paging: PagingDep) -> TokensOut:
    """In the order granted, `limit` a page (fewer if most are another party's)."""
    page = lists.tokens(ledger, actor=actor, **paging)
    return TokensOut(
        tokens=[
            TokenOut(token_id=t.token_id, party=t.party, role=t.role.value, revoked=t.revoked)
            for t in page.items
        ],
        next=page.next,
    )


@router.post("/{token_id}/revocation", status_code=201, response_model=RecordedOut)
def revoke_token(token_id: UUID, ledger: LedgerDep, actor: ActorDep) -> RecordedOut:
    recorded = ledger.revoke_token(token_id, actor=actor)
    return RecordedOut.of(recorded, key=token_id)
