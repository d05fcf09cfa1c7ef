"""Findings that only independent evidence clears (docs/policies.md, "Independence"), on SQLite
and PostgreSQL: the holder's own word (a self-report, its own recovery) is recorded and shown, and
never clears what an independent party found. Independence is judged by the entry's `actor` and
its kind and parent in the registry, never by a field the actor fills in.

Field time: day n of 2025, recorded an hour later (as in tests/policies/test_policy_rules.py).
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import pytest

from ledger.application.ledger import Ledger
from ledger.domain.access import Actor
from ledger.domain.errors import Unauthorised
from ledger.domain.tokens import Role
from policies.config import PolicyConfig
from policies.engine import Scope, accounts, reference_report, unaccounted_report
from policies.findings import INDEPENDENT_KINDS, Finding, Severity
from policies.flags import flag_views, raise_findings
from policies.following import follower_of
from policies.rules import RULES
from tests.conftest import Clock
from tests.days import T0, day, inspect, issue, on, sight
from tests.programme import ADMIN, INSPECTOR, register

HOLDER = Actor("unit-1", Role.PARTNER)
FORCE = Actor("force", Role.PARTNER)
OVERSIGHT = Actor("auditor", Role.OVERSIGHT)
DEFAULTS = PolicyConfig()
# Who records a verified inspection (`by`: the party the entry speaks for), and whether it clears.
INDEPENDENT = ["inspectorate", "supplier", "auditor", "investigator"]
NOT_INDEPENDENT = ["unit-1", "force", "unit-2", "outsider", "force-inspection-team"]


@pytest.fixture
def ledger(store_ledger: Ledger, clock: Clock) -> Ledger:
    """Followed after every save, as a server follows the Ledger it serves (api/follower.py)."""
    clock.now = day(-1)
    store_ledger.after_save.append(follower_of(store_ledger, DEFAULTS).catch_up)
    register(store_ledger)
    store_ledger.register_party(party_id="auditor", name="Auditor", kind="oversight", actor=ADMIN)
    store_ledger.register_party(  # an inspection team of the partner force: not independent
        party_id="force-inspection-team",
        name="The force's own inspectors",
        kind="inspector",
        parent="force",
        actor=ADMIN,
    )
    return store_ledger


def self_report(
    ledger: Ledger,
    clock: Clock,
    item: UUID,
    n: float,
    result: str = "verified",
    *,
    actor: Actor = HOLDER,
) -> int:
    """A self-report on day n that a partner records for itself: the holder unless `actor` says
    otherwise."""
    return inspect(ledger, clock, item, n, result, method="self_report", by=None, actor=actor)


def rules_found(ledger: Ledger, item: UUID, n: float) -> list[tuple[str, bool]]:
    return [
        (f.rule, f.unaccounted)
        for a in accounts(ledger, Scope(as_of=day(n)), DEFAULTS)
        if a.item_id == item
        for f in a.findings
    ]


def open_rules(ledger: Ledger, n: float) -> list[str]:
    current = [f for a in accounts(ledger, Scope(as_of=day(n)), DEFAULTS) for f in a.findings]
    return [v.finding.rule for v in flag_views(ledger, current) if v.open]


# The issue's case: a holder clears its own findings ----------------------------------------------


def test_the_holders_later_verified_self_report_leaves_the_item_unaccounted_and_the_flag_open(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    inspect(ledger, clock, item, 30, "not_presented")
    current = [f for a in accounts(ledger, Scope(day(31)), DEFAULTS) for f in a.findings]
    raise_findings(ledger, current, actor=ADMIN)

    self_report(ledger, clock, item, 40)

    assert rules_found(ledger, item, 41) == [("failed_inspection", True)]
    assert open_rules(ledger, 41) == ["failed_inspection"]
    (account,) = accounts(ledger, Scope(as_of=day(41)), DEFAULTS)
    assert account.unaccounted


def test_a_partner_naming_the_inspectorate_as_inspector_is_refused_and_the_item_stays_unaccounted(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    inspect(ledger, clock, item, 30, "not_presented")

    with pytest.raises(
        Unauthorised,
        match="may record inspections only by itself or its units, not by inspectorate",
    ) as refused:
        inspect(ledger, clock, item, 40, method="self_report", by="inspectorate", actor=HOLDER)

    assert refused.value.message == (
        "unit-1 may record inspections only by itself or its units, not by inspectorate"
    )
    assert rules_found(ledger, item, 41) == [("failed_inspection", True)]


def test_an_independent_verified_inspection_clears_the_finding_and_the_item_is_accounted_for(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    inspect(ledger, clock, item, 30, "not_presented")
    self_report(ledger, clock, item, 40)

    inspect(ledger, clock, item, 50, by=None, actor=INSPECTOR)

    assert rules_found(ledger, item, 51) == []


def test_a_self_report_clears_the_holders_own_failed_self_report(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    self_report(ledger, clock, item, 30, "damaged")
    assert rules_found(ledger, item, 31) == [("failed_inspection", False)]

    self_report(ledger, clock, item, 40)

    assert rules_found(ledger, item, 41) == []


# Every clearable rule: who may clear it and who may not ------------------------------------------


def failed(ledger: Ledger, clock: Clock, item: UUID) -> None:
    inspect(ledger, clock, item, 30, "not_presented")


def overdue(ledger: Ledger, clock: Clock, item: UUID) -> None:
    on(clock, 100)  # nothing verified it for 100 days: overdue from day 92


def sighted(ledger: Ledger, clock: Clock, item: UUID) -> None:
    sight(ledger, clock, item, 30, held_by="outsider")


def recovered_by_the_holder(ledger: Ledger, clock: Clock, item: UUID) -> None:
    ledger.report_lost(item, circumstances="stolen", occurred_at=on(clock, 20), actor=HOLDER)
    ledger.recover(item, by="unit-1", occurred_at=on(clock, 30), actor=HOLDER)


CASES: dict[str, tuple[Callable[[Ledger, Clock, UUID], None], str, list[tuple[str, bool]]]] = {
    # case: (arrange, rule, the rule's findings once cleared)
    "failed_inspection": (failed, "failed_inspection", []),
    "inspection_overdue": (overdue, "inspection_overdue", []),
    # the sighting stays on record; it no longer makes the item unaccounted
    "diversion_by_sighting": (sighted, "diversion", [("diversion", False)]),
    "lost_then_recovered_by_the_holder": (recovered_by_the_holder, "lost", []),
}


def arranged(ledger: Ledger, clock: Clock, case: str) -> tuple[UUID, str, list[tuple[str, bool]]]:
    """An item brought into `case`: the item, the rule it raises, and what an independent
    verified inspection leaves of that rule."""
    item = issue(ledger, clock)
    arrange, rule, cleared = CASES[case]
    arrange(ledger, clock, item)
    return item, rule, cleared


@pytest.mark.parametrize("by", INDEPENDENT)
@pytest.mark.parametrize("case", list(CASES))
def test_a_verified_inspection_by_an_independent_party_clears_the_finding(
    ledger: Ledger, clock: Clock, case: str, by: str
) -> None:
    item, rule, cleared = arranged(ledger, clock, case)
    before = [f for f in rules_found(ledger, item, 101) if f[0] == rule]

    inspect(ledger, clock, item, 101, by=by)

    assert before not in ([], cleared)
    assert [f for f in rules_found(ledger, item, 102) if f[0] == rule] == cleared


@pytest.mark.parametrize("by", NOT_INDEPENDENT)
@pytest.mark.parametrize("case", list(CASES))
def test_a_verified_inspection_by_the_holder_its_force_or_another_recipient_clears_nothing(
    ledger: Ledger, clock: Clock, case: str, by: str
) -> None:
    item, rule, _ = arranged(ledger, clock, case)
    before = rules_found(ledger, item, 101)

    inspect(ledger, clock, item, 101, by=by)

    assert rule in [r for r, _ in before]
    assert [f for f in rules_found(ledger, item, 102) if f[0] == rule] == [
        f for f in before if f[0] == rule
    ]


def test_a_self_report_by_the_holders_parent_force_clears_none_of_them(
    ledger: Ledger, clock: Clock
) -> None:
    items = []
    for arrange, _, _ in CASES.values():
        item = issue(ledger, clock, f"AK-{len(items)}")
        arrange(ledger, clock, item)
        items.append(item)
    before = [rules_found(ledger, item, 101) for item in items]

    for item in items:
        self_report(ledger, clock, item, 101, actor=FORCE)

    assert [rules_found(ledger, item, 102) for item in items] == before


def test_an_inspector_kind_party_of_the_holders_own_force_is_not_independent(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    failed(ledger, clock, item)

    inspect(ledger, clock, item, 40, by="force-inspection-team")

    assert rules_found(ledger, item, 41) == [("failed_inspection", True)]


STANDING = [
    "late_loss_report",
    "late_discovery",
    "after_loss",
    "after_disposal",
    "missing_serial",
    "duplicate_serial",
    "disposal_unverified",
]


def test_every_finding_says_what_may_clear_it_and_by_which_kinds_of_party() -> None:
    clearing = {
        rule: Finding(rule, UUID(int=0), Severity.LOW, T0, (), "").cleared_by_kinds
        for rule in ["lost", "failed_inspection", "inspection_overdue", "diversion", *STANDING]
    }

    assert clearing == {
        "lost": INDEPENDENT_KINDS,
        "failed_inspection": INDEPENDENT_KINDS,
        "inspection_overdue": INDEPENDENT_KINDS,
        "diversion": INDEPENDENT_KINDS,
        **dict.fromkeys(STANDING, ()),
    }
    assert set(INDEPENDENT_KINDS) == {"inspector", "supplier", "oversight", "investigator"}
    assert len(RULES) == 8  # the rules above are every rule's findings


def test_a_late_loss_report_and_a_late_discovery_stand_after_an_independent_inspection(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    clock.now = day(200)
    ledger.report_lost(
        item, circumstances="missing", occurred_at=day(150), discovered_at=day(150), actor=ADMIN
    )
    ledger.recover(item, by="unit-1", occurred_at=on(clock, 201), actor=ADMIN)

    inspect(ledger, clock, item, 202)

    assert rules_found(ledger, item, 203) == [
        ("late_loss_report", False),
        ("late_discovery", False),
    ]


# Rates per recipient: independent and self-reported verification apart ---------------------------


def test_the_rates_count_independently_verified_and_self_reported_items_apart(
    ledger: Ledger, clock: Clock
) -> None:
    items = [issue(ledger, clock, serial) for serial in ("A-1", "A-2", "A-3")]
    inspect(ledger, clock, items[0], 10)
    self_report(ledger, clock, items[1], 10)
    self_report(ledger, clock, items[2], 10)
    inspect(ledger, clock, items[2], 60)

    early = unaccounted_report(ledger, Scope(as_of=day(30)), DEFAULTS).recipients
    later = unaccounted_report(ledger, Scope(as_of=day(100)), DEFAULTS).recipients

    assert [(r.verified_independently, r.self_reported, r.overdue) for r in early] == [(1, 2, 0)]
    assert [(r.verified_independently, r.self_reported, r.overdue) for r in later] == [(2, 2, 1)]
    assert later == reference_report(ledger, Scope(as_of=day(100)), DEFAULTS).recipients
    assert (later[0].independent_verification_rate, later[0].self_report_rate) == (2 / 3, 2 / 3)


def test_serial_findings_and_a_contradiction_stand_after_an_independent_inspection(
    ledger: Ledger, clock: Clock
) -> None:
    blank = issue(ledger, clock, "REG-1", registry_serial=True)
    twin = issue(ledger, clock, "REG-1", model="M2")
    moved = issue(ledger, clock)
    ledger.transfer(moved, to="unit-2", occurred_at=on(clock, 35), actor=ADMIN)
    ledger.report_lost(moved, circumstances="lost", occurred_at=day(30), actor=ADMIN)
    ledger.recover(moved, by="unit-2", occurred_at=on(clock, 40), actor=ADMIN)
    before = {item: rules_found(ledger, item, 41) for item in (blank, twin, moved)}

    for item in (blank, twin, moved):
        inspect(ledger, clock, item, 41)

    after = {item: rules_found(ledger, item, 42) for item in (blank, twin, moved)}
    assert ("missing_serial", False) in before[blank] and ("duplicate_serial", False) in before[
        twin
    ]
    assert ("after_loss", False) in before[moved]
    assert ("missing_serial", False) in after[blank]
    assert ("duplicate_serial", False) in after[twin]
    assert ("after_loss", False) in after[moved]
