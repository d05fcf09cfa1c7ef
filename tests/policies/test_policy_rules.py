"""Every policy rule, one item at a time, on an in-memory ledger with a clock the test moves.

Field time starts at T0 (day 0). `on(clock, n)` moves the clock to just after day n and answers day
n, so an event dated on day n is recorded an hour later; a late record moves the clock further.
Each test asserts the exact findings the engine answers for the item: rule, severity, since,
evidence (log indexes from the item's history), detail and whether it makes the item unaccounted.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from ledger.application.ledger import Ledger
from ledger.domain.errors import InvalidInput
from policies.config import SENSITIVE_DEFAULT, PolicyConfig, load_policy
from policies.engine import RecipientRates, Scope, accounts, unaccounted_report
from policies.findings import Finding, Severity
from policies.following import follower_of
from tests.conftest import Clock
from tests.days import day, dispose, inspect, issue, lose, on, sight
from tests.programme import ADMIN, conclude_agreement, register

DEFAULTS = PolicyConfig()
HIGH = Severity.HIGH


@pytest.fixture
def ledger(ledger: Ledger, clock: Clock) -> Ledger:
    """Followed after every save, as a server follows the Ledger it serves (api/follower.py):
    the stored accounts answer as they are, and nothing else catches them up."""
    clock.now = day(-1)
    register(ledger)
    ledger.after_save.append(follower_of(ledger, DEFAULTS).catch_up)
    return ledger


def indexes(ledger: Ledger, item: UUID) -> list[int]:
    return [row.log_index for row in ledger.history(item)]


def found(
    ledger: Ledger,
    item: UUID,
    as_of: datetime,
    *,
    known_at: datetime | None = None,
    config: PolicyConfig = DEFAULTS,
    **scope: str,
) -> list[Finding]:
    chosen = Scope(as_of=as_of, known_at=known_at, **scope)
    follower_of(ledger, config).catch_up()  # a policy file of its own has its own accounts
    return [f for a in accounts(ledger, chosen, config) if a.item_id == item for f in a.findings]


def finding(
    rule: str,
    item: UUID,
    severity: Severity,
    since: datetime,
    evidence: tuple[int, ...],
    detail: str,
    *,
    unaccounted: bool = False,
) -> Finding:
    return Finding(rule, item, severity, since, evidence, detail, unaccounted)


def lost_finding(
    item: UUID, since: datetime, loss: int, circumstances: str = "lost", severity: Severity = HIGH
) -> Finding:
    """The finding of a loss reported in entry `loss` and not recovered."""
    detail = f"reported {circumstances} and not recovered"
    return finding("lost", item, severity, since, (loss,), detail, unaccounted=True)


def failed_finding(
    item: UUID,
    since: datetime,
    evidence: tuple[int, ...],
    results: str,
    severity: Severity = HIGH,
    *,
    unaccounted: bool = True,
) -> Finding:
    """The finding of the failed inspections `evidence` (their `results`, comma-separated)."""
    detail = f"inspection found: {results}"
    return finding(
        "failed_inspection", item, severity, since, evidence, detail, unaccounted=unaccounted
    )


def diversion_finding(
    item: UUID, since: datetime, evidence: int, how: str, *, unaccounted: bool
) -> Finding:
    """The finding of the item `how` (in the custody of, or seen with, a party) not authorized by
    eua-1, since entry `evidence`."""
    detail = f"{how}, not authorized by agreement eua-1"
    return finding(
        "diversion", item, Severity.CRITICAL, since, (evidence,), detail, unaccounted=unaccounted
    )


def overdue_finding(item: UUID, since: datetime, last: int, verified: str, every: int) -> Finding:
    """The finding of an inspection due every `every` days and overdue since `since`, counted from
    entry `last`, verified on the date `verified` ("issue on <date>" when it is the issue)."""
    detail = f"no verified inspection since {verified}; due every {every} days"
    return finding("inspection_overdue", item, Severity.MEDIUM, since, (last,), detail)


def late_report_finding(item: UUID, since: datetime, loss: int, days: int) -> Finding:
    """The finding of the loss in entry `loss`, recorded `days` days after its discovery."""
    detail = f"recorded {days} days after its discovery"
    return finding("late_loss_report", item, Severity.MEDIUM, since, (loss,), detail)


def after_loss_finding(
    item: UUID, since: datetime, evidence: tuple[int, int], event: str
) -> Finding:
    """The finding of an `event` (its type: Transferred, Inspected ...) dated after the loss."""
    detail = f"{event} dated after the loss, before any recovery"
    return finding("after_loss", item, HIGH, since, evidence, detail)


def after_disposal_finding(
    item: UUID, since: datetime, evidence: tuple[int, int], event: str
) -> Finding:
    """The finding of an `event` (its type: Inspected, Sighted ...) dated after the disposal."""
    detail = f"{event} dated after the disposal"
    return finding("after_disposal", item, HIGH, since, evidence, detail)


# Lost, stolen, captured, missing: unaccounted until recovered ---------------------------------


@pytest.mark.parametrize(
    ("circumstances", "severity"),
    [
        ("stolen", Severity.CRITICAL),
        ("captured", Severity.CRITICAL),
        ("lost", Severity.HIGH),
        ("missing", Severity.HIGH),
        ("destroyed_in_action", Severity.MEDIUM),
    ],
)
def test_a_loss_not_recovered_makes_the_item_unaccounted_with_the_loss_as_evidence(
    ledger: Ledger, clock: Clock, circumstances: str, severity: Severity
) -> None:
    item = issue(ledger, clock)
    lose(ledger, clock, item, 40, circumstances)

    findings = found(ledger, item, day(200))

    loss = indexes(ledger, item)[1]
    assert findings == [lost_finding(item, day(40), loss, circumstances, severity)]


def test_a_recovery_verified_by_an_independent_inspection_ends_the_loss_from_that_day(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    loss = lose(ledger, clock, item, 40, "stolen")
    ledger.recover(item, by="unit-2", occurred_at=on(clock, 60), actor=ADMIN)
    inspect(ledger, clock, item, 60)

    during, after = found(ledger, item, day(59)), found(ledger, item, day(61))

    assert during == [lost_finding(item, day(40), loss, "stolen", Severity.CRITICAL)]
    assert after == []


# Failed inspections ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "severity", "unaccounted"),
    [
        ("serial_mismatch", Severity.HIGH, True),
        ("not_presented", Severity.HIGH, True),
        ("location_mismatch", Severity.MEDIUM, False),
        ("damaged", Severity.LOW, False),
    ],
)
def test_a_failed_inspection_is_a_finding_and_a_missing_item_is_unaccounted(
    ledger: Ledger, clock: Clock, result: str, severity: Severity, unaccounted: bool
) -> None:
    item = issue(ledger, clock)
    failed = inspect(ledger, clock, item, 30, result)

    findings = found(ledger, item, day(40))

    assert findings == [
        failed_finding(item, day(30), (failed,), result, severity, unaccounted=unaccounted)
    ]


def test_failures_since_the_last_verified_inspection_make_one_finding_at_the_worst_severity(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    inspect(ledger, clock, item, 10)
    damaged = inspect(ledger, clock, item, 20, "damaged")
    absent = inspect(ledger, clock, item, 30, "not_presented")

    findings = found(ledger, item, day(40))

    assert findings == [failed_finding(item, day(20), (damaged, absent), "damaged, not_presented")]


def test_a_later_verified_inspection_clears_a_failure(ledger: Ledger, clock: Clock) -> None:
    item = issue(ledger, clock)
    failed = inspect(ledger, clock, item, 20, "serial_mismatch")
    inspect(ledger, clock, item, 30)

    before, after = found(ledger, item, day(29)), found(ledger, item, day(30))

    assert before == [failed_finding(item, day(20), (failed,), "serial_mismatch")]
    assert after == []


# Inspections overdue -----------------------------------------------------------------------------


def test_a_never_inspected_item_is_overdue_92_days_after_its_issue_and_not_a_moment_before(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    issued = indexes(ledger, item)[0]

    exactly = found(ledger, item, day(92))
    just_after = found(ledger, item, day(92) + timedelta(seconds=1))
    a_day_after = found(ledger, item, day(93))

    overdue = overdue_finding(item, day(92), issued, "issue on 2025-01-01", 92)
    assert exactly == []
    assert just_after == [overdue]
    assert a_day_after == [overdue]


def test_the_92_days_count_from_the_last_verified_inspection_and_a_failed_one_does_not_reset_them(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    verified = inspect(ledger, clock, item, 50)
    damaged = inspect(ledger, clock, item, 100, "damaged")

    on_the_day, a_day_late = found(ledger, item, day(142)), found(ledger, item, day(143))

    failure = finding(
        "failed_inspection",
        item,
        Severity.LOW,
        day(100),
        (damaged,),
        "inspection found: damaged",
    )
    assert on_the_day == [failure]
    assert a_day_late == [
        failure,
        overdue_finding(item, day(142), verified, "2025-02-20", 92),
    ]


@pytest.mark.parametrize("category", sorted(SENSITIVE_DEFAULT))
def test_a_sensitive_item_needs_an_initial_inventory_within_90_days_then_one_a_year(
    ledger: Ledger, clock: Clock, category: str
) -> None:
    never = issue(ledger, clock, "S-1", category=category)
    once = issue(ledger, clock, "S-2", category=category)
    verified = inspect(ledger, clock, once, 60)

    initial = found(ledger, never, day(90)), found(ledger, never, day(91))
    annual = found(ledger, once, day(425)), found(ledger, once, day(426))

    assert initial == (
        [],
        [overdue_finding(never, day(90), indexes(ledger, never)[0], "issue on 2025-01-01", 90)],
    )
    assert annual == (
        [],
        [overdue_finding(once, day(425), verified, "2025-03-02", 365)],
    )


def test_a_lost_or_properly_disposed_item_is_never_overdue(ledger: Ledger, clock: Clock) -> None:
    lost = issue(ledger, clock, "L-1")
    disposed = issue(ledger, clock, "D-1")
    loss = lose(ledger, clock, lost, 10)
    dispose(ledger, clock, disposed, 10)

    findings = found(ledger, lost, day(400)), found(ledger, disposed, day(400))

    assert findings == (
        [lost_finding(lost, day(10), loss)],
        [],
    )


# Diversion ---------------------------------------------------------------------------------------


def test_a_transfer_to_a_party_outside_the_agreement_is_a_diversion_while_it_holds_the_item(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    out = ledger.transfer(item, to="outsider", occurred_at=on(clock, 20), actor=ADMIN).log_index
    ledger.transfer(item, to="unit-1", occurred_at=on(clock, 30), actor=ADMIN)

    while_there, after_return = found(ledger, item, day(25)), found(ledger, item, day(35))

    held = "in the custody of outsider"
    assert while_there == [diversion_finding(item, day(20), out, held, unaccounted=True)]
    assert after_return == [diversion_finding(item, day(20), out, held, unaccounted=False)]


@pytest.mark.parametrize("to", ["unit-2", "force"])
def test_a_transfer_within_the_agreement_is_no_finding(
    ledger: Ledger, clock: Clock, to: str
) -> None:
    item = issue(ledger, clock)
    ledger.transfer(item, to=to, occurred_at=on(clock, 20), actor=ADMIN)

    assert found(ledger, item, day(30)) == []


def test_an_issue_to_a_party_outside_the_agreement_is_a_diversion_from_the_issue(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock, recipient="outsider")

    findings = found(ledger, item, day(10))

    issued = indexes(ledger, item)[0]
    assert findings == [
        diversion_finding(item, day(0), issued, "in the custody of outsider", unaccounted=True)
    ]


def test_a_sighting_with_an_unauthorized_party_is_unaccounted_until_a_later_verified_inspection(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    seen = sight(ledger, clock, item, 40, held_by="Armed group X", location="Market town")
    inspect(ledger, clock, item, 60)

    before, after = found(ledger, item, day(50)), found(ledger, item, day(70))

    held = "seen with Armed group X"
    assert before == [diversion_finding(item, day(40), seen, held, unaccounted=True)]
    assert after == [diversion_finding(item, day(40), seen, held, unaccounted=False)]


@pytest.mark.parametrize("held_by", ["unit-3", None])
def test_a_sighting_with_an_authorized_holder_or_with_nobody_named_is_no_finding(
    ledger: Ledger, clock: Clock, held_by: str | None
) -> None:
    item = issue(ledger, clock)
    sight(ledger, clock, item, 40, held_by=held_by, location="Depot")

    assert found(ledger, item, day(50)) == []


# Losses reported late ----------------------------------------------------------------------------


def test_a_loss_recorded_30_days_after_its_discovery_is_on_time_and_31_days_is_late(
    ledger: Ledger, clock: Clock
) -> None:
    on_time, late = issue(ledger, clock, "A-1"), issue(ledger, clock, "A-2")
    in_time_loss = lose(ledger, clock, on_time, 40, recorded=70)
    late_loss = lose(ledger, clock, late, 40, recorded=71)

    findings = found(ledger, on_time, day(80)), found(ledger, late, day(80))

    assert findings == (
        [lost_finding(on_time, day(40), in_time_loss)],
        [
            lost_finding(late, day(40), late_loss),
            late_report_finding(late, day(70), late_loss, 31),
        ],
    )


def test_a_late_loss_report_stays_on_record_after_the_recovery(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    loss = lose(ledger, clock, item, 40, "missing", discovered=50, recorded=100)
    ledger.recover(item, by="unit-1", occurred_at=on(clock, 110), actor=ADMIN)
    inspect(ledger, clock, item, 110)

    findings = found(ledger, item, day(120))

    assert findings == [
        late_report_finding(item, day(80), loss, 50),
    ]


def test_a_discovery_92_days_after_the_last_verified_inspection_is_on_time_and_93_is_late(
    ledger: Ledger, clock: Clock
) -> None:
    on_time, late = issue(ledger, clock, "A-1"), issue(ledger, clock, "A-2")
    inspect(ledger, clock, on_time, 10)
    verified = inspect(ledger, clock, late, 10)
    in_time_loss = lose(ledger, clock, on_time, 50, discovered=102)
    late_loss = lose(ledger, clock, late, 50, discovered=103)

    findings = found(ledger, on_time, day(110)), found(ledger, late, day(110))

    assert findings == (
        [lost_finding(on_time, day(50), in_time_loss)],
        [
            lost_finding(late, day(50), late_loss),
            finding(
                "late_discovery",
                late,
                Severity.MEDIUM,
                day(102),
                (verified, late_loss),
                "discovered 93 days after it was last verified",
            ),
        ],
    )


def test_a_never_inspected_items_discovery_gap_counts_from_its_issue(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    loss = lose(ledger, clock, item, 80, "stolen", discovered=100)

    findings = found(ledger, item, day(110))

    assert findings == [
        lost_finding(item, day(80), loss, "stolen", Severity.CRITICAL),
        finding(
            "late_discovery",
            item,
            Severity.MEDIUM,
            day(92),
            (indexes(ledger, item)[0], loss),
            "discovered 100 days after its issue, never verified",
        ),
    ]


# Contradicting events ----------------------------------------------------------------------------


def test_a_transfer_dated_after_a_loss_recorded_later_is_a_contradiction(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    moved = ledger.transfer(item, to="unit-2", occurred_at=on(clock, 50), actor=ADMIN).log_index
    loss = lose(ledger, clock, item, 40, recorded=55)

    findings = found(ledger, item, day(60))

    assert findings == [
        lost_finding(item, day(40), loss),
        after_loss_finding(item, day(50), (moved, loss), "Transferred"),
    ]


@pytest.mark.parametrize(
    ("result", "severity", "missing", "contradicts"),
    [
        ("not_presented", Severity.HIGH, True, False),
        ("serial_mismatch", Severity.HIGH, True, True),
        ("location_mismatch", Severity.MEDIUM, False, True),
        ("damaged", Severity.LOW, False, True),
        ("verified", None, False, True),
    ],
)
def test_an_inspection_dated_after_a_loss_contradicts_it_unless_it_found_the_item_not_presented(
    ledger: Ledger,
    clock: Clock,
    result: str,
    severity: Severity | None,
    missing: bool,
    contradicts: bool,
) -> None:
    item = issue(ledger, clock)
    inspected = inspect(ledger, clock, item, 50, result)
    loss = lose(ledger, clock, item, 40, "stolen", recorded=55)

    findings = found(ledger, item, day(60))

    expected = [lost_finding(item, day(40), loss, "stolen", Severity.CRITICAL)]
    if severity is not None:
        expected.append(
            failed_finding(item, day(50), (inspected,), result, severity, unaccounted=missing)
        )
    if contradicts:
        expected.append(after_loss_finding(item, day(50), (inspected, loss), "Inspected"))
    assert findings == expected


def test_a_receipt_dated_after_a_loss_is_a_contradiction_even_after_a_not_presented_one(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    absent = inspect(ledger, clock, item, 45, "not_presented")
    received = ledger.receive(item, occurred_at=on(clock, 50), actor=ADMIN).log_index
    loss = lose(ledger, clock, item, 40, recorded=55)

    findings = found(ledger, item, day(60))

    assert findings == [
        lost_finding(item, day(40), loss),
        failed_finding(item, day(45), (absent,), "not_presented"),
        after_loss_finding(item, day(50), (received, loss), "Received"),
    ]


def test_a_not_presented_inspection_dated_after_a_disposal_is_still_a_contradiction(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    absent = inspect(ledger, clock, item, 50, "not_presented")
    disposed = dispose(ledger, clock, item, 40, certificate="CERT-4", recorded=55)

    findings = found(ledger, item, day(60))

    assert findings == [
        failed_finding(item, day(50), (absent,), "not_presented"),
        after_disposal_finding(item, day(50), (absent, disposed), "Inspected"),
    ]


def test_anything_but_a_correction_dated_after_the_disposal_is_a_contradiction(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    inspected = inspect(ledger, clock, item, 50)
    disposed = dispose(
        ledger, clock, item, 40, method="demilitarised", certificate="CERT-9", recorded=55
    )
    seen = sight(ledger, clock, item, 60, held_by="unit-1", location="Depot")
    ledger.correct(
        item,
        entry=inspected,
        reason="inspected the wrong crate",
        occurred_at=on(clock, 65),
        actor=ADMIN,
    )

    findings = found(ledger, item, day(70))

    assert findings == [
        after_disposal_finding(item, day(50), (inspected, disposed), "Inspected"),
        after_disposal_finding(item, day(60), (disposed, seen), "Sighted"),
    ]


# Serials -----------------------------------------------------------------------------------------


def test_a_registry_assigned_serial_is_a_missing_serial_finding(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock, "REG-000017", registry_serial=True)

    findings = found(ledger, item, day(10))

    assert findings == [
        finding(
            "missing_serial",
            item,
            Severity.LOW,
            day(0),
            (indexes(ledger, item)[0],),
            "no serial marked; the registry assigned one",
        )
    ]


def test_the_same_serial_issued_twice_is_a_duplicate_on_both_items_once_both_are_issued(
    ledger: Ledger, clock: Clock
) -> None:
    first = issue(ledger, clock, "AK-0001")
    second = issue(ledger, clock, "ak 0001", n=10, manufacturer="Other", recipient="unit-2")
    both = (indexes(ledger, first)[0], indexes(ledger, second)[0])

    before_the_second = found(ledger, first, day(5))
    after = found(ledger, first, day(20)), found(ledger, second, day(20))

    detail = "serial akoool was issued more than once"
    assert before_the_second == []
    assert after == (
        [finding("duplicate_serial", first, Severity.MEDIUM, day(0), both, detail)],
        [finding("duplicate_serial", second, Severity.MEDIUM, day(10), both, detail)],
    )


def test_an_items_duplicate_serial_finding_does_not_depend_on_the_recipient_filter(
    ledger: Ledger, clock: Clock
) -> None:
    first = issue(ledger, clock, "AK-0001")
    issue(ledger, clock, "AK 0001", manufacturer="Other", recipient="unit-2")

    everyone = found(ledger, first, day(20))
    unit_1 = found(ledger, first, day(20), recipient="unit-1")

    assert [f.rule for f in everyone] == ["duplicate_serial"]
    assert unit_1 == everyone


@pytest.mark.parametrize(
    "scope",
    [
        {"recipient": "unit-1"},
        {"recipient": "force"},
        {"programme": "Programme One"},
        {"category": "rifle"},
        {"recipient": "unit-1", "programme": "Programme One", "category": "rifle"},
    ],
    ids=["recipient", "parent_force", "programme", "category", "all_three"],
)
def test_duplicate_serials_are_looked_for_across_the_whole_fleet_whatever_the_filter(
    ledger: Ledger, clock: Clock, scope: dict[str, str]
) -> None:
    ledger.register_party(party_id="force-b", name="Force B", kind="recipient", actor=ADMIN)
    conclude_agreement(ledger, "eua-2", "Programme Two", ["force-b"])
    first = issue(ledger, clock, "AK-0001")
    twin = issue(
        ledger,
        clock,
        "ak 0001",
        n=5,
        manufacturer="Other",
        category="pistol",
        agreement="eua-2",
        recipient="force-b",
    )
    both = (indexes(ledger, first)[0], indexes(ledger, twin)[0])

    narrowed = list(accounts(ledger, Scope(as_of=day(20), known_at=None, **scope), DEFAULTS))

    assert [a.item_id for a in narrowed] == [first]
    assert list(narrowed[0].findings) == [
        finding(
            "duplicate_serial",
            first,
            Severity.MEDIUM,
            day(0),
            both,
            "serial akoool was issued more than once",
        )
    ]


def test_a_twin_recorded_after_known_at_is_not_a_duplicate_as_known_then(
    ledger: Ledger, clock: Clock
) -> None:
    first = issue(ledger, clock, "AK-0001")
    clock.now = day(30)
    issue(ledger, clock, "AK 0001", n=5, manufacturer="Other", model="M2", recipient="unit-2")

    before = found(ledger, first, day(20), known_at=day(29), recipient="unit-1")
    after = found(ledger, first, day(20), known_at=day(30), recipient="unit-1")

    assert before == []
    assert [(f.rule, len(f.evidence)) for f in after] == [("duplicate_serial", 2)]


# Disposals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("certificate", "witnesses", "problem"),
    [
        ("CERT-1", ["inspectorate", "supplier"], None),
        (None, ["inspectorate", "supplier"], "no certificate"),
        ("CERT-1", ["unit-1", "inspectorate"], "1 witnesses distinct from the holder"),
        ("CERT-1", ["inspectorate", "inspectorate"], "1 witnesses distinct from the holder"),
        (None, ["unit-1"], "no certificate and 0 witnesses distinct from the holder"),
    ],
)
def test_a_disposal_needs_a_certificate_and_two_witnesses_distinct_from_the_holder(
    ledger: Ledger, clock: Clock, certificate: str | None, witnesses: list[str], problem: str | None
) -> None:
    item = issue(ledger, clock)
    disposal = dispose(ledger, clock, item, 30, certificate=certificate, witnesses=witnesses)

    (account,) = [a for a in accounts(ledger, Scope(as_of=day(40)), DEFAULTS) if a.item_id == item]

    expected = [
        finding(
            "disposal_unverified",
            item,
            Severity.HIGH,
            day(30),
            (disposal,),
            f"disposal with {problem}",
        )
    ]
    assert list(account.findings) == (expected if problem else [])
    assert (account.status, account.unaccounted) == ("disposed", False)


# Rates per recipient -----------------------------------------------------------------------------


def test_the_delinquency_rate_counts_overdue_items_among_those_in_custody_on_the_date(
    ledger: Ledger, clock: Clock
) -> None:
    lost, disposed = issue(ledger, clock, "A-1"), issue(ledger, clock, "A-2")
    issue(ledger, clock, "A-3")  # never inspected: overdue from day 92
    inspect(ledger, clock, issue(ledger, clock, "A-4"), 50)
    gone = issue(ledger, clock, "B-1", recipient="unit-2")
    recovered = issue(ledger, clock, "C-1", recipient="unit-3")
    lose(ledger, clock, lost, 10)
    lose(ledger, clock, gone, 10)
    lose(ledger, clock, recovered, 10, "stolen")
    dispose(ledger, clock, disposed, 10, certificate="CERT-2")
    ledger.recover(recovered, by="unit-3", occurred_at=on(clock, 20), actor=ADMIN)
    inspect(ledger, clock, recovered, 20)  # an independent party verifies the holder's recovery

    early = unaccounted_report(ledger, Scope(as_of=day(5)), DEFAULTS).recipients
    later = unaccounted_report(ledger, Scope(as_of=day(100)), DEFAULTS).recipients

    assert early == [
        RecipientRates("unit-1", issued=4, accounted=4, in_custody=4, overdue=0),
        RecipientRates("unit-2", issued=1, accounted=1, in_custody=1, overdue=0),
        RecipientRates("unit-3", issued=1, accounted=1, in_custody=1, overdue=0),
    ]
    assert later == [
        RecipientRates(
            "unit-1", issued=4, accounted=3, in_custody=2, overdue=1, verified_independently=1
        ),
        RecipientRates("unit-2", issued=1, accounted=0, in_custody=0, overdue=0),
        RecipientRates(
            "unit-3", issued=1, accounted=1, in_custody=1, overdue=0, verified_independently=1
        ),
    ]
    assert [(r.accountability_rate, r.delinquency_rate) for r in later] == [
        (0.75, 0.5),
        (0.0, 0.0),
        (1.0, 0.0),
    ]


def test_with_nothing_issued_or_nothing_in_custody_the_rates_do_not_divide_by_zero() -> None:
    nothing = RecipientRates("unit-1", issued=0, accounted=0, in_custody=0, overdue=0)
    all_lost = RecipientRates("unit-2", issued=3, accounted=0, in_custody=0, overdue=0)

    assert (nothing.accountability_rate, nothing.delinquency_rate) == (1.0, 0.0)
    assert (all_lost.accountability_rate, all_lost.delinquency_rate) == (0.0, 0.0)


# As of a date, as known at a recording time ------------------------------------------------------


def test_as_of_a_date_before_an_event_the_event_is_not_seen(ledger: Ledger, clock: Clock) -> None:
    item = issue(ledger, clock, n=10)
    inspect(ledger, clock, item, 50, "not_presented")

    before_issue = [a.item_id for a in accounts(ledger, Scope(as_of=day(5)), DEFAULTS)]
    before_failure = found(ledger, item, day(49))

    assert before_issue == []
    assert before_failure == []


def test_as_known_before_a_late_recorded_loss_the_loss_is_not_seen(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    loss = lose(ledger, clock, item, 10, "captured", recorded=100)

    known_before = found(ledger, item, day(60), known_at=day(99))
    known_after = found(ledger, item, day(60), known_at=day(100))

    assert known_before == []
    assert known_after == [
        lost_finding(item, day(10), loss, "captured", Severity.CRITICAL),
        late_report_finding(item, day(40), loss, 90),
    ]


def test_the_same_question_asked_twice_gives_the_same_answer_even_after_later_records(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    other = issue(ledger, clock, "AK-0002", recipient="unit-2")
    inspect(ledger, clock, item, 30, "serial_mismatch")
    asked = Scope(as_of=day(120), known_at=day(40))
    first = list(accounts(ledger, asked, DEFAULTS))

    lose(ledger, clock, other, 35, discovered=41)
    inspect(ledger, clock, item, 36)
    issue(ledger, clock, "AK-0003", n=20)
    again = list(accounts(ledger, asked, DEFAULTS))

    assert again == first
    assert [[f.rule for f in a.findings] for a in first] == [
        ["failed_inspection", "inspection_overdue"],
        ["inspection_overdue"],
    ]


def test_as_known_at_a_time_the_answer_does_not_change_when_a_party_is_registered_later(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, clock)
    sight(ledger, clock, item, 40, held_by="militia-7", location="Hills")
    asked = Scope(as_of=day(50), known_at=day(45))
    first = list(accounts(ledger, asked, DEFAULTS))

    on(clock, 60)
    ledger.register_party(
        party_id="militia-7", name="Militia 7", kind="recipient", parent="force", actor=ADMIN
    )
    again = list(accounts(ledger, asked, DEFAULTS))

    assert [f.rule for f in first[0].findings] == ["diversion"]
    assert again == first
    assert found(ledger, item, day(50), known_at=day(61)) == []
    assert found(ledger, item, day(50)) == []


@pytest.mark.parametrize(
    ("recorded", "discovered"), [(100, None), (101, 100)], ids=["late_report", "late_discovery"]
)
def test_no_finding_as_of_a_date_starts_after_that_date(
    ledger: Ledger, clock: Clock, recorded: float, discovered: float | None
) -> None:
    item = issue(ledger, clock)
    lose(ledger, clock, item, 10, discovered=discovered, recorded=recorded)

    findings = found(ledger, item, day(20))

    assert [f.rule for f in findings if f.since > day(20)] == []
    assert [f.rule for f in findings] == ["lost"]


@pytest.mark.parametrize(
    ("recorded", "discovered", "late"),
    [
        (100, None, ("late_loss_report", 40, "recorded 90 days after its discovery")),
        (101, 100, ("late_discovery", 92, "discovered 100 days after its issue, never verified")),
    ],
    ids=["late_report", "late_discovery"],
)
def test_a_late_finding_is_reported_from_the_day_it_holds_and_not_a_moment_before(
    ledger: Ledger,
    clock: Clock,
    recorded: float,
    discovered: float | None,
    late: tuple[str, float, str],
) -> None:
    item = issue(ledger, clock)
    loss = lose(ledger, clock, item, 10, discovered=discovered, recorded=recorded)
    rule, since, detail = late

    before = found(ledger, item, day(since) - timedelta(seconds=1))
    on_the_day = found(ledger, item, day(since))

    lost = lost_finding(item, day(10), loss)
    evidence = (loss,) if rule == "late_loss_report" else (indexes(ledger, item)[0], loss)
    assert before == [lost]
    assert on_the_day == [
        lost,
        finding(rule, item, Severity.MEDIUM, day(since), evidence, detail),
    ]


def test_a_date_without_a_zone_is_refused(ledger: Ledger, clock: Clock) -> None:
    issue(ledger, clock)

    with pytest.raises(InvalidInput, match="as_of must carry a time zone"):
        list(accounts(ledger, Scope(as_of=datetime(2025, 6, 1)), DEFAULTS))
    with pytest.raises(InvalidInput, match="known_at must carry a time zone"):
        list(accounts(ledger, Scope(as_of=day(10), known_at=datetime(2025, 6, 1)), DEFAULTS))


# The policy file ---------------------------------------------------------------------------------


def test_the_defaults_are_the_documented_thresholds(tmp_path: Path) -> None:
    assert load_policy(None) == PolicyConfig(
        inspection_interval_days=92,
        sensitive_categories=frozenset({"launcher", "night_vision"}),
        sensitive_initial_days=90,
        sensitive_interval_days=365,
        loss_report_within_days=30,
        discovery_gap_days=92,
        disposal_min_witnesses=2,
    )
    (tmp_path / "empty.toml").write_text("")
    assert load_policy(tmp_path / "empty.toml") == PolicyConfig()


def test_a_policy_file_overriding_thresholds_changes_the_findings(
    ledger: Ledger, clock: Clock, tmp_path: Path
) -> None:
    (tmp_path / "policy.toml").write_text(
        "[inspections]\n"
        "interval_days = 30\n"
        "[inspections.sensitive]\n"
        'categories = ["pistol"]\n'
        "initial_days = 10\n"
        "[losses]\n"
        "report_within_days = 5\n"
        "[disposals]\n"
        "min_witnesses = 1\n",
        encoding="utf-8",
    )
    config = load_policy(tmp_path / "policy.toml")
    rifle = issue(ledger, clock, "R-1")
    pistol = issue(ledger, clock, "P-1", category="pistol")
    launcher = issue(ledger, clock, "L-1", category="launcher")
    disposed = issue(ledger, clock, "D-1")
    dispose(ledger, clock, disposed, 5, certificate="CERT-3", witnesses=["inspectorate"])
    loss = lose(ledger, clock, rifle, 20, recorded=26)

    findings = [found(ledger, i, day(25), config=config) for i in (rifle, pistol, launcher)]
    rifle_later = found(ledger, rifle, day(40), config=config)
    one_witness = found(ledger, disposed, day(25), config=config), found(ledger, disposed, day(25))

    assert config.sensitive_categories == frozenset({"pistol"})
    assert findings == [
        [
            lost_finding(rifle, day(20), loss),
            late_report_finding(rifle, day(25), loss, 6),
        ],
        [overdue_finding(pistol, day(10), indexes(ledger, pistol)[0], "issue on 2025-01-01", 10)],
        [],
    ]
    assert found(ledger, launcher, day(31), config=config)[0].detail == (
        "no verified inspection since issue on 2025-01-01; due every 30 days"
    )
    assert [f.rule for f in rifle_later] == ["lost", "late_loss_report"]
    assert ([f.detail for f in one_witness[0]], [f.detail for f in one_witness[1]]) == (
        [],
        ["disposal with 1 witnesses distinct from the holder"],
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[inspections]\nintervall_days = 30\n",
            "policy file: unknown setting inspections.intervall_days",
        ),
        ("interval_days = 30\n", "policy file: unknown setting interval_days"),
        (
            "[losses]\nreport_within_days = -1\n",
            "policy file: losses.report_within_days must be a whole number of days or a count >= 0",
        ),
        (
            "[inspections]\ninterval_days = 91.5\n",
            "policy file: inspections.interval_days must be a whole number of days or a count >= 0",
        ),
        (
            "[disposals]\nmin_witnesses = true\n",
            "policy file: disposals.min_witnesses must be a whole number of days or a count >= 0",
        ),
        (
            '[losses]\ndiscovery_gap_days = "92"\n',
            "policy file: losses.discovery_gap_days must be a whole number of days or a count >= 0",
        ),
        (
            '[inspections.sensitive]\ncategories = "launcher"\n',
            "policy file: inspections.sensitive.categories must be a list of category names",
        ),
        (
            '[inspections.sensitive]\ncategories = ["launcher", "lazer", "drone"]\n',
            "policy file: inspections.sensitive.categories names unknown categories: drone, lazer",
        ),
        (
            '[inspections.sensitive]\ncategories = ["Launcher"]\n',
            "policy file: inspections.sensitive.categories names unknown categories: Launcher",
        ),
        ("[inspection]\ninterval_days = 30\n", "policy file: unknown setting inspection"),
        (
            "[inspections.sensitiv]\ninitial_days = 10\n",
            "policy file: unknown setting inspections.sensitiv",
        ),
    ],
)
def test_a_policy_file_with_an_unknown_key_or_a_bad_value_is_refused_with_a_clear_message(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "policy.toml").write_text(text, encoding="utf-8")

    with pytest.raises(InvalidInput, match=re.escape(message)) as refused:
        load_policy(tmp_path / "policy.toml")

    assert refused.value.message == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[inspection]\n", "policy file: unknown setting inspection"),
        ("[inspection.sensitive]\n", "policy file: unknown setting inspection"),
        ("[inspections.sensitiv]\n", "policy file: unknown setting inspections.sensitiv"),
        ("[losses]\n[reporting]\n", "policy file: unknown setting reporting"),
    ],
)
def test_an_empty_unknown_table_is_refused_too(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "policy.toml").write_text(text, encoding="utf-8")

    with pytest.raises(InvalidInput, match=re.escape(message)) as refused:
        load_policy(tmp_path / "policy.toml")

    assert refused.value.message == message


def test_an_empty_known_table_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text(
        "[inspections]\n[inspections.sensitive]\n[losses]\n[disposals]\n", encoding="utf-8"
    )

    assert load_policy(tmp_path / "policy.toml") == PolicyConfig()


def test_an_empty_list_of_sensitive_categories_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text(
        "[inspections.sensitive]\ncategories = []\n", encoding="utf-8"
    )

    assert load_policy(tmp_path / "policy.toml") == PolicyConfig(sensitive_categories=frozenset())


@pytest.mark.parametrize(
    "text",
    ["[inspections.interval_days]\n", "[inspections]\ninterval_days = {}\n"],
    ids=["table", "inline_table"],
)
def test_a_table_given_for_a_number_is_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "policy.toml").write_text(text, encoding="utf-8")

    with pytest.raises(
        InvalidInput, match="inspections.interval_days must be a whole number"
    ) as refused:
        load_policy(tmp_path / "policy.toml")

    assert refused.value.message == (
        "policy file: inspections.interval_days must be a whole number of days or a count >= 0"
    )


@pytest.mark.parametrize("text", [None, "[inspections\ninterval_days = 30\n"])
def test_a_missing_or_malformed_policy_file_is_refused_naming_the_file(
    tmp_path: Path, text: str | None
) -> None:
    path = tmp_path / "policy.toml"
    if text is not None:
        path.write_text(text, encoding="utf-8")

    with pytest.raises(InvalidInput, match=r"^policy file .*policy\.toml: "):
        load_policy(path)
