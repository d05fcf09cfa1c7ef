"""The dashboard's pages under /ui (docs/dashboard.md). Thin: check the session, ask views.py,
render a template. Forms POST with a CSRF token and answer with a redirect (303)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from api.deps import LedgerDep, fleet_of
from api.routes.reports import PolicyDep
from api.security import RateLimited, counting_failures
from api.ui import views, visits
from api.ui.pages import DashboardRoute, render
from api.ui.queries import FlagQuery, FlagQueryDep, Limit, ListQueryDep, Offset, Text
from api.ui.session import (
    LOGIN_CSRF_COOKIE,
    LOGIN_PATH,
    UI_PATH,
    CheckedFormDep,
    FormDep,
    FormRefused,
    Session,
    SessionDep,
    end_session,
    keep_login_csrf,
    login_csrf,
    require_same,
    safe_next,
    start_session,
)
from ledger.application import Ledger, ReadScope
from ledger.domain import Action, Category, InvalidInput, Unauthenticated
from ledger.readmodels import resolve_item
from ledger.verification import dump_bundle
from policies.export import items_csv
from policies.findings import Severity
from policies.flags import raise_findings
from policies.standing import RULE_NAMES, SHOWN, STATUSES

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)


def _readable(ledger: Ledger, session: Session) -> ReadScope:
    """What the signed-in caller may read: the same check as every API read
    (ledger/application/scope.py)."""
    session.actor.require(Action.READ)
    return ReadScope(ledger, session.actor)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# Signing in and out -------------------------------------------------------------------------------


@router.get(LOGIN_PATH)
def login_form(request: Request, next: Text = None) -> Response:
    return _login_page(request, safe_next(next))


def _login_page(
    request: Request, target: str, error: str | None = None, status: int = 200
) -> Response:
    csrf = login_csrf(request)
    response = render(request, "login.html", {"csrf": csrf, "next": target, "error": error}, status)
    keep_login_csrf(response, request, csrf)
    return response


@router.post(LOGIN_PATH)
def login(request: Request, ledger: LedgerDep, form: FormDep) -> Response:
    """Check the token with the Ledger; keep it in the session cookie; go where the user was."""
    target = safe_next(form.get("next"))
    try:
        require_same(form.get("csrf", ""), request.cookies.get(LOGIN_CSRF_COOKIE, ""))
        with counting_failures(request):
            ledger.authenticate(form.get("token", "").strip())
    except FormRefused:
        return _login_page(request, target, "The sign-in form had expired. Please try again.", 403)
    except RateLimited as limited:
        response = _login_page(request, target, _too_many(limited.retry_after), 429)
        response.headers["Retry-After"] = str(limited.retry_after)
        return response
    except Unauthenticated as error:
        return _login_page(request, target, f"Sign-in failed: {error.message}.", 401)
    except InvalidInput:
        return _login_page(request, target, "Sign-in failed: that is not a token.", 401)
    response = _see_other(target)
    start_session(response, request, form["token"].strip())
    return response


def _too_many(seconds: int) -> str:
    return f"Too many failed sign-ins from your address. Please try again in {seconds} seconds."


@router.post(f"{UI_PATH}/logout")
def logout(request: Request, form: CheckedFormDep) -> Response:
    response = _see_other(LOGIN_PATH)
    end_session(response, request)
    return response


@router.get(f"{UI_PATH}/logout")
def logout_link(request: Request) -> Response:
    """Signing out by a link too: it only ever ends the session, so it needs no CSRF token."""
    response = _see_other(LOGIN_PATH)
    end_session(response, request)
    return response


# Pages --------------------------------------------------------------------------------------------


@router.get(UI_PATH)
def overview(
    request: Request, ledger: LedgerDep, session: SessionDep, policy: PolicyDep
) -> Response:
    session.actor.require(Action.READ)
    now = ledger.clock()
    party = session.actor.party
    since, mark = visits.visit(request, party, views.mark_now(ledger, now))
    data = views.overview(ledger, session.actor, policy, now, since)
    response = render(request, "overview.html", {"page": "overview", "o": data})
    visits.keep(response, request, party, since, mark)
    return response


@router.get(f"{UI_PATH}/unaccounted")
def unaccounted(
    request: Request,
    ledger: LedgerDep,
    session: SessionDep,
    policy: PolicyDep,
    query: ListQueryDep,
    offset: Offset = 0,
    limit: Limit = views.PAGE_SIZE,
) -> Response:
    session.actor.require(Action.READ)
    day, end = views.end_of_day(query.as_of, ledger.clock().date())
    listed = views.item_list(
        ledger, session.actor, policy, end, query.where, query.selection, (offset, limit)
    )
    context = {
        "page": "unaccounted",
        "day": day,
        "listed": listed,
        "report": listed.report,
        "query": query,
        "selection": query.selection,
        "limit": limit,
        "choices": choices(listed.recipients),
    }
    return render(request, "unaccounted.html", context)


def choices(recipients: Sequence[str]) -> dict[str, Sequence[str]]:
    """The values each filter offers."""
    return {
        "recipient": recipients,
        "category": [c.value for c in Category],
        "reason": RULE_NAMES,
        "severity": [s.value for s in Severity],
        "status": STATUSES,
        "show": SHOWN,
    }


@router.get(f"{UI_PATH}/unaccounted.csv")
def unaccounted_csv(
    ledger: LedgerDep, session: SessionDep, policy: PolicyDep, query: ListQueryDep
) -> Response:
    """The list the same query shows, every page of it, as CSV (policies/export.py's writer)."""
    session.actor.require(Action.READ)
    day, end = views.end_of_day(query.as_of, ledger.clock().date())
    listed = views.item_list(ledger, session.actor, policy, end, query.where, query.selection)
    return Response(
        items_csv(listed.scope, listed.everything),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="unaccounted-{day}.csv"'},
    )


@router.get(f"{UI_PATH}/flags")
def flags(
    request: Request,
    ledger: LedgerDep,
    session: SessionDep,
    policy: PolicyDep,
    query: FlagQueryDep,
    resolved: Text = None,
    scanned: Text = None,
    offset: Offset = 0,
    limit: Limit = views.PAGE_SIZE,
) -> Response:
    session.actor.require(Action.READ)
    rows = views.flags(ledger, session.actor, policy, ledger.clock(), query.filters)
    context = {
        "page": "flags",
        "rows": views.paged(rows, offset, limit),
        "unrecorded": len(views.unrecorded(rows)),
        "query": query,
        "status": query.filters.status,
        "limit": limit,
        "resolved": resolved,
        "scanned": scanned,
        "recipients": views.recipient_choices(ledger, session.actor, policy),
        "rules": RULE_NAMES,
        "severities": [s.value for s in Severity],
        "may_resolve": views.may(session.actor, Action.RESOLVE_FLAG),
        "may_raise": views.may(session.actor, Action.RAISE_FLAG),
    }
    return render(request, "flags.html", context)


@router.post(f"{UI_PATH}/flags/scan")
def scan(
    ledger: LedgerDep, session: SessionDep, policy: PolicyDep, form: CheckedFormDep
) -> Response:
    """Put every current finding on record as a flag (as POST /v1/flags/scan)."""
    session.actor.require(Action.RAISE_FLAG)
    current = views.findings_now(ledger, policy, ledger.clock())
    raised = raise_findings(ledger, current, actor=session.actor)
    return _see_other(f"{UI_PATH}/flags?scanned={raised}")


@router.post(f"{UI_PATH}/flags/record")
def record(
    ledger: LedgerDep, session: SessionDep, policy: PolicyDep, form: CheckedFormDep
) -> Response:
    """The bulk action: put on record every finding the form's filters select that is not on
    record yet (every page of the list, not only the one shown)."""
    session.actor.require(Action.RAISE_FLAG)
    chosen = FlagQuery(None, form.get("rule"), form.get("severity"), form.get("recipient"))
    every = replace(chosen, status="all")
    rows = views.flags(ledger, session.actor, policy, ledger.clock(), every.filters)
    raised = raise_findings(ledger, views.unrecorded(rows), actor=session.actor)
    return _see_other(f"{UI_PATH}/flags?{urlencode({**chosen.params, 'scanned': raised})}")


@router.post(f"{UI_PATH}/flags/{{flag_id}}/resolution")
def resolve(flag_id: str, ledger: LedgerDep, session: SessionDep, form: CheckedFormDep) -> Response:
    ledger.resolve_flag(flag_id, reason=form.get("reason", ""), actor=session.actor)
    return _see_other(f"{UI_PATH}/flags?resolved={flag_id}")


@dataclass(frozen=True)
class ItemName:
    """How a dashboard URL names an item: by its id, or by its serial with
    `?manufacturer=&model=` (docs/identity.md)."""

    item_id: str
    manufacturer: Text = None
    model: Text = None


def _named_item(
    request: Request, ledger: LedgerDep, session: SessionDep, name: Annotated[ItemName, Depends()]
) -> UUID:
    """The id of the item the URL names, if the caller may read it."""
    item, manufacturer, model = name.item_id, name.manufacturer, name.model
    if manufacturer is not None or model is not None:
        if manufacturer is None or model is None:
            raise InvalidInput("name an item by its serial with both manufacturer and model")
        fleet = fleet_of(request, ledger)
        found = resolve_item(
            ledger, fleet, item, manufacturer=manufacturer, model=model, actor=session.actor
        )
        item = str(found)
    return _readable(ledger, session).require_item(item)


NamedItemDep = Annotated[UUID, Depends(_named_item)]


@router.get(f"{UI_PATH}/items/{{item_id}}")
def item(request: Request, found: NamedItemDep, ledger: LedgerDep, policy: PolicyDep) -> Response:
    """The item by its id, or by its serial with `?manufacturer=&model=` (docs/identity.md)."""
    data = views.item_page(ledger, str(found), policy, ledger.clock())
    return render(request, "item.html", {"page": "item", "p": data})


@router.get(f"{UI_PATH}/items/{{item_id}}/evidence")
def evidence(found: NamedItemDep, ledger: LedgerDep) -> Response:
    """The evidence bundle, as GET /v1/items/{id}/evidence, for `custody verify-evidence`."""
    return Response(
        dump_bundle(ledger.evidence(found)),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="evidence-{found}.json"'},
    )


@router.get(f"{UI_PATH}/log")
def log(request: Request, ledger: LedgerDep, session: SessionDep) -> Response:
    data = views.log_page(ledger, _readable(ledger, session))
    return render(request, "log.html", {"page": "log", "p": data})


@router.get(f"{UI_PATH}/proof/{{index}}")
def proof(
    request: Request,
    index: int,
    ledger: LedgerDep,
    session: SessionDep,
    size: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    data = views.proof_page(ledger, index, size, _readable(ledger, session))
    return render(request, "proof.html", {"page": "log", "p": data})
