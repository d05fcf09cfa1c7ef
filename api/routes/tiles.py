"""The log as a c2sp.org/tlog-tiles log under /tlog/ (docs/verification.md, section 13): the
latest stored checkpoint, hash tiles and entry bundles, for any transparency-log client, monitor or
witness.

The checkpoint and hash tiles carry no custody detail and are public unless `CUSTODY_PUBLIC_TILES`
is off; entry bundles carry entries, so they need a token and follow the read scope
(ledger/application/scope.py): a bundle holding any entry the caller may not read is refused whole.
Full tiles never change and say so to caches; partial tiles and the checkpoint are not cached.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

from api.deps import LedgerDep, ReadScopeDep, current_actor
from api.schemas import NOTE, RouteOptions
from ledger.domain import Action, Unauthorised
from ledger.store import (
    Tile,
    entry_bundle,
    latest_checkpoint,
    parse_tile_path,
    read_entry_rows,
    read_hash_tile,
)

router = APIRouter(prefix="/tlog", tags=["tlog-tiles"])
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
TILE: RouteOptions = {
    "response_class": Response,
    "responses": {200: {"content": {"application/octet-stream": {}}}},
}


TilePart = Annotated[str, Path(max_length=64, description="N as x001/x234/067, then .p/W")]
TileLevel = Annotated[str, Path(max_length=2, description="the tile level L")]
"""Bounds on the path's parts (tests/api/test_limits.py): no tile path is longer."""


def public_or_token(request: Request, ledger: LedgerDep) -> None:
    """No token needed while tiles are public (the default); a reading token otherwise. The header
    is read here, not through the bearer scheme, so the OpenAPI document does not say these
    routes need one."""
    if not request.app.state.public_tiles:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        credentials = HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())
        current_actor(request, ledger, credentials if token.strip() else None).require(Action.READ)


PublicDep = Depends(public_or_token)


def _tile_response(tile: Tile, body: bytes) -> Response:
    cache = IMMUTABLE if tile.full else NO_CACHE
    return Response(body, media_type="application/octet-stream", headers={"Cache-Control": cache})


@router.get("/checkpoint", dependencies=[PublicDep], **NOTE)
def checkpoint(ledger: LedgerDep) -> PlainTextResponse:
    """The latest signed checkpoint as stored (a C2SP signed note, with any cosignatures); 404
    before the first one is signed."""
    note = latest_checkpoint(ledger.log_store)
    return PlainTextResponse(note, headers={"Cache-Control": NO_CACHE})


@router.get("/tile/entries/{bundle:path}", **TILE)
def entries(ledger: LedgerDep, scope: ReadScopeDep, bundle: TilePart) -> Response:
    """Entry bundle N (entries 256N to 256N + W): each entry as a big-endian uint16 length and its
    bytes. 403 if it holds an entry the caller may not read."""
    tile = parse_tile_path(f"tile/entries/{bundle}")
    rows = read_entry_rows(ledger.log_store, tile)
    hidden = [r.log_index for r in rows if not scope.may_read_entry(r)]
    if hidden:
        raise Unauthorised(
            f"{tile.path()} holds {len(hidden)} entries this token may not read "
            f"(the first is {hidden[0]}); read them one by one at /v1/log/entries"
        )
    return _tile_response(tile, entry_bundle([r.entry for r in rows]))


@router.get("/tile/{level}/{number:path}", dependencies=[PublicDep], **TILE)
def hash_tile(ledger: LedgerDep, level: TileLevel, number: TilePart) -> Response:
    """Hash tile `<L>/<N>[.p/<W>]`: the W hashes of level 8L from index 256N, 32 bytes each."""
    tile = parse_tile_path(f"tile/{level}/{number}")
    return _tile_response(tile, read_hash_tile(ledger.log_store, tile))
