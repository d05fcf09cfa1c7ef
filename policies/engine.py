"""Runs the rules over the fleet as of a date (and as known at a recording time), and builds the
oversight report: the unaccounted items with their reasons and evidence, and per recipient the
accountability rate (accounted / issued) and the delinquency rate (inspections overdue / issued).

The same question asked twice gives the same answer: only the ledger's facts, the scope and the
policy decide it, never the clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from uuid import UUID

from ledger.application import Ledger, recipient_for
from ledger.domain import Actor, Fact, InvalidInput, NotFound, aware_utc, format_time
from ledger.store import MARKING, Where
from policies.accounts import FOREVER, AccountTable, Compute, StoredAccount, stored
from policies.config import PolicyConfig
from policies.findings import Finding
from policies.rules import RULES, Case, Registration, duplicate_serial
from policies.traces import trace_findings

Parents = Callable[[str], str | None]
SCOPED = ("programme", "category", "recipient", "agreement", "normalised_serial")
"""The issue's fields that place an item in a scope and among its serial's twins."""


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
    verified_independently: bool = False
    """A verified inspection by a party independent of the holder by the date."""
    self_reported: bool = False
    """A verified inspection by the holder's side (a self-report: the holder's statement)."""
    issued_log_index: int = 0
    """The log index of the item's issue: the report's order, and the key its pages follow."""

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
    lost or disposed item cannot be overdue, so it does not dilute the rate). Of the issued
    items, `verified_independently` had a verified inspection by an independent party by the
    date, `self_reported` one by the holder's side: EEUM counts only the former."""

    recipient: str
    issued: int
    accounted: int
    in_custody: int
    overdue: int
    verified_independently: int = 0
    self_reported: int = 0

    @property
    def accountability_rate(self) -> float:
        return self.accounted / self.issued if self.issued else 1.0

    @property
    def delinquency_rate(self) -> float:
        return self.overdue / self.in_custody if self.in_custody else 0.0

    @property
    def independent_verification_rate(self) -> float:
        return self.verified_independently / self.issued if self.issued else 0.0

    @property
    def self_report_rate(self) -> float:
        return self.self_reported / self.issued if self.issued else 0.0


@dataclass(frozen=True)
class UnaccountedReport:
    scope: Scope
    unaccounted: list[ItemAccount]
    recipients: list[RecipientRates]
    as_of_log_size: int = field(default=0, compare=False)
    """the log size the answer reflects: the stored accounts' position, or the log's size when
    the reference answered"""


def accounts(
    ledger: Ledger, scope: Scope, config: PolicyConfig, *, exact: bool = False
) -> Iterator[ItemAccount]:
    """Every item issued by the date (and recorded by `known_at`) in scope, with its findings:
    from the stored accounts (policies/accounts.py) as they are, where they answer the question,
    else from the item's facts. Up to date, both give the same answers; `reference_accounts` is
    the reference, and what `exact` asks for. The stored accounts are not caught up here: the
    follower does that (`follow_accounts`); `accounts_position` says how far they are."""
    scope = checked_scope(scope)
    if scope.known_at is not None or exact:
        yield from reference_accounts(ledger, scope, config)
        return
    table = AccountTable(ledger, config)
    as_of = format_time(scope.as_of)
    serials = table.issued_twice(as_of)
    registry = rule_registry(ledger, None)
    for row in table.rows():
        wanted = _wanted(registry.parent, scope, row.programme, row.category, row.recipient)
        if row.issued_at > as_of or not wanted:
            continue
        twins = _twins(serials, row.normalised_serial, row.issued_log_index)
        if row.last_at <= as_of:
            yield _account_of_row(row, as_of, twins)
        else:
            yield _unsettled_account(ledger, row, scope, config, registry, twins)


def follow_accounts(
    ledger: Ledger,
    config: PolicyConfig,
    progress: Callable[[int], None] | None = None,
    *,
    table: AccountTable | None = None,
) -> int:
    """Bring this policy's stored accounts up to date with the log (the follower's step,
    policies/following.py, which keeps its `table` open); answers how many items were
    recomputed."""
    return (table or AccountTable(ledger, config)).catch_up(_compute(ledger, config), progress)


def accounts_position(ledger: Ledger, config: PolicyConfig) -> int:
    """The log size this policy's stored accounts reflect."""
    return AccountTable(ledger, config).position()


def account_rows(ledger: Ledger, config: PolicyConfig) -> Compute:
    """What a catch-up writes for a chunk of items: `custody verify` recomputes the stored rows
    with it (policies/audit.py)."""
    return _compute(ledger, config)


def _compute(ledger: Ledger, config: PolicyConfig) -> Compute:
    """Rows for a chunk of items, the parties and agreements looked up once per chunk."""

    def compute(items: Sequence[UUID], policy: str, size: int) -> list[StoredAccount]:
        facts = ledger.facts_of_items(items)  # two queries for the chunk, not two an item
        return stored_rows(facts, rule_registry(ledger, None), config, policy, size)

    return compute


def stored_rows(
    facts: dict[UUID, list[Fact]],
    registry: RuleRegistry,
    config: PolicyConfig,
    policy: str,
    size: int,
) -> list[StoredAccount]:
    """The rows of these items from their facts already read (`Ledger.facts_of_items`)."""
    return [_stored(item, found, config, policy, size, registry) for item, found in facts.items()]


def _twins(serials: dict[str, list[int]], serial: str, issue: int) -> list[int]:
    """The log indexes of the serial's other issues."""
    return [i for i in serials.get(serial, ()) if i != issue]


def _unsettled_account(
    ledger: Ledger,
    row: StoredAccount,
    scope: Scope,
    config: PolicyConfig,
    registry: RuleRegistry,
    twins: list[int],
) -> ItemAccount:
    """An item with facts after the date: the rules over its facts up to the date."""
    facts = _facts_as_of(ledger, UUID(row.item_id), scope)
    assert facts is not None  # issued by the date: its issue is among them
    return account_of_case(registry.case(UUID(row.item_id), facts, scope.as_of, twins), config)


def covered_recipients(table: AccountTable, parent: Parents, scope: Scope) -> list[str] | None:
    """The recipients a scope's `recipient` covers: itself and its units."""
    if not scope.recipient:
        return None
    return [r for r in table.recipients() if scope.recipient in (r, parent(r))]


def recipients(ledger: Ledger, scope: Scope, config: PolicyConfig) -> list[str]:
    """The recipients items were issued to, within the scope's recipient (itself and its units)."""
    table = AccountTable(ledger, config)  # as they are: the follower keeps them up to date
    chosen = covered_recipients(table, rule_registry(ledger, None).parent, checked_scope(scope))
    return sorted(table.recipients() if chosen is None else chosen)


def reference_accounts(ledger: Ledger, scope: Scope, config: PolicyConfig) -> Iterator[ItemAccount]:
    """The rules over every item's facts as of the date, read one item at a time."""
    scope = checked_scope(scope)
    registry = rule_registry(ledger, scope.known_at)
    chosen = list(_chosen_facts(ledger, scope))
    serials = _serials(chosen)  # across the whole fleet, whatever the filter
    for item_id, facts in chosen:
        issued = {k: str(facts[0].fields[k]) for k in SCOPED}
        marking = (issued["programme"], issued["category"], issued["recipient"])
        if not _wanted(registry.parent, scope, *marking):
            continue
        twins = _twins(serials, issued["normalised_serial"], facts[0].log_index)
        yield account_of_case(registry.case(item_id, facts, scope.as_of, twins), config)


def item_account(
    ledger: Ledger, item_id: UUID, scope: Scope, config: PolicyConfig
) -> ItemAccount | None:
    """One item's account as of the date (None if it was not issued by then): the rules over its
    facts, with the fleet's other issues of its serial from the stored accounts as they are."""
    scope = checked_scope(scope)
    facts = _facts_as_of(ledger, item_id, scope)
    if facts is None:
        return None
    serials = AccountTable(ledger, config).issued_twice(format_time(scope.as_of))
    twins = _twins(serials, str(facts[0].fields["normalised_serial"]), facts[0].log_index)
    return account_of_case(
        rule_registry(ledger, scope.known_at).case(item_id, facts, scope.as_of, twins), config
    )


def unaccounted_report(
    ledger: Ledger, scope: Scope, config: PolicyConfig, *, exact: bool = False
) -> UnaccountedReport:
    """The unaccounted items and the rates per recipient. The stored accounts, as they are,
    answer for the items settled by the date, counted in SQL; the items with facts after it are
    read one by one. `exact` (and any `known_at`) asks the reference instead."""
    scope = checked_scope(scope)
    if scope.known_at is not None or exact:
        return reference_report(ledger, scope, config)
    table = AccountTable(ledger, config)
    position = table.position()
    registry = rule_registry(ledger, None)
    as_of = format_time(scope.as_of)
    where = Where(
        as_of, covered_recipients(table, registry.parent, scope), scope.programme, scope.category
    )
    serials = table.issued_twice(as_of)
    totals = {
        r: [issued, issued - lost, held, overdue, independent, self_reported]
        for r, issued, lost, held, overdue, independent, self_reported in table.tally(where)
    }
    listed = [
        (
            row.issued_log_index,
            _account_of_row(
                row, as_of, _twins(serials, row.normalised_serial, row.issued_log_index)
            ),
        )
        for row in table.settled_unaccounted(where)
    ]
    for row in table.unsettled(where):
        account = _unsettled_account(
            ledger,
            row,
            scope,
            config,
            registry,
            _twins(serials, row.normalised_serial, row.issued_log_index),
        )
        _count(totals, account)
        if account.unaccounted:
            listed.append((row.issued_log_index, account))
    rates = [RecipientRates(r, *totals[r]) for r in sorted(totals)]
    return UnaccountedReport(scope, [account for _, account in sorted(listed)], rates, position)


def reference_report(ledger: Ledger, scope: Scope, config: PolicyConfig) -> UnaccountedReport:
    """The report tallied from `reference_accounts`, one item at a time."""
    size = ledger.log_store.log_size()
    totals: dict[str, list[int]] = {}
    unaccounted = []
    for account in reference_accounts(ledger, scope, config):
        _count(totals, account)
        if account.unaccounted:
            unaccounted.append(account)
    rates = [RecipientRates(r, *totals[r]) for r in sorted(totals)]
    return UnaccountedReport(checked_scope(scope), unaccounted, rates, size)


def _count(totals: dict[str, list[int]], account: ItemAccount) -> None:
    """issued, accounted, in custody, overdue, verified independently, self-reported"""
    row = totals.setdefault(account.recipient, [0, 0, 0, 0, 0, 0])
    row[0] += 1
    row[1] += not account.unaccounted
    row[2] += account.status == "in_custody"
    row[3] += account.overdue
    row[4] += account.verified_independently
    row[5] += account.self_reported


def findings(
    ledger: Ledger, scope: Scope, config: PolicyConfig, *, exact: bool = False
) -> list[Finding]:
    scoped = list(accounts(ledger, scope, config, exact=exact))
    traced = trace_findings(ledger, scope.as_of, {a.item_id for a in scoped})
    return [f for account in scoped for f in account.findings] + traced


def scope_for(actor: Actor, scope: Scope) -> Scope:
    """A partner sees the items issued to it and its units only; every other role sees all
    (ledger/application/scope.py)."""
    return replace(scope, recipient=recipient_for(actor, scope.recipient))


def checked_scope(scope: Scope) -> Scope:
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
        facts = _facts_as_of(ledger, item_id, scope)
        if facts is not None:
            yield item_id, facts


def _facts_as_of(ledger: Ledger, item_id: UUID, scope: Scope) -> tuple[Fact, ...] | None:
    """The item's facts the rules read: its issue, then what occurred by the date (as known at
    `known_at`) in field-time order; None if it was not issued by then."""
    return _chosen(ledger.facts(item_id), scope)


def _chosen(all_facts: Sequence[Fact], scope: Scope) -> tuple[Fact, ...] | None:
    """`_facts_as_of` of the item whose facts these are."""
    facts = [f for f in all_facts if _known(f, scope) and f.occurred_at <= scope.as_of]
    issued = [f for f in facts if f.kind == "Issued"]
    if not issued:
        return None
    rest = sorted(
        (f for f in facts if f.kind != "Issued"), key=lambda f: (f.occurred_at, f.log_index)
    )
    return (issued[0], *rest)


def _known(fact: Fact, scope: Scope) -> bool:
    return scope.known_at is None or fact.recorded_at <= scope.known_at


def _wanted(parent: Parents, scope: Scope, programme: str, category: str, recipient: str) -> bool:
    """In the scope's programme and category, and issued to its recipient or one of its units."""
    if scope.programme and programme != scope.programme:
        return False
    if scope.category and category != scope.category:
        return False
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


@dataclass(frozen=True)
class RuleRegistry:
    """The registry as the rules read it, each party and agreement looked up once per run."""

    registration: Registration
    authorized: Callable[[str], Callable[[str], bool]]

    def parent(self, party: str) -> str | None:
        found = self.registration(party)
        return found[1] if found is not None else None

    def case(
        self, item_id: UUID, facts: tuple[Fact, ...], as_of: datetime, twins: Sequence[int] = ()
    ) -> Case:
        agreement = str(facts[0].fields["agreement"])
        return Case(item_id, facts, as_of, self.authorized(agreement), twins, self.registration)


def rule_registry(ledger: Ledger, known_at: datetime | None) -> RuleRegistry:
    registration = registrations(ledger, known_at)

    def parent(party: str) -> str | None:
        found = registration(party)
        return found[1] if found is not None else None

    return RuleRegistry(registration, _authorizer(ledger, parent))


def registrations(ledger: Ledger, known_at: datetime | None) -> Registration:
    """party -> (kind, parent force) as known at `known_at`, looked up once per run. A party not
    registered by then is unknown: free text, like an armed group seen holding an item."""

    @cache
    def registration(party: str) -> tuple[str, str | None] | None:
        try:
            found = ledger.party(party)
        except (NotFound, InvalidInput):
            return None
        if known_at is not None and found.registered_at > known_at:
            return None
        return found.kind.value, found.parent

    return registration


def account_of_case(case: Case, config: PolicyConfig) -> ItemAccount:
    issued = case.issued.fields
    status, found = case_findings(case, config)
    independent, self_reported = verified_since(case)
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
        verified_independently=independent is not None,
        self_reported=self_reported is not None,
        issued_log_index=case.issued.log_index,
    )


def case_findings(case: Case, config: PolicyConfig) -> tuple[str, tuple[Finding, ...]]:
    """The item's status and the findings begun by the case's date (in rule order): what an
    account holds besides its marking and holder, and what a month row is made of
    (policies/months.py)."""
    status = "lost" if case.open_loss() else "disposed" if case.disposal() else "in_custody"
    found = tuple(f for rule in RULES.values() for f in rule(case, config) if f.since <= case.as_of)
    return status, found


def verified_since(case: Case) -> tuple[datetime | None, datetime | None]:
    """When the item was first verified by an independent party, and first by a self-report
    (a verified inspection recorded by the holder's side), among the case's facts."""
    independent: list[datetime] = []
    holders: list[datetime] = []
    for fact in case.of("Inspected"):
        if fact.fields["result"] == "verified":
            (independent if case.independent(fact) else holders).append(fact.occurred_at)
    return min(independent, default=None), min(holders, default=None)


def _account_of_row(row: StoredAccount, as_of: str, twins: list[int]) -> ItemAccount:
    """The account from the stored row: the findings begun by the date, and the duplicate
    serials in their place among them (after the other serial findings)."""
    found = row.begun(as_of)
    if twins:
        item_id, issued_at = UUID(row.item_id), datetime.fromisoformat(row.issued_at)
        at = next((i for i, f in enumerate(found) if f.rule == "disposal_unverified"), len(found))
        found.insert(
            at,
            duplicate_serial(
                item_id, issued_at, row.issued_log_index, row.normalised_serial, twins
            ),
        )
    return ItemAccount(
        UUID(row.item_id),
        row.serial,
        row.category,
        row.programme,
        row.agreement,
        row.recipient,
        row.holder,
        row.status,
        tuple(found),
        verified_independently=row.verified_from is not None and row.verified_from <= as_of,
        self_reported=row.self_reported_from is not None and row.self_reported_from <= as_of,
        issued_log_index=row.issued_log_index,
    )


def _stored(
    item_id: UUID,
    all_facts: Sequence[Fact],
    config: PolicyConfig,
    policy: str,
    size: int,
    registry: RuleRegistry,
) -> StoredAccount:
    """An item's row: its account over all its facts as of FOREVER, without duplicate serials."""
    facts = _chosen(all_facts, Scope(as_of=FOREVER))
    assert facts is not None
    fields = facts[0].fields
    case = registry.case(item_id, facts, FOREVER)
    account = account_of_case(case, config)
    marking = {k: str(fields[k]) for k in MARKING}
    return stored(
        account.findings,
        policy=policy,
        computed_at=size,
        item_id=item_id,
        marking=marking,
        holder=account.holder,
        status=account.status,
        issued=(facts[0].occurred_at, facts[0].log_index),
        last_at=max(f.occurred_at for f in facts),
        verified=verified_since(case),
    )
