"""What the ledger says: `find`, `parties`, `agreements`, `report unaccounted`."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from custody_cli.options import OPERATOR_ACTOR, DbOption, open_ledger
from custody_cli.output import out
from custody_cli.store import follow_log
from ledger.application import directory
from ledger.domain import CustodyError, aware_utc, format_time, parse_moment, system_clock
from ledger.readmodels import Candidate, Filters, Fleet, Pattern, search_serials
from ledger.store import Config
from policies.config import load_policy
from policies.engine import Scope, UnaccountedReport, unaccounted_report
from policies.export import report_csv


def find(
    pattern: Annotated[
        str, typer.Argument(help="a serial as read: ? for one unreadable character, * for a run")
    ],
    at: Annotated[
        datetime | None, typer.Option(help="also holder and status at this time (RFC 3339)")
    ] = None,
    manufacturer: Annotated[str | None, typer.Option()] = None,
    model: Annotated[str | None, typer.Option()] = None,
    category: Annotated[str | None, typer.Option()] = None,
    cursor: Annotated[str | None, typer.Option(help="the `next` of an earlier page")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the page as JSON")] = False,
    db: DbOption = None,
) -> None:
    """Find items by a full or partial serial: ranked candidates (docs/identity.md)."""
    ledger = open_ledger(Config.from_env(db=db))
    found = search_serials(
        ledger,
        Fleet.of(ledger),
        Pattern.parse(pattern),
        filters=Filters(manufacturer=manufacturer, model=model, category=category),
        actor=OPERATOR_ACTOR,
        at=aware_utc(at, field="at") if at is not None else None,
        cursor=cursor,
    )
    if as_json:
        items = [_candidate_json(c) for c in found.candidates]
        print(json.dumps({"items": items, "next": found.next}, ensure_ascii=False))
        return
    out.print(_candidates_table(pattern, found.candidates))
    if found.next:
        out.print(f"more: --cursor {found.next}", markup=False)


def _candidate_json(candidate: Candidate) -> dict[str, object]:
    fields = dataclasses.asdict(candidate)
    return fields | {"item_id": str(candidate.item_id)}


def _candidates_table(pattern: str, candidates: list[Candidate]) -> Table:
    table = Table(title=f"{len(candidates)} candidates for {pattern}")
    for column in ("serial", "match", "unknowns", "holder", "status", "then", "verified", "item"):
        table.add_column(column)
    for c in candidates:
        then = f"{c.at['holder']} {c.at['status']}" if c.at else ""
        seen = c.last_verified_inspection
        verified = f"{seen['occurred_at']} {seen['inspector']}" if seen else ""
        table.add_row(
            c.serial, c.match, str(c.unknowns), c.holder, c.status, then, verified, str(c.item_id)
        )
    return table


def parties(db: DbOption = None) -> None:
    """Every registered party: its id (what --party, `recipient` and `to` take), name, kind,
    parent force and keys."""
    table = Table(title="Parties")
    for column in ("id", "name", "kind", "parent", "keys"):
        table.add_column(column)
    for p in directory.parties(open_ledger(Config.from_env(db=db))):
        keys = [k.key_id + (" revoked" if k.revoked_at else "") for k in p.keys.values()]
        table.add_row(p.party_id, p.name, p.kind.value, p.parent or "", " ".join(keys))
    out.print(table)


def agreements(db: DbOption = None) -> None:
    """Every end-use agreement: its id (what an issue's `agreement` takes), supplier, programme
    and authorized holders."""
    table = Table(title="Agreements")
    for column in ("id", "supplier", "programme", "authorized holders", "retransfer consent"):
        table.add_column(column)
    for a in directory.agreements(open_ledger(Config.from_env(db=db))):
        consent = "required" if a.retransfer_requires_consent else "not required"
        table.add_row(
            a.agreement_id, a.supplier, a.programme, ", ".join(a.authorized_holders), consent
        )
    out.print(table)


report_app = typer.Typer(no_args_is_help=True, help="Oversight reports.")


@report_app.command("unaccounted")
def report_unaccounted(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="the date asked about: 2026-06-30 (the end of that day, UTC) or RFC 3339 with a"
            " zone; default: now",
        ),
    ] = None,
    known_at: Annotated[
        str | None, typer.Option("--known-at", help="as the ledger knew it then (as --as-of)")
    ] = None,
    recipient: Annotated[
        str | None, typer.Option(help="a recipient party, or its parent force")
    ] = None,
    programme: Annotated[str | None, typer.Option()] = None,
    category: Annotated[str | None, typer.Option()] = None,
    policy: Annotated[
        Path | None, typer.Option(help="a policy file (TOML); default CUSTODY_POLICY")
    ] = None,
    db: DbOption = None,
    as_csv: Annotated[
        bool,
        typer.Option("--csv", help="print CSV as the API's `Accept: text/csv` (docs/policies.md)"),
    ] = False,
    view: Annotated[
        str, typer.Option(help="with --csv: `items` (a row per reason) or `recipients`")
    ] = "items",
) -> None:
    """Which items were unaccounted for on a date, and why; accountability per recipient."""
    if view not in ("items", "recipients"):
        raise CustodyError(f"--view must be items or recipients, got {view!r}")
    config = Config.from_env(db=db)
    rules = load_policy(policy or config.policy)
    when = parse_moment(as_of, field="--as-of") if as_of else system_clock()
    known = parse_moment(known_at, field="--known-at") if known_at else None
    chosen = Scope(when, known, recipient, programme, category)
    ledger = open_ledger(config)
    follow_log(ledger, rules)  # a process of its own: no server may have followed the log
    report = unaccounted_report(ledger, chosen, rules)
    if as_csv:
        sys.stdout.write(report_csv(report, view))
        return
    out.print(_unaccounted_table(report))
    out.print(_rates_table(report))


def _unaccounted_table(report: UnaccountedReport) -> Table:
    table = Table(
        title=f"Unaccounted for as of {format_time(report.scope.as_of)}: {len(report.unaccounted)}"
    )
    for column in ("serial", "category", "recipient", "holder", "status", "why", "evidence"):
        table.add_column(column)
    for item in report.unaccounted:
        why = "; ".join(f"{f.rule}: {f.detail}" for f in item.reasons)
        evidence = " ".join(str(i) for f in item.reasons for i in f.evidence)
        table.add_row(
            item.serial, item.category, item.recipient, item.holder, item.status, why, evidence
        )
    return table


def _rates_table(report: UnaccountedReport) -> Table:
    table = Table(title="Per recipient")
    columns = ("recipient", "issued", "accounted", "accountability", "overdue", "delinquency")
    for column in (*columns, "verified independently", "self-reported"):
        table.add_column(column, justify="left" if column == "recipient" else "right")
    for r in report.recipients:
        table.add_row(
            r.recipient,
            str(r.issued),
            str(r.accounted),
            f"{r.accountability_rate:.1%}",
            str(r.overdue),
            f"{r.delinquency_rate:.1%}",
            str(r.verified_independently),
            str(r.self_reported),
        )
    return table
