"""Runs the rules over the fleet as of a date (and as known at a recording time), and builds the
oversight report: the unaccounted items with their reasons and evidence, and per recipient the
accountability rate (accounted / issued) and the delinquency rate (inspections overdue / issued).

The same question asked twice gives the same answer: only the ledger's facts, the scope and the
policy decide it, never the clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from uuid import UUID

from ledger.access import Actor
from ledger.application import Ledger
from ledger.errors import InvalidInput, NotFound, Unauthorised
from ledger.replay import Fact
from ledger.times import aware_utc
from ledger.tokens import Role
from policies.config import PolicyConfig
from policies.findings import Finding
from policies.rules import RULES, Case

Parents = Callable[[str], str | None]


@dataclass(frozen=True)
class Scope:
    as_of: datetime
    known_at: datetime | None = None
    recipient: str | None = None
    programme: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class ItemAccount:
    """One item as of the date: who it was issued to, who held it last, and what the rules found."""

    item_id: UUID
    serial: str
    category: str
    programme: str
    agreement: str
    recipient: str
    holder: str
    status: str
    findings: tuple[Finding, ...]

    @property
    def unaccounted(self) -> bool:
        return any(f.unaccounted for f in self.findings)

    @property
    def overdue(self) -> bool:
        return any(f.rule == "inspection_overdue" for f in self.findings)

    @property
    def reasons(self) -> list[Finding]:
        return [f for f in self.findings if f.unaccounted]


@dataclass(frozen=True)
class RecipientRates:
    """`accountability_rate` = accounted / issued; `delinquency_rate` = overdue / in custody (a
    lost or disposed item cannot be overdue, so it does not dilute the rate)."""

    recipient: str
    issued: int
    accounted: int
    in_custody: int
    overdue: int

    @property
    def accountability_rate(self) -> float:
        return self.accounted / self.issued if self.issued else 1.0

    @property
    def delinquency_rate(self) -> float:
        return self.overdue / self.in_custody if self.in_custody else 0.0


@dataclass(frozen=True)
class UnaccountedReport:
    scope: Scope
    unaccounted: list[ItemAccount]
    recipients: list[RecipientRates]


def accounts(ledger: Ledger, scope: Scope, config: PolicyConfig) -> Iterator[ItemAccount]:
    """Every item issued by the date (and recorded by `known_at`) in scope, with its findings."""
    scope = _checked(scope)
    parent = _parents(ledger, scope.known_at)
    chosen = list(_chosen_facts(ledger, scope))
    serials = _serials(chosen)  # across the whole fleet, whatever the filter
    authorized = _authorizer(ledger, parent)
    for item_id, facts in chosen:
        if not _wanted(parent, scope, facts[0]):
            continue
        issued = facts[0]
        twins = [
            i for i in serials[str(issued.fields["normalised_serial"])] if i != issued.log_index
        ]
        case = Case(item_id, facts, scope.as_of, authorized(str(issued.fields["agreement"])), twins)
        yield _account(case, config)


def unaccounted_report(ledger: Ledger, scope: Scope, config: PolicyConfig) -> UnaccountedReport:
    unaccounted: list[ItemAccount] = []
    # issued, accounted, in custody, overdue
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for account in accounts(ledger, scope, config):
        row = totals[account.recipient]
        row[0] += 1
        row[1] += not account.unaccounted
        row[2] += account.status == "in_custody"
        row[3] += account.overdue
        if account.unaccounted:
            unaccounted.append(account)
    rates = [RecipientRates(r, *totals[r]) for r in sorted(totals)]
    return UnaccountedReport(_checked(scope), unaccounted, rates)


def findings(ledger: Ledger, scope: Scope, config: PolicyConfig) -> list[Finding]:
    return [f for account in accounts(ledger, scope, config) for f in account.findings]


def scope_for(actor: Actor, scope: Scope) -> Scope:
    """A partner sees the items issued to it and its units only; every other role sees all."""
    if actor.role is not Role.PARTNER:
        return scope
    if scope.recipient not in (None, actor.party):
        raise Unauthorised(f"{actor.party} may see its own items only, not {scope.recipient}'s")
    return replace(scope, recipient=actor.party)


def _checked(scope: Scope) -> Scope:
    known = aware_utc(scope.known_at, field="known_at") if scope.known_at else None
    return Scope(
        aware_utc(scope.as_of, field="as_of"),
        known,
        scope.recipient,
        scope.programme,
        scope.category,
    )


def _chosen_facts(ledger: Ledger, scope: Scope) -> Iterator[tuple[UUID, tuple[Fact, ...]]]:
    for item_id in ledger.item_ids():
        facts = [
            f for f in ledger.facts(item_id) if _known(f, scope) and f.occurred_at <= scope.as_of
        ]
        issued = [f for f in facts if f.kind == "Issued"]
        if issued:
            rest = sorted(
                (f for f in facts if f.kind != "Issued"), key=lambda f: (f.occurred_at, f.log_index)
            )
            yield item_id, (issued[0], *rest)


def _known(fact: Fact, scope: Scope) -> bool:
    return scope.known_at is None or fact.recorded_at <= scope.known_at


def _wanted(parent: Parents, scope: Scope, issued: Fact) -> bool:
    fields = issued.fields
    if scope.programme and fields["programme"] != scope.programme:
        return False
    if scope.category and fields["category"] != scope.category:
        return False
    recipient = str(fields["recipient"])
    return not scope.recipient or scope.recipient in (recipient, parent(recipient))


def _serials(cases: list[tuple[UUID, tuple[Fact, ...]]]) -> dict[str, list[int]]:
    serials: dict[str, list[int]] = defaultdict(list)
    for _, facts in cases:
        serials[str(facts[0].fields["normalised_serial"])].append(facts[0].log_index)
    return serials


def _authorizer(ledger: Ledger, parent: Parents) -> Callable[[str], Callable[[str], bool]]:
    """agreement -> (party -> authorized?): a party is, if it or its parent is a named holder."""

    @cache
    def for_agreement(agreement: str) -> Callable[[str], bool]:
        holders = frozenset(ledger.agreement(agreement).authorized_holders)
        return lambda party: party in holders or parent(party) in holders

    return for_agreement


def _parents(ledger: Ledger, known_at: datetime | None) -> Parents:
    """party -> its parent force as known at `known_at`, looked up once per run. A party not
    registered by then is unknown: free text, like an armed group seen holding an item."""

    @cache
    def parent(party: str) -> str | None:
        try:
            found = ledger.party(party)
        except (NotFound, InvalidInput):
            return None
        return found.parent if known_at is None or found.registered_at <= known_at else None

    return parent


def _account(case: Case, config: PolicyConfig) -> ItemAccount:
    issued = case.issued.fields
    status = "lost" if case.open_loss() else "disposed" if case.disposal() else "in_custody"
    found = tuple(f for rule in RULES.values() for f in rule(case, config) if f.since <= case.as_of)
    return ItemAccount(
        case.item_id,
        str(issued["serial"]),
        str(issued["category"]),
        str(issued["programme"]),
        str(issued["agreement"]),
        str(issued["recipient"]),
        case.holder(),
        status,
        found,
    )
