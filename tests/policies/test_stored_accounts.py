"""The report's fast path (policies/accounts.py) against the reference (the rules over each item's
facts, read one item at a time), on SQLite and on PostgreSQL: the same accounts in the same order,
as of every week of the programme and at the exact moments findings begin, then again after more
entries, after a party's registration changes who is authorized, and under another policy."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from ledger.application.ledger import Ledger
from ledger.domain.items import Status
from ledger.store import Database
from policies.accounts import AccountTable, fingerprint
from policies.config import PolicyConfig
from policies.engine import (
    Scope,
    accounts,
    follow_accounts,
    reference_accounts,
    reference_report,
    unaccounted_report,
)
from tests.conftest import Clock
from tests.policies.test_programme_report import (
    ADMIN,
    INSPECTOR,
    INVESTIGATOR,
    Programme,
    build,
    day,
)

DEFAULT = PolicyConfig()
STRICT = PolicyConfig(inspection_interval_days=30, disposal_min_witnesses=3)


@pytest.fixture
def programme(store_ledger: Ledger, clock: Clock) -> Programme:
    return build(store_ledger, clock)


def in_custody(p: Programme, count: int) -> list[str]:
    return [s for s, i in p.ids.items() if p.ledger.item(i).status is Status.IN_CUSTODY][:count]


def moments(p: Programme) -> list[datetime]:
    """Every week of the programme, and each moment a finding begins, with a microsecond either
    side (`since <= as_of`, and an overdue inspection only after its due date)."""
    weekly = [day(n) for n in range(-7, 420, 7)]
    begins = {
        f.since
        for a in reference_accounts(p.ledger, Scope(as_of=day(420)), DEFAULT)
        for f in a.findings
    }
    tick = timedelta(microseconds=1)
    return weekly + [t + d for t in sorted(begins) for d in (-tick, timedelta(0), tick)]


def same(p: Programme, as_of: datetime, config: PolicyConfig = DEFAULT, **scoped: str) -> None:
    """Once the follower has caught them up, the accounts, and the report with its rates, equal
    the reference's."""
    follow_accounts(p.ledger, config)
    scope = Scope(as_of=as_of, **scoped)  # type: ignore[arg-type]
    fast, reference = (
        list(accounts(p.ledger, scope, config)),
        list(reference_accounts(p.ledger, scope, config)),
    )
    assert fast == reference, f"as of {as_of}"
    report = unaccounted_report(p.ledger, scope, config)
    assert report == reference_report(p.ledger, scope, config), f"report as of {as_of}"


def test_the_stored_accounts_answer_as_the_reference_does_on_every_date(
    programme: Programme,
) -> None:
    checked = moments(programme)
    for as_of in checked:
        same(programme, as_of)
    assert len(checked) > 100


@pytest.mark.parametrize(
    "scoped",
    [
        {"recipient": "force"},
        {"recipient": "unit-2"},
        {"recipient": "nobody"},
        {"category": "night_vision"},
        {"programme": "Programme Two"},
        {"recipient": "force", "category": "rifle"},
    ],
)
def test_scoped_reports_agree_too(programme: Programme, scoped: dict[str, str]) -> None:
    for as_of in (day(100), day(200), day(290), day(400)):
        same(programme, as_of, **scoped)


def test_entries_recorded_after_a_report_are_in_the_next(programme: Programme) -> None:
    ledger = programme.ledger
    serial, other = in_custody(programme, 2)
    same(programme, day(400))
    programme.record_on(401)
    ledger.transfer(programme.ids[serial], to="outsider", occurred_at=day(401), actor=ADMIN)
    ledger.inspect(
        programme.ids[other],
        result="not_presented",
        method="physical",
        occurred_at=day(401),
        actor=INSPECTOR,
    )
    for as_of in (day(400), day(401), day(402)):
        same(programme, as_of)
    follow_accounts(ledger, DEFAULT)
    flagged = {
        a.serial for a in unaccounted_report(ledger, Scope(as_of=day(402)), DEFAULT).unaccounted
    }
    assert {serial, other} <= flagged


def seen_with_unit_9(programme: Programme, serial: str, *, on: int) -> None:
    """The investigator records on day 401 that the item was seen on day `on` with "unit-9", a
    group nobody has registered yet."""
    programme.record_on(401)
    programme.ledger.sight(
        programme.ids[serial],
        observer="investigator",
        location="checkpoint",
        held_by="unit-9",
        occurred_at=day(on),
        actor=INVESTIGATOR,
    )


def test_a_party_registered_later_changes_every_stored_account(programme: Programme) -> None:
    """An item seen with a group nobody registered is a diversion; once that group is registered
    as a unit of an authorized force it is not, and the rows must say so although the item has no
    new entry."""
    ledger, (serial,) = programme.ledger, in_custody(programme, 1)
    seen_with_unit_9(programme, serial, on=401)

    def rules() -> set[str]:
        follow_accounts(ledger, DEFAULT)
        scope = Scope(as_of=day(402))
        return {
            f.rule
            for a in accounts(ledger, scope, DEFAULT)
            if a.serial == serial
            for f in a.findings
        }

    assert "diversion" in rules()
    ledger.register_party(
        party_id="unit-9", name="unit-9", kind="recipient", parent="force", actor=ADMIN
    )
    same(programme, day(402))
    assert "diversion" not in rules()


def test_each_policy_has_its_own_rows(programme: Programme) -> None:
    for config in (DEFAULT, STRICT, DEFAULT):
        for as_of in (day(100), day(290), day(400)):
            same(programme, as_of, config)
    assert fingerprint(DEFAULT) != fingerprint(STRICT)


def test_an_older_read_never_replaces_a_newer_row(programme: Programme) -> None:
    """Two processes catching up at once: the row computed from the later read stays."""
    ledger = programme.ledger
    follow_accounts(ledger, DEFAULT)
    table = AccountTable(ledger, DEFAULT)
    rows = {r.item_id: r for r in table.rows()}
    some = next(iter(rows.values()))
    stale = type(some)(**{**vars(some), "holder": "someone-else", "computed_at": 1})
    table._write([stale])
    assert {r.item_id: r for r in table.rows()}[some.item_id] == some
    newer = type(some)(**{**vars(some), "computed_at": some.computed_at + 1})
    table._write([newer])
    assert {r.item_id: r for r in table.rows()}[some.item_id] == newer


def test_a_report_as_known_at_a_recording_time_uses_the_reference(programme: Programme) -> None:
    scope = Scope(as_of=day(200), known_at=day(120) + timedelta(hours=12))
    assert list(accounts(programme.ledger, scope, DEFAULT)) == list(
        reference_accounts(programme.ledger, scope, DEFAULT)
    )


def test_a_catch_up_overtaken_by_a_rebuild_does_not_claim_the_rows_it_did_not_write(
    programme: Programme,
) -> None:
    """A server catches up while `custody readmodels rebuild` clears every row: the server must
    not move the position over rows it never wrote, or the next report would miss items."""
    ledger = programme.ledger
    same(programme, day(400))
    (serial,) = in_custody(programme, 1)
    programme.record_on(401)
    ledger.transfer(programme.ids[serial], to="unit-3", occurred_at=day(401), actor=ADMIN)
    server, rebuild = AccountTable(ledger, DEFAULT), AccountTable(ledger, DEFAULT)

    def compute_while_cleared(items: Sequence[UUID], policy: str, size: int) -> list[Any]:
        rebuild.clear()  # the rebuild's first step lands in the middle of the server's catch-up
        return list(rebuild_rows(ledger, items, policy, size))

    server.catch_up(compute_while_cleared)

    assert server._position() == 0
    assert len(server.rows()) == 1  # only what the server wrote survived the clear
    same(programme, day(402))  # so the next report recomputes every item


def rebuild_rows(ledger: Ledger, items: Sequence[UUID], policy: str, size: int) -> Iterator[Any]:
    from policies.engine import _compute

    yield from _compute(ledger, DEFAULT)(items, policy, size)


class Recording:
    """A cursor that notes the statements it runs."""

    def __init__(self, cursor: Any, executed: list[str]) -> None:
        self.cursor, self.executed = cursor, executed

    def execute(self, statement: str, *args: Any) -> Any:
        self.executed.append(statement)
        return self.cursor.execute(statement, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cursor, name)


def test_the_tables_are_created_once_per_store_not_every_time_the_accounts_are_read(
    store_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An overview builds an `AccountTable` several times: only the first creates the tables."""
    executed: list[str] = []
    transaction = Database.transaction

    @contextmanager
    def recorded(self: Database, **kwargs: Any) -> Iterator[Any]:
        with transaction(self, **kwargs) as cursor:
            yield Recording(cursor, executed)

    monkeypatch.setattr(Database, "transaction", recorded)
    AccountTable(store_ledger, DEFAULT)
    assert [s for s in executed if s.startswith("CREATE TABLE")]  # the first one creates them
    executed.clear()
    AccountTable(store_ledger, DEFAULT)
    AccountTable(store_ledger, STRICT)
    assert not [s for s in executed if "CREATE" in s.upper()]
