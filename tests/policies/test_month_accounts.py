"""The month rows the follower keeps (policies/months.py) against the reference report: at every
month end they answer for, the same rates per recipient and the same count of unaccounted items,
on SQLite and on PostgreSQL; after a late entry and a correction dated in an earlier month, after
a party's registration, and in the dashboard's overview (its bars and trend lines)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from api.ui import views
from ledger.application.ledger import Ledger
from ledger.domain.items import Status
from ledger.store import MonthRows
from policies.accounts import AccountTable
from policies.config import PolicyConfig
from policies.engine import (
    RecipientRates,
    Scope,
    follow_accounts,
    reference_accounts,
    reference_report,
)
from policies.following import follower_of
from policies.months import MonthTable, follow, month_end, month_report
from tests.days import day
from tests.policies.test_programme_report import ADMIN, INSPECTOR, Programme
from tests.policies.test_stored_accounts import DEFAULT, STRICT, programme, seen_with_unit_9

__all__ = ["programme"]  # the fixture: the scenario of tests/policies/test_programme_report.py


def month_ends() -> list[datetime]:
    """The end of every month from before the programme's first issue to after its last entry."""
    ends, moment = [], day(-40)
    while moment < day(480):
        ends.append(month_end(moment))
        moment = month_end(moment) + (day(1) - day(0))
    return ends


def expected(
    ledger: Ledger, scope: Scope, config: PolicyConfig
) -> tuple[list[RecipientRates], int]:
    report = reference_report(ledger, scope, config)
    return report.recipients, len(report.unaccounted)


def agree(p: Programme, config: PolicyConfig = DEFAULT, **scoped: str) -> int:
    """After the follower's catch-up, every month end the rows answer for agrees with the
    reference report; answers how many month ends that was."""
    follower_of(p.ledger, config).catch_up()
    checked = 0
    for end in month_ends():
        scope = Scope(as_of=end, **scoped)  # type: ignore[arg-type]
        found = month_report(p.ledger, scope, config)
        if found is not None:
            assert found == expected(p.ledger, scope, config), f"at {end}"
            checked += 1
    return checked


def test_every_kept_month_end_agrees_with_the_reference(programme: Programme) -> None:
    programme.record_on(420)
    assert agree(programme) >= 11
    assert agree(programme, STRICT) >= 11
    for scoped in ({"recipient": "force"}, {"recipient": "unit-1"}, {"category": "rifle"}):
        assert agree(programme, **scoped) >= 11


def test_month_ends_before_the_kept_months_are_left_to_the_report(programme: Programme) -> None:
    programme.record_on(420)
    follower_of(programme.ledger, DEFAULT).catch_up()
    months = MonthTable(AccountTable(programme.ledger, DEFAULT))
    answered = [end for end in month_ends() if months.answers(end)]
    assert answered and min(answered) > day(40)
    assert month_report(programme.ledger, Scope(as_of=day(10)), DEFAULT) is None
    not_a_month_end = month_end(day(400)) - (day(1) - day(0))
    assert month_report(programme.ledger, Scope(as_of=not_a_month_end), DEFAULT) is None


def in_custody(p: Programme) -> list[str]:
    return [s for s, i in p.ids.items() if p.ledger.item(i).status is Status.IN_CUSTODY]


def test_a_late_entry_and_a_correction_change_their_month_and_the_overview_shows_it(
    programme: Programme,
) -> None:
    ledger = programme.ledger
    programme.record_on(420)
    agree(programme)
    late = month_end(day(250))
    item = next(
        a.item_id
        for a in reference_accounts(ledger, Scope(as_of=late), DEFAULT)
        if a.status == "in_custody" and not a.unaccounted
    )
    before = month_report(ledger, Scope(as_of=late), DEFAULT)
    assert before is not None
    recorded = ledger.inspect(
        item,
        result="not_presented",
        method="physical",
        occurred_at=late - (day(1) - day(0)),
        actor=INSPECTOR,
    )
    assert month_report(ledger, Scope(as_of=late), DEFAULT) == before  # not followed yet
    assert agree(programme) >= 11
    after = month_report(ledger, Scope(as_of=late), DEFAULT)
    assert after is not None and after[1] == before[1] + 1
    overview = views.overview(ledger, ADMIN, DEFAULT, programme.clock())
    bar = next(b for b in overview.bars if b.as_of == late)
    assert bar.count == after[1]
    points = [p for t in overview.trends for p in t.points if p.as_of == late and p.rates]
    assert [p.rates for p in points] == after[0]  # the trends are by recipient, as the rates
    ledger.correct(
        item,
        entry=recorded.log_index,
        reason="entered against the wrong item",
        occurred_at=day(260),
        actor=ADMIN,
    )
    assert agree(programme) >= 11


def test_a_registration_recomputes_the_items_that_name_the_party_and_their_month_ends(
    programme: Programme,
) -> None:
    """Not every item: only those whose entries name the party (as holder, seen with, actor)."""
    ledger, serial = programme.ledger, in_custody(programme)[0]
    seen_with_unit_9(programme, serial, on=300)
    assert agree(programme) >= 11
    ledger.register_party(
        party_id="unit-9", name="unit-9", kind="recipient", parent="force", actor=ADMIN
    )
    ledger.register_party(party_id="nobody-9", name="nobody", kind="recipient", actor=ADMIN)
    recomputed = follower_of(ledger, DEFAULT).catch_up()
    views_applied = 2  # the two registrations, applied by the read models' step
    assert recomputed - views_applied == 1  # the one item seen with unit-9
    assert agree(programme) >= 11


def test_a_catch_up_without_the_month_rows_leaves_them_to_the_report_until_the_follower_runs(
    programme: Programme,
) -> None:
    ledger = programme.ledger
    programme.record_on(420)
    agree(programme)
    end = month_end(day(300))
    assert month_report(ledger, Scope(as_of=end), DEFAULT) is not None
    late_entry_followed_without_months(programme)
    assert month_report(ledger, Scope(as_of=end), DEFAULT) is None
    assert agree(programme) >= 11


def late_entry_followed_without_months(programme: Programme) -> None:
    """An inspection dated in an earlier month, followed by the engine's own catch-up, which
    does not keep the month rows."""
    programme.ledger.inspect(
        programme.ids[in_custody(programme)[0]],
        result="not_presented",
        method="physical",
        occurred_at=day(290),
        actor=INSPECTOR,
    )
    follow_accounts(programme.ledger, DEFAULT)


def meanwhile(monkeypatch: pytest.MonkeyPatch, step: Callable[[], object]) -> None:
    """The next `MonthRows.cover` runs after `step`: another process's step that lands between
    the follower's catch-up and its cover."""
    cover = MonthRows.cover

    def interleaved(self: MonthRows, *args: Any, **kwargs: Any) -> None:
        monkeypatch.setattr(MonthRows, "cover", cover)
        step()
        cover(self, *args, **kwargs)

    monkeypatch.setattr(MonthRows, "cover", interleaved)


def test_a_rebuild_between_the_catch_up_and_the_cover_leaves_the_months_uncovered(
    programme: Programme, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = programme.ledger
    programme.record_on(420)
    meanwhile(monkeypatch, AccountTable(ledger, DEFAULT).clear)  # the rebuild's first step
    follow(ledger, DEFAULT, AccountTable(ledger, DEFAULT))
    assert MonthTable(AccountTable(ledger, DEFAULT)).covered_from() is None
    assert month_report(ledger, Scope(as_of=month_end(day(300))), DEFAULT) is None
    assert agree(programme) >= 11  # the next run recomputes every item


def test_a_catch_up_without_the_month_rows_between_the_catch_up_and_the_cover_wins(
    programme: Programme, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine's `follow_accounts` forgets the mark as it moves the position: a follower that
    covers the rows meanwhile must not put the mark back over rows it did not recompute."""
    ledger = programme.ledger
    programme.record_on(420)
    agree(programme)
    end = month_end(day(300))

    meanwhile(monkeypatch, lambda: late_entry_followed_without_months(programme))
    follow(ledger, DEFAULT, AccountTable(ledger, DEFAULT))  # caught up already: only covers
    assert month_report(ledger, Scope(as_of=end), DEFAULT) is None
    assert agree(programme) >= 11
