"""Log routes: the signed checkpoint, the verifier key, entries, and RFC 9162 proofs. Read-only and
open to any valid token; a mirror or auditor needs nothing else to check the log. A
partner reads the bytes of its own items' entries only (ledger/application/scope.py); every leaf
hash and
proof is open."""

from __future__ import annotations

import base64
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse

from api.deps import ActorDep, LedgerDep, Paging, ReadScopeDep, paging_query
from api.schemas import (
    MAX_INDEX,
    NOTE,
    ConsistencyProofOut,
    HeadProofOut,
    InclusionProofOut,
    LogEntriesOut,
    LogEntryOut,
)
from ledger.application import lists
from ledger.domain import MAX_LIMIT, Action

router = APIRouter(prefix="/v1/log", tags=["log"])
AllPagingDep = Annotated[Paging, Depends(paging_query(MAX_LIMIT))]
"""Paging whose `limit` is by default the most: a range (at most 1000 entries) comes whole."""
Index = Annotated[int, Query(ge=0, le=MAX_INDEX)]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@router.get("/checkpoint", **NOTE)
def checkpoint(ledger: LedgerDep, actor: ActorDep) -> PlainTextResponse:
    """The latest checkpoint as a C2SP signed note (signed now if the log has grown)."""
    actor.require(Action.READ)
    return PlainTextResponse(ledger.tlog.checkpoint())


@router.get("/key", **NOTE)
def key(ledger: LedgerDep, actor: ActorDep) -> PlainTextResponse:
    """The log's verifier key in C2SP vkey form."""
    actor.require(Action.READ)
    return PlainTextResponse(ledger.tlog.verifier().vkey + "\n")


@router.get("/entries", response_model=LogEntriesOut)
def entries(
    ledger: LedgerDep,
    scope: ReadScopeDep,
    start: Index,
    end: Index,
    paging: AllPagingDep,
) -> LogEntriesOut:
    """Entries with start <= log_index < end (at most 1000 apart), `limit` a page (by default
    all of them), with their exact bytes; `entry` is null for an entry the caller may not read
    (ledger/application/scope.py: a partner reads its own items' entries), whose leaf hash still
    counts in every proof."""
    page = lists.log_entries(ledger, start=start, end=end, **paging)
    return LogEntriesOut(
        entries=[
            LogEntryOut(
                log_index=r.log_index,
                leaf_hash=r.leaf_hash.hex(),
                entry=_b64(r.entry) if scope.may_read_entry(r) else None,
            )
            for r in page.items
        ],
        next=page.next,
    )


@router.get("/proof/inclusion", response_model=InclusionProofOut)
def inclusion(ledger: LedgerDep, actor: ActorDep, index: Index, size: Index) -> InclusionProofOut:
    """RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves."""
    actor.require(Action.READ)
    hashes = ledger.tlog.inclusion_proof(index, size)
    return InclusionProofOut(
        index=index, size=size, root=_b64(ledger.tlog.root(size)), hashes=[_b64(h) for h in hashes]
    )


@router.get("/proof/consistency", response_model=ConsistencyProofOut)
def consistency(
    ledger: LedgerDep,
    actor: ActorDep,
    first: Annotated[int, Query(alias="from", ge=1, le=MAX_INDEX)],
    second: Annotated[int, Query(alias="to", ge=1, le=MAX_INDEX)],
) -> ConsistencyProofOut:
    """RFC 9162 consistency proof between trees of `from` and `to` leaves."""
    actor.require(Action.READ)
    hashes = ledger.tlog.consistency_proof(first, second)
    return ConsistencyProofOut(
        from_size=first,
        to_size=second,
        from_root=_b64(ledger.tlog.root(first)),
        to_root=_b64(ledger.tlog.root(second)),
        hashes=[_b64(h) for h in hashes],
    )


@router.get("/heads/{aggregate_id}", response_model=HeadProofOut)
def head(
    ledger: LedgerDep,
    actor: ActorDep,
    aggregate_id: UUID,
    size: Annotated[int, Query(ge=1, le=MAX_INDEX)],
) -> HeadProofOut:
    """The aggregate's head (latest version, log index, leaf hash) as of the newest map-root entry
    within tree size `size` (a signed checkpoint's size), with that entry's inclusion proof and
    the map proof; a proof of absence for an aggregate with no entry by then
    (docs/verification.md, section 9)."""
    actor.require(Action.READ)
    return HeadProofOut.model_validate(ledger.tlog.head_proof(aggregate_id, size))
