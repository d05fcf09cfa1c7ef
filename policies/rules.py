"""The rules. Each reads one item's facts as of a date (field time), as known at a recording time,
and returns findings as data, each naming the log entries that prove it (docs/policies.md)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from ledger.domain import Fact
from policies.config import PolicyConfig
from policies.findings import INDEPENDENT_KINDS, Finding, Severity

FAILED = {
    "serial_mismatch": Severity.HIGH,
    "not_presented": Severity.HIGH,
    "location_mismatch": Severity.MEDIUM,
    "damaged": Severity.LOW,
}
MISSING_RESULTS = {"serial_mismatch", "not_presented"}
LOSS = {
    "stolen": Severity.CRITICAL,
    "captured": Severity.CRITICAL,
    "lost": Severity.HIGH,
    "missing": Severity.HIGH,
    "destroyed_in_action": Severity.MEDIUM,
}
IN_HAND = {"Transferred", "Inspected", "Received"}
OPERATOR_KIND = "operator"
ATTRIBUTED = {"Inspected": "inspector", "Sighted": "observer", "Recovered": "by"}
"""The field of each event that names who did it: the actor's own party or one of its units."""
Registration = Callable[[str], tuple[str, str | None] | None]
"""party id -> (kind, parent) as registered (as known at the question's `known_at`); None for a
name that is no registered party."""


def _unregistered(party: str) -> tuple[str, str | None] | None:
    return None


def recorder(registration: Registration, kind: str, actor: str, fields: Mapping[str, Any]) -> str:
    """The party an entry speaks for: its `actor`, the recording party. Only the operator may name
    another party as the inspector, observer or recoverer (ledger/domain/attribution.py); its entry
    then
    speaks for that party, and says so (actor operator, `inspector` X)."""
    registered = registration(actor)
    named = fields.get(ATTRIBUTED.get(kind, ""))
    if registered is not None and registered[0] == OPERATOR_KIND and named:
        return str(named)
    return actor


def independent(
    registration: Registration, kind: str, actor: str, fields: Mapping[str, Any]
) -> bool:
    """Recorded by a party independent of the holder: by the recording party's kind in the
    registry (an inspector, the supplier, oversight, an investigator) and its parent's, never by
    a free-text field. A recipient force, its units, and a unit of a force are not."""
    registered = registration(recorder(registration, kind, actor, fields))
    if registered is None or registered[0] not in INDEPENDENT_KINDS:
        return False
    parent = registered[1]
    above = registration(parent) if parent else None
    return parent is None or (above is not None and above[0] in (*INDEPENDENT_KINDS, OPERATOR_KIND))


@dataclass(frozen=True)
class Case:
    """One item as of `as_of`: its facts in field-time order, and what the rules need around it."""

    item_id: UUID
    facts: tuple[Fact, ...]
    as_of: datetime
    authorized: Callable[[str], bool]
    duplicates: Sequence[int] = ()
    """Log indexes of other items' issues with the same normalised serial."""
    registration: Registration = _unregistered

    @property
    def issued(self) -> Fact:
        return self.facts[0]

    def of(self, *kinds: str) -> list[Fact]:
        return [f for f in self.facts if f.kind in kinds]

    def holder(self) -> str:
        """Who held the item last, as of the date (the holder at the loss, for a lost item)."""
        holder = str(self.issued.fields["recipient"])
        for fact in self.of("Transferred", "Recovered"):
            holder = str(fact.fields["to"] if fact.kind == "Transferred" else fact.fields["by"])
        return holder

    def open_loss(self) -> Fact | None:
        loss = None
        for fact in self.of("ReportedLost", "Recovered"):
            loss = fact if fact.kind == "ReportedLost" else None
        return loss

    def disposal(self) -> Fact | None:
        return next(iter(self.of("Disposed")), None)

    def last_verified(
        self, before: datetime | None = None, *, independent: bool = False
    ) -> Fact | None:
        """The last verified inspection (by `before`); only an independent party's if asked."""
        verified = [
            f
            for f in self.of("Inspected")
            if f.fields["result"] == "verified"
            and (before is None or f.occurred_at <= before)
            and (not independent or self.independent(f))
        ]
        return verified[-1] if verified else None

    def independent(self, fact: Fact) -> bool:
        return independent(self.registration, fact.kind, fact.actor, fact.fields)

    def unconfirmed_recovery(self) -> tuple[Fact, Fact] | None:
        """The last loss and the holder's recovery of it, if no independent party has verified
        the item since (a recovery the holder records is its word; docs/policies.md)."""
        loss = recovery = None
        for fact in self.of("ReportedLost", "Recovered"):
            loss, recovery = (fact, None) if fact.kind == "ReportedLost" else (loss, fact)
        if loss is None or recovery is None or self.independent(recovery):
            return None
        confirmed = self.last_verified(independent=True)
        if confirmed is not None and confirmed.occurred_at >= recovery.occurred_at:
            return None
        return loss, recovery

    def finding(
        self,
        rule: str,
        severity: Severity,
        since: datetime,
        evidence: Sequence[Fact],
        detail: str,
        *,
        unaccounted: bool = False,
    ) -> Finding:
        return Finding(
            rule,
            self.item_id,
            severity,
            since,
            tuple(sorted(f.log_index for f in evidence)),
            detail,
            unaccounted,
        )


Rule = Callable[[Case, PolicyConfig], list[Finding]]


def unrecovered_loss(case: Case, config: PolicyConfig) -> list[Finding]:
    """A loss not recovered, or recovered only in the holder's word (no independent party has
    recorded the recovery or verified the item since)."""
    loss, evidence, detail = case.open_loss(), [], "and not recovered"
    if loss is None and (unconfirmed := case.unconfirmed_recovery()) is not None:
        loss, recovery = unconfirmed
        evidence = [recovery]
        detail = (
            f"and recovered by {recovery.fields['by']} in the holder's word only:"
            " no independent party has verified it since"
        )
    if loss is None:
        return []
    circumstances = str(loss.fields["circumstances"])
    return [
        case.finding(
            "lost",
            LOSS[circumstances],
            loss.occurred_at,
            [loss, *evidence],
            f"reported {circumstances} {detail}",
            unaccounted=True,
        )
    ]


def failed_inspection(case: Case, config: PolicyConfig) -> list[Finding]:
    """The failures since the last verified inspection that may clear them: an independent
    party's clears every failure; the holder's self-report only the holder's own failures."""
    failures: list[Fact] = []
    for fact in case.of("Inspected"):
        if fact.fields["result"] != "verified":
            failures.append(fact)
        elif case.independent(fact):
            failures = []
        else:
            failures = [f for f in failures if case.independent(f)]
    if not failures:
        return []
    results = [str(f.fields["result"]) for f in failures]
    worst = min((FAILED[r] for r in results), key=list(Severity).index)
    return [
        case.finding(
            "failed_inspection",
            worst,
            failures[0].occurred_at,
            failures,
            "inspection found: " + ", ".join(results),
            unaccounted=bool(MISSING_RESULTS & set(results)),
        )
    ]


def inspection_overdue(case: Case, config: PolicyConfig) -> list[Finding]:
    if case.open_loss() or case.disposal():
        return []
    sensitive = case.issued.fields["category"] in config.sensitive_categories
    last = case.last_verified(independent=True)
    if last is None:
        days = config.sensitive_initial_days if sensitive else config.inspection_interval_days
        basis, what = case.issued, "no verified inspection since issue on"
    else:
        days = config.sensitive_interval_days if sensitive else config.inspection_interval_days
        basis, what = last, "no verified inspection since"
    due = basis.occurred_at + timedelta(days=days)
    if case.as_of <= due:
        return []
    return [
        case.finding(
            "inspection_overdue",
            Severity.MEDIUM,
            due,
            [basis],
            f"{what} {basis.occurred_at.date()}; due every {days} days",
        )
    ]


def diversion(case: Case, config: PolicyConfig) -> list[Finding]:
    """Custody given to, or the item seen with, a party the end-use agreement does not authorize."""
    holder = case.holder()
    found = []
    for fact in case.of("Issued", "Transferred", "Recovered", "Sighted"):
        party = fact.fields.get(
            {"Issued": "recipient", "Transferred": "to", "Recovered": "by", "Sighted": "held_by"}[
                fact.kind
            ]
        )
        if party is None or case.authorized(str(party)):
            continue
        current = _still_there(case, fact, str(party), holder)
        verb = "seen with" if fact.kind == "Sighted" else "in the custody of"
        found.append(
            case.finding(
                "diversion",
                Severity.CRITICAL,
                fact.occurred_at,
                [fact],
                f"{verb} {party}, not authorized by agreement {case.issued.fields['agreement']}",
                unaccounted=current,
            )
        )
    return found


def _still_there(case: Case, fact: Fact, party: str, holder: str) -> bool:
    if fact.kind != "Sighted":
        return holder == party and case.open_loss() is None
    later = case.last_verified(independent=True)
    return later is None or later.occurred_at < fact.occurred_at


def late_loss_report(case: Case, config: PolicyConfig) -> list[Finding]:
    found = []
    limit = timedelta(days=config.loss_report_within_days)
    for loss in case.of("ReportedLost"):
        discovered: datetime = loss.fields["discovered_at"]
        if loss.recorded_at - discovered > limit:
            delay = (loss.recorded_at - discovered).days
            found.append(
                case.finding(
                    "late_loss_report",
                    Severity.MEDIUM,
                    discovered + limit,
                    [loss],
                    f"recorded {delay} days after its discovery",
                )
            )
        found += _late_discovery(case, loss, discovered, config)
    return found


def _late_discovery(
    case: Case, loss: Fact, discovered: datetime, config: PolicyConfig
) -> list[Finding]:
    seen = case.last_verified(before=loss.occurred_at) or case.issued
    gap = timedelta(days=config.discovery_gap_days)
    if discovered - seen.occurred_at <= gap:
        return []
    days = (discovered - seen.occurred_at).days
    return [
        case.finding(
            "late_discovery",
            Severity.MEDIUM,
            seen.occurred_at + gap,
            [seen, loss],
            f"discovered {days} days after it was last verified"
            if seen is not case.issued
            else f"discovered {days} days after its issue, never verified",
        )
    ]


def contradictions(case: Case, config: PolicyConfig) -> list[Finding]:
    """In field time: custody or inspections while lost, and anything at all after disposal."""
    found, lost, disposed = [], None, None
    for fact in case.facts:
        if disposed is not None and fact.kind != "Corrected":
            found.append(
                case.finding(
                    "after_disposal",
                    Severity.HIGH,
                    fact.occurred_at,
                    [disposed, fact],
                    f"{fact.kind} dated after the disposal",
                )
            )
        elif lost is not None and fact.kind in IN_HAND and not _confirms_loss(fact):
            found.append(
                case.finding(
                    "after_loss",
                    Severity.HIGH,
                    fact.occurred_at,
                    [lost, fact],
                    f"{fact.kind} dated after the loss, before any recovery",
                )
            )
        lost = fact if fact.kind == "ReportedLost" else None if fact.kind == "Recovered" else lost
        disposed = fact if fact.kind == "Disposed" else disposed
    return found


def _confirms_loss(fact: Fact) -> bool:
    """An inspection that finds the item not presented agrees with its loss."""
    return fact.kind == "Inspected" and fact.fields["result"] == "not_presented"


def serial_quality(case: Case, config: PolicyConfig) -> list[Finding]:
    issued, found = case.issued, []
    if issued.fields["registry_serial"]:
        found.append(
            case.finding(
                "missing_serial",
                Severity.LOW,
                issued.occurred_at,
                [issued],
                "no serial marked; the registry assigned one",
            )
        )
    if case.duplicates:
        serial = str(issued.fields["normalised_serial"])
        found.append(
            duplicate_serial(
                case.item_id, issued.occurred_at, issued.log_index, serial, case.duplicates
            )
        )
    return found


def duplicate_serial(
    item_id: UUID, issued_at: datetime, log_index: int, serial: str, twins: Sequence[int]
) -> Finding:
    """The one finding that depends on the rest of the fleet: the serial's other issues."""
    return Finding(
        "duplicate_serial",
        item_id,
        Severity.MEDIUM,
        issued_at,
        tuple(sorted({log_index, *twins})),
        f"serial {serial} was issued more than once",
    )


def disposal_unverified(case: Case, config: PolicyConfig) -> list[Finding]:
    disposal = case.disposal()
    if disposal is None:
        return []
    witnesses = set(disposal.fields["witnesses"]) - {case.holder()}
    problems = [] if disposal.fields["certificate"] else ["no certificate"]
    if len(witnesses) < config.disposal_min_witnesses:
        problems.append(f"{len(witnesses)} witnesses distinct from the holder")
    if not problems:
        return []
    return [
        case.finding(
            "disposal_unverified",
            Severity.HIGH,
            disposal.occurred_at,
            [disposal],
            "disposal with " + " and ".join(problems),
        )
    ]


RULES: Mapping[str, Rule] = {
    "lost": unrecovered_loss,
    "failed_inspection": failed_inspection,
    "inspection_overdue": inspection_overdue,
    "diversion": diversion,
    "late_loss_report": late_loss_report,
    "contradictions": contradictions,
    "serial_quality": serial_quality,
    "disposal_unverified": disposal_unverified,
}
