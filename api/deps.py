"""Typed dependencies: the Ledger and the authenticated Actor (a wrong token counts against the
client's failure limit, api/security.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.schemas import AtQuery, KnownAtQuery
from api.security import counting_failures
from ledger.application import Ledger, ReadScope
from ledger.domain import Action, Actor, Unauthenticated
from ledger.readmodels import Fleet

_bearer = HTTPBearer(
    auto_error=False, description="a token from `custody init` or `custody token create`"
)


# The dependencies that only look at the app or the actor are `async`: FastAPI runs a plain `def`
# one in its thread pool, a hop that cost more than their work (docs/performance.md, "Read models").
# Whatever reads the store stays a plain `def` (the token check, the routes).


async def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def current_actor(
    request: Request,
    ledger: Annotated[Ledger, Depends(get_ledger)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("send Authorization: Bearer <token>")
    with counting_failures(request):
        return ledger.authenticate(credentials.credentials)


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
ActorDep = Annotated[Actor, Depends(current_actor)]


async def read_scope(ledger: LedgerDep, actor: ActorDep) -> ReadScope:
    """What the caller may read (ledger/application/scope.py): every read route asks it."""
    actor.require(Action.READ)
    return ReadScope(ledger, actor)


ReadScopeDep = Annotated[ReadScope, Depends(read_scope)]


def fleet_of(request: Request, ledger: Ledger) -> Fleet:
    """The app's read models over its Ledger, opened on first use (creating their tables if
    missing) and kept on the app. Reads answer from them as they are (api/follower.py keeps them
    up to date)."""
    fleet: Fleet | None = getattr(request.app.state, "custody_fleet", None)
    if fleet is None or fleet.store is not ledger.log_store:
        fleet = request.app.state.custody_fleet = Fleet.of(ledger)
    return fleet


async def get_fleet(request: Request, ledger: LedgerDep) -> Fleet:
    """`fleet_of`: the app's read models, opened in the thread pool the first time."""
    fleet: Fleet | None = getattr(request.app.state, "custody_fleet", None)
    if fleet is not None and fleet.store is ledger.log_store:
        return fleet
    return await run_in_threadpool(fleet_of, request, ledger)  # opening them reads the store


FleetDep = Annotated[Fleet, Depends(get_fleet)]
ExactQuery = Annotated[
    bool,
    Query(
        description="answer from the reference (replay) instead of the read models, which may be"
        " behind the log (`as_of_log_size`)"
    ),
]


@dataclass(frozen=True)
class PastQuery:
    """A question about the past (docs/api.md): custody at field time `at`, as known at
    recording time `known_at`; `exact` for the reference's answer rather than the read models'."""

    at: AtQuery
    known_at: KnownAtQuery = None
    exact: ExactQuery = False


async def past_query(
    at: AtQuery, known_at: KnownAtQuery = None, exact: ExactQuery = False
) -> PastQuery:
    """`PastQuery` from the query, on the event loop: FastAPI calls a class dependency in its
    thread pool."""
    return PastQuery(at, known_at, exact)


PastDep = Annotated[PastQuery, Depends(past_query)]
