"""Oversight routes: the unaccounted report (JSON, or CSV with `Accept: text/csv`) and the flags."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response

from api.deps import ActorDep, LedgerDep
from api.schemas import (
    FindingOut,
    FlagOut,
    FlagResolutionIn,
    FlagsOut,
    RecipientRatesOut,
    RecordedOut,
    ScanOut,
    UnaccountedItemOut,
    UnaccountedReportOut,
)
from ledger.access import Action
from ledger.times import format_time, system_clock
from policies.config import PolicyConfig
from policies.engine import ItemAccount, Scope, findings, unaccounted_report
from policies.findings import Finding
from policies.flags import flag_views, raise_findings

router = APIRouter(tags=["oversight"])
When = Annotated[datetime | None, Query(description="RFC 3339 with a zone")]
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
CSV = {200: {"content": {"application/json": {}, "text/csv": {}}}}


@router.get("/v1/reports/unaccounted", response_model=UnaccountedReportOut, responses=CSV)
def unaccounted(
    ledger: LedgerDep,
    actor: ActorDep,
    policy: PolicyDep,
    chosen: ScopeDep,
    view: Literal["items", "recipients"] = "items",
    accept: Annotated[str, Header()] = "",
) -> UnaccountedReportOut | Response:
    """Items unaccounted for as of the date (as known at `known_at`), why, and the entries that
    prove it; per recipient the accountability and delinquency rates. CSV: one row per reason
    (`view=items`) or per recipient (`view=recipients`)."""
    actor.require(Action.READ)
    report = unaccounted_report(ledger, chosen, policy)
    out = UnaccountedReportOut(
        as_of=report.scope.as_of,
        known_at=report.scope.known_at,
        unaccounted=[_item_out(a) for a in report.unaccounted],
        recipients=[_rates_out(r) for r in report.recipients],
    )
    if "text/csv" in accept:
        return Response(_csv(out, view), media_type="text/csv")
    return out


@router.get("/v1/flags", response_model=FlagsOut)
def list_flags(
    ledger: LedgerDep,
    actor: ActorDep,
    policy: PolicyDep,
    chosen: ScopeDep,
    status: Literal["open", "resolved", "all"] = "open",
    rule: Filter = None,
    severity: Filter = None,
    item: UUID | None = None,
) -> FlagsOut:
    """The policies' findings as of the date, each with its flag state (raised, resolution)."""
    actor.require(Action.READ)
    wanted = [
        f
        for f in findings(ledger, chosen, policy)
        if (rule is None or f.rule == rule)
        and (severity is None or f.severity == severity)
        and (item is None or f.item_id == item)
    ]
    views = [
        v for v in flag_views(ledger, wanted) if status == "all" or (status == "open") == v.open
    ]
    return FlagsOut(
        flags=[
            FlagOut(
                **_finding_out(v.finding).model_dump(), raised=v.raised, resolution=v.resolution
            )
            for v in views
        ]
    )


@router.post("/v1/flags/scan", response_model=ScanOut)
def scan(ledger: LedgerDep, actor: ActorDep, policy: PolicyDep, chosen: ScopeDep) -> ScanOut:
    """Raise every current finding not raised yet, so it is on record."""
    actor.require(Action.RAISE_FLAG)
    current = findings(ledger, chosen, policy)
    return ScanOut(findings=len(current), raised=raise_findings(ledger, current, actor=actor))


@router.post("/v1/flags/{flag_id}/resolution", status_code=201, response_model=RecordedOut)
def resolve(
    flag_id: UUID, body: FlagResolutionIn, ledger: LedgerDep, actor: ActorDep
) -> RecordedOut:
    recorded = ledger.resolve_flag(flag_id, reason=body.reason, actor=actor)
    return RecordedOut(id=str(flag_id), version=recorded.version, log_index=recorded.log_index)


def _finding_out(f: Finding) -> FindingOut:
    return FindingOut(
        flag_id=f.finding_id,
        rule=f.rule,
        item_id=f.item_id,
        severity=f.severity.value,
        since=f.since,
        evidence=list(f.evidence),
        detail=f.detail,
    )


def _item_out(a: ItemAccount) -> UnaccountedItemOut:
    return UnaccountedItemOut(
        item_id=a.item_id,
        serial=a.serial,
        category=a.category,
        programme=a.programme,
        agreement=a.agreement,
        recipient=a.recipient,
        holder=a.holder,
        status=a.status,
        reasons=[_finding_out(f) for f in a.reasons],
    )


def _rates_out(r: object) -> RecipientRatesOut:
    return RecipientRatesOut.model_validate(r, from_attributes=True)


def _csv(report: UnaccountedReportOut, view: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if view == "recipients":
        writer.writerow(
            [
                "recipient",
                "issued",
                "accounted",
                "overdue",
                "accountability_rate",
                "delinquency_rate",
            ]
        )
        writer.writerows(
            [
                r.recipient,
                r.issued,
                r.accounted,
                r.overdue,
                f"{r.accountability_rate:.4f}",
                f"{r.delinquency_rate:.4f}",
            ]
            for r in report.recipients
        )
        return buffer.getvalue()
    writer.writerow(
        [
            "item_id",
            "serial",
            "category",
            "programme",
            "recipient",
            "holder",
            "status",
            "rule",
            "severity",
            "since",
            "detail",
            "evidence",
        ]
    )
    for item in report.unaccounted:
        for reason in item.reasons:
            writer.writerow(
                [
                    item.item_id,
                    item.serial,
                    item.category,
                    item.programme,
                    item.recipient,
                    item.holder,
                    item.status,
                    reason.rule,
                    reason.severity,
                    format_time(reason.since),
                    reason.detail,
                    " ".join(map(str, reason.evidence)),
                ]
            )
    return buffer.getvalue()
