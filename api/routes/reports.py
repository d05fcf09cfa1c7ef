"""Oversight routes: the unaccounted report (JSON, or CSV with `Accept: text/csv`) and the flags."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import ActorDep, ExactQuery, LedgerDep, ReadScopeDep
from api.schemas import (
    FindingOut,
    FlagOut,
    FlagResolutionIn,
    FlagsOut,
    PagingDep,
    RecipientRatesOut,
    RecordedOut,
    ScanOut,
    Time,
    UnaccountedItemOut,
    UnaccountedReportOut,
)
from ledger.domain import Action, page_after, system_clock
from policies.config import PolicyConfig
from policies.engine import (
    ItemAccount,
    Scope,
    accounts,
    accounts_position,
    findings,
    scope_for,
    unaccounted_report,
)
from policies.export import report_csv_pages
from policies.findings import Finding
from policies.flags import flag_order, flag_views, raise_findings
from policies.traces import trace_findings

router = APIRouter(tags=["oversight"])
When = Annotated[Time | None, Query(description="RFC 3339 with a zone")]
Filter = Annotated[str | None, Query(max_length=200)]


def get_policy(request: Request) -> PolicyConfig:
    policy: PolicyConfig = request.app.state.policy
    return policy


PolicyDep = Annotated[PolicyConfig, Depends(get_policy)]


def scope(
    as_of: When = None,
    known_at: When = None,
    recipient: Filter = None,
    programme: Filter = None,
    category: Filter = None,
) -> Scope:
    return Scope(as_of or system_clock(), known_at, recipient, programme, category)


ScopeDep = Annotated[Scope, Depends(scope)]
CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"application/json": {}, "text/csv": {}}}}


@router.get("/v1/reports/unaccounted", response_model=UnaccountedReportOut, responses=CSV)
def unaccounted(
    request: Request,
    ledger: LedgerDep,
    actor: ActorDep,
    policy: PolicyDep,
    paging: PagingDep,
    chosen: ScopeDep,
    view: Literal["items", "recipients"] = "items",
    exact: ExactQuery = False,
) -> UnaccountedReportOut | StreamingResponse:
    """Items unaccounted for as of the date (as known at `known_at`), why, and the entries that
    prove it; per recipient the accountability and delinquency rates. CSV: one row per reason
    (`view=items`) or per recipient (`view=recipients`), with `Accept: text/csv` (read from the
    request, not declared: OpenAPI ignores an `Accept` header parameter), every cell safe to open
    in a spreadsheet (policies/export.py), streamed whole (no paging). JSON: the unaccounted
    items in the order issued, `limit` a page; the recipients' rates, over the whole scope, on
    every page. From the stored accounts as they are (`as_of_log_size`); `exact=true` asks the
    reference (every item's facts) instead."""
    actor.require(Action.READ)
    report = unaccounted_report(ledger, scope_for(actor, chosen), policy, exact=exact)
    if "text/csv" in request.headers.get("accept", ""):
        return StreamingResponse(report_csv_pages(report, view), media_type="text/csv")
    page = page_after("report", report.unaccounted, _by_issue, **paging, shape=(int,))
    return UnaccountedReportOut(
        as_of=report.scope.as_of,
        known_at=report.scope.known_at,
        unaccounted=[_item_out(a) for a in page.items],
        recipients=[_rates_out(r) for r in report.recipients],
        as_of_log_size=report.as_of_log_size,
        next=page.next,
    )


def _by_issue(account: ItemAccount) -> tuple[int]:
    return (account.issued_log_index,)


@router.get("/v1/flags", response_model=FlagsOut)
def list_flags(
    ledger: LedgerDep,
    actor: ActorDep,
    readable: ReadScopeDep,
    policy: PolicyDep,
    paging: PagingDep,
    chosen: ScopeDep,
    status: Literal["open", "resolved", "all"] = "open",
    rule: Filter = None,
    severity: Filter = None,
    item: UUID | None = None,
    exact: ExactQuery = False,
) -> FlagsOut:
    """The policies' findings as of the date with their flag state, and the raised flags whose
    findings no longer hold (`holds: false`). `open`: holds and not resolved; `resolved`: resolved,
    whether it still holds or not; `all`: both. In policies.flags.flag_order's order, `limit` a
    page. From the stored accounts as they are (`as_of_log_size`); `exact=true` asks the
    reference instead."""
    if item is not None:
        readable.require_item(item)
    size = ledger.log_store.log_size() if exact else accounts_position(ledger, policy)
    scoped = list(accounts(ledger, scope_for(actor, chosen), policy, exact=exact))
    traced = trace_findings(ledger, chosen.as_of, {a.item_id for a in scoped})
    current = [f for a in scoped for f in a.findings] + traced
    views = [
        v
        for v in flag_views(ledger, current, item_ids={a.item_id for a in scoped})
        if (rule is None or v.finding.rule == rule)
        and (severity is None or v.finding.severity == severity)
        and (item is None or v.finding.item_id == item)
        and (status == "all" or (v.open if status == "open" else v.resolution is not None))
    ]
    order = flag_order(scoped, traced)
    shape = (int, int, int, str)
    page = page_after("flag list", views, order, **paging, shape=shape)
    return FlagsOut(
        flags=[
            FlagOut(
                **_finding_out(v.finding).model_dump(),
                raised=v.raised,
                holds=v.holds,
                resolution=v.resolution,
            )
            for v in page.items
        ],
        as_of_log_size=size,
        next=page.next,
    )


@router.post("/v1/flags/scan", response_model=ScanOut)
def scan(
    request: Request, ledger: LedgerDep, actor: ActorDep, policy: PolicyDep, chosen: ScopeDep
) -> ScanOut:
    """Raise every current finding not raised yet, so it is on record. A write: it brings the
    stored accounts up to date first (api/follower.py)."""
    actor.require(Action.RAISE_FLAG)
    request.app.state.follower.request()
    current = findings(ledger, chosen, policy)
    return ScanOut(findings=len(current), raised=raise_findings(ledger, current, actor=actor))


@router.post("/v1/flags/{flag_id}/resolution", status_code=201, response_model=RecordedOut)
def resolve(
    flag_id: UUID, body: FlagResolutionIn, ledger: LedgerDep, actor: ActorDep
) -> RecordedOut:
    recorded = ledger.resolve_flag(flag_id, reason=body.reason, actor=actor)
    return RecordedOut.of(recorded, key=flag_id)


def _finding_out(f: Finding) -> FindingOut:
    return FindingOut.model_validate(f, from_attributes=True)


def _item_out(a: ItemAccount) -> UnaccountedItemOut:
    """The account with its reasons; a status other than the schema's literals would be a bug,
    pydantic's refusal (500)."""
    return UnaccountedItemOut.model_validate(a, from_attributes=True)


def _rates_out(r: object) -> RecipientRatesOut:
    return RecipientRatesOut.model_validate(r, from_attributes=True)
