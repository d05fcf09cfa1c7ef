"""custody_at: field time decides what happened when; recording time decides what was known when."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ledger.application.ledger import Ledger
from ledger.domain.errors import InvalidInput, NotFound
from ledger.domain.items import Status
from tests.conftest import Clock
from tests.programme import ADMIN, ago, inspect, issue, register


@pytest.fixture
def ledger(ledger: Ledger) -> Ledger:
    register(ledger)
    return ledger


def test_a_loss_recorded_months_late_changes_the_past_only_as_known_after_it_was_recorded(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger, days_ago=400)
    lost_on = ago(ledger, days=300)
    known_before = clock()
    clock.advance(days=1)
    ledger.report_lost(item, circumstances="missing", occurred_at=lost_on, actor=ADMIN)
    asked_about = lost_on + timedelta(days=10)

    now_known = ledger.custody_at(item, at=asked_about)
    then_known = ledger.custody_at(item, at=asked_about, known_at=known_before)

    assert now_known.status is Status.LOST
    assert then_known.status is Status.IN_CUSTODY
    assert then_known.holder == now_known.holder == "unit-1"


def test_events_recorded_out_of_field_order_are_replayed_in_field_order(ledger: Ledger) -> None:
    item = issue(ledger, days_ago=100)
    ledger.transfer(item, to="unit-2", occurred_at=ago(ledger, days=50), actor=ADMIN)
    ledger.transfer(item, to="unit-3", occurred_at=ago(ledger, days=10), actor=ADMIN)
    inspect(ledger, item, ago(ledger, days=60))  # recorded last, happened early

    holders = [ledger.custody_at(item, at=ago(ledger, days=d)).holder for d in (70, 55, 30, 1)]

    assert holders == ["unit-1", "unit-1", "unit-2", "unit-3"]
    assert ledger.custody_at(item, at=ago(ledger, days=55)).log_indexes == tuple(
        e.log_index for e in ledger.history(item) if e.aggregate_version in (1, 4)
    )


def test_a_recovery_returns_the_item_to_custody_from_the_moment_it_happened(ledger: Ledger) -> None:
    item = issue(ledger, days_ago=100)
    ledger.report_lost(item, circumstances="stolen", occurred_at=ago(ledger, days=40), actor=ADMIN)
    ledger.recover(item, by="unit-3", occurred_at=ago(ledger, days=20), actor=ADMIN)

    states = [ledger.custody_at(item, at=ago(ledger, days=d)) for d in (50, 30, 10)]

    assert [(s.holder, s.status) for s in states] == [
        ("unit-1", Status.IN_CUSTODY),
        ("unit-1", Status.LOST),
        ("unit-3", Status.IN_CUSTODY),
    ]


def test_before_its_issue_an_item_has_no_custody(ledger: Ledger) -> None:
    item = issue(ledger, days_ago=10)

    with pytest.raises(NotFound, match="had not been issued by"):
        ledger.custody_at(item, at=ago(ledger, days=11))


def test_as_known_before_its_issue_was_recorded_an_item_has_no_custody(
    ledger: Ledger, clock: Clock
) -> None:
    before = clock()
    clock.advance(hours=1)
    item = issue(ledger, days_ago=10)

    with pytest.raises(NotFound, match="as known at"):
        ledger.custody_at(item, at=clock(), known_at=before)


def test_a_point_in_time_without_a_zone_is_refused(ledger: Ledger) -> None:
    with pytest.raises(InvalidInput, match="at must carry a time zone"):
        ledger.custody_at(issue(ledger), at=datetime(2026, 1, 1))
