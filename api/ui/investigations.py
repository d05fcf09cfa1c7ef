"""The dashboard's pages for issue 17: the serial search (a box on every page) and the
investigations page (unmatched sightings, traces open and overdue, inventories with their
reconciliation). Thin: check the session, ask the ledger, render a template."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from api.deps import LedgerDep, fleet_of
from api.routes.traces import may_see_trace
from api.ui.pages import DashboardRoute, render
from api.ui.session import UI_PATH, SessionDep
from ledger.application import ReadScope
from ledger.domain import ANSWERED, Action, InvalidInput, Inventory
from ledger.readmodels import Filters, Pattern, search_serials

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
INVENTORIES_SHOWN = 20


@router.get(f"{UI_PATH}/search")
def serial_search(
    request: Request,
    ledger: LedgerDep,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Ranked candidates for a full or partial serial (`?` one character, `*` a run)."""
    session.actor.require(Action.READ)
    found, error = [], None
    if q:
        try:
            pattern = Pattern.parse(q)
            fleet = fleet_of(request, ledger)
            found = search_serials(
                ledger, fleet, pattern, filters=Filters(), actor=session.actor
            ).candidates
        except InvalidInput as refused:
            error = refused.message
    return render(
        request, "search.html", {"page": "search", "q": q, "found": found, "error": error}
    )


@router.get(f"{UI_PATH}/investigations")
def investigations(request: Request, ledger: LedgerDep, session: SessionDep) -> Response:
    """What GET /v1/sightings and GET /v1/traces show the caller: a partner sees no unmatched
    sighting (only those matched to its items), the traces addressed to it, and the inventories
    of itself and its units (ledger/application/scope.py)."""
    session.actor.require(Action.READ)
    scope = ReadScope(ledger, session.actor)
    now = ledger.clock()
    sightings = [s for _, s in ledger.sightings() if s.item_id is None] if scope.everything else []
    traces = [
        t for t in ledger.traces() if may_see_trace(t, session.actor) and t.status(now) != ANSWERED
    ]
    inventories = [
        i for i in _inventories(ledger) if scope.everything or scope.answers_for(i.recipient)
    ]
    context = {
        "page": "investigations",
        "sightings": sightings,
        "traces": [(t, t.status(now)) for t in traces],
        "inventories": inventories,
    }
    return render(request, "investigations.html", context)


def _inventories(ledger: Any) -> list[Inventory]:
    notifications = ledger.recorder.select_notifications(
        start=None, limit=1_000_000, topics=[Inventory.Recorded.TOPIC]
    )
    newest = list(notifications)[-INVENTORIES_SHOWN:]
    return [ledger.repository.get(n.originator_id) for n in reversed(newest)]
