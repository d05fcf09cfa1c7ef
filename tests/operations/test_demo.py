"""`custody demo`'s programme (ledger/operations/demo.py): each story it tells is there as the
policies see
it, every write is accepted, the same seed and date build the same ledger, and the log verifies."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ledger.application.ledger import Ledger
from ledger.domain.replay import Fact
from ledger.operations import demo
from policies.config import PolicyConfig
from policies.engine import ItemAccount, Scope, UnaccountedReport, accounts, unaccounted_report
from policies.findings import Finding
from policies.following import follower_of
from tests.conftest import SIGNER

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ITEMS = 400


def built(items: int = ITEMS, seed: int = 7) -> Ledger:
    ledger = Ledger(clock=lambda: NOW, db="sqlite:///:memory:", create_tables=True, signer=SIGNER)
    ledger.bootstrap()
    demo.build(ledger, now=NOW, items=items, seed=seed)
    follower_of(ledger, PolicyConfig()).catch_up()  # as the server does when `custody demo` serves
    return ledger


@pytest.fixture(scope="module")
def ledger() -> Iterator[Ledger]:
    ledger = built()
    yield ledger
    ledger.close()


@pytest.fixture(scope="module")
def items(ledger: Ledger) -> list[ItemAccount]:
    return list(accounts(ledger, Scope(as_of=NOW), PolicyConfig()))


@pytest.fixture(scope="module")
def report(ledger: Ledger) -> UnaccountedReport:
    return unaccounted_report(ledger, Scope(as_of=NOW), PolicyConfig())


def found(items: list[ItemAccount], rule: str) -> list[tuple[ItemAccount, Finding]]:
    return [(a, f) for a in items for f in a.findings if f.rule == rule]


def evidence(ledger: Ledger, account: ItemAccount, finding: Finding) -> list[Fact]:
    return [f for f in ledger.facts(account.item_id) if f.log_index in finding.evidence]


def test_every_item_is_issued_under_two_agreements_to_twelve_units_of_two_forces(
    ledger: Ledger, items: list[ItemAccount], report: UnaccountedReport
) -> None:
    assert len(items) == ITEMS
    assert {a.agreement for a in items} == {"DEMO-EUA-NORTH", "DEMO-EUA-SOUTH"}
    assert len({a.recipient for a in items}) == 12
    assert {r.recipient for r in report.recipients} == {a.recipient for a in items}
    assert {ledger.party(a.recipient).parent for a in items} == {"DEMO-NORTH", "DEMO-SOUTH"}
    assert len({a.category for a in items}) >= 6
    assert all(a.serial.startswith("DEMO-") for a in items)


def test_a_mass_loss_many_items_of_one_unit_lost_on_one_date(items: list[ItemAccount]) -> None:
    lost = Counter((a.holder, f.since.date()) for a, f in found(items, "lost"))

    (unit, _), count = lost.most_common(1)[0]

    assert (unit, count >= 10) == ("DEMO-NORTH-3", True)


def test_slow_leakage_single_losses_in_different_months(items: list[ItemAccount]) -> None:
    losses = Counter((a.holder, f.since.date()) for a, f in found(items, "lost"))
    months = {day.strftime("%Y-%m") for (_, day), count in losses.items() if count == 1}

    assert len(months) >= 3


def test_an_unauthorized_retransfer_is_found_and_surfaced_by_a_third_party_sighting(
    ledger: Ledger, items: list[ItemAccount]
) -> None:
    diversions = [(a, evidence(ledger, a, f)[0]) for a, f in found(items, "diversion")]
    sighted = [fact for _, fact in diversions if fact.kind == "Sighted"]
    passed = [a for a, fact in diversions if fact.kind == "Transferred"]

    assert any(
        f.fields["held_by"] == "DEMO-BROKER" and f.fields["observer"] == "DEMO-MONITOR"
        for f in sighted
    )
    assert passed and all(a.holder == "DEMO-BROKER" and a.unaccounted for a in passed)


def test_late_loss_reports_are_found(items: list[ItemAccount]) -> None:
    late = found(items, "late_loss_report")

    assert late
    assert all(f.since < NOW for _, f in late)


def test_some_lost_items_were_recovered_and_are_in_custody_again(
    ledger: Ledger, items: list[ItemAccount]
) -> None:
    recovered = [
        a
        for a in items
        if a.status == "in_custody"
        and {"ReportedLost", "Recovered"} <= {f.kind for f in ledger.facts(a.item_id)}
    ]

    assert len(recovered) >= 3
    assert not any(a.unaccounted for a in recovered)


def test_some_inspections_are_overdue_most_are_not(report: UnaccountedReport) -> None:
    overdue = sum(r.overdue for r in report.recipients)
    in_custody = sum(r.in_custody for r in report.recipients)

    assert 0 < overdue < in_custody / 4
    assert max(report.recipients, key=lambda r: r.delinquency_rate).recipient == "DEMO-NORTH-6"


def test_disposals_one_of_them_without_a_certificate(items: list[ItemAccount]) -> None:
    disposed = [a for a in items if a.status == "disposed"]
    unverified = found(items, "disposal_unverified")

    assert len(disposed) >= 2
    assert [f.detail for _, f in unverified] == ["disposal with no certificate"]


def test_the_policies_find_a_contradiction_and_poor_serials(items: list[ItemAccount]) -> None:
    rules = Counter(f.rule for a in items for f in a.findings)

    assert rules["after_loss"] >= 1
    assert rules["missing_serial"] == 1 and rules["duplicate_serial"] == 2


def test_the_same_seed_and_date_build_the_same_ledger(ledger: Ledger) -> None:
    again = built()

    assert list(again.item_ids()) == list(ledger.item_ids())
    assert again.log_store.log_size() == ledger.log_store.log_size()
    sample = list(ledger.item_ids())[::37]
    assert [r.entry for i in sample for r in again.history(i)] == [
        r.entry for i in sample for r in ledger.history(i)
    ]
    again.close()


def test_the_log_verifies(ledger: Ledger) -> None:
    ledger.tlog.checkpoint()

    verified = ledger.tlog.verify(SIGNER.verifier)

    assert verified.entries == ledger.log_store.log_size() and verified.checkpoints == 1


@pytest.mark.parametrize("size", [1, 3, 20, 60])
def test_small_programmes_build_without_a_refused_write(size: int) -> None:
    ledger = built(size, seed=size)
    programme_items = list(ledger.item_ids())

    assert len(programme_items) == size
    ledger.close()


def test_the_programme_counts_what_it_recorded() -> None:
    ledger = Ledger(clock=lambda: NOW, db="sqlite:///:memory:", create_tables=True, signer=SIGNER)
    ledger.bootstrap()
    before = ledger.log_store.log_size()
    steps: list[int] = []

    programme = demo.build(ledger, now=NOW, items=50, progress=steps.append)

    assert len(programme.items) == sum(steps) == 50
    parties_and_agreements = 1 + 2 + 12 + 1 + 4 + 2 + 4  # and a key confirmed and rotated
    assert ledger.log_store.log_size() - before == programme.events + parties_and_agreements
    ledger.close()


def test_the_delinquent_unit_self_reports_signed_with_its_rotated_key_and_stays_overdue(
    ledger: Ledger, report: UnaccountedReport, items: list[ItemAccount]
) -> None:
    rates = {r.recipient: r for r in report.recipients}
    delinquent = rates[demo.DELINQUENT_UNIT]
    keys = ledger.key_history(demo.DELINQUENT_UNIT)
    theirs = [a for a in items if a.holder == demo.DELINQUENT_UNIT and a.status == "in_custody"]

    self_reporting = {r.recipient for r in report.recipients if r.self_reported}
    overdue_though_self_reported = [
        a
        for a in theirs
        if a.overdue
        and any(f.fields.get("method") == "self_report" for f in ledger.facts(a.item_id))
    ]

    assert delinquent.self_reported > 0
    assert self_reporting <= set(demo.UNITS[demo.NORTH])  # the unit's, some moved to it
    assert all(r.verified_independently > 0 for r in report.recipients)
    assert len(overdue_though_self_reported) >= 5
    assert [(k.registered_by, k.how, k.revocation_reason) for k in keys] == [
        ("operator", "operator-registered, confirmed by the party", "rotated (synthetic)"),
        (demo.DELINQUENT_UNIT, f"endorsed by key {keys[0].key_id}", None),
    ]
