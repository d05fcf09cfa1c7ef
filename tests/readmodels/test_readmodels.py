"""The read models (ledger/readmodels/models.py) on SQLite and PostgreSQL: they agree with per-item
replay
for every field and recording time, a crash mid-batch loses nothing and doubles nothing, a rebuild
gives the same rows, and /v1/custody and `custody readmodels` read and rebuild them."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.main import create_app
from custody_cli import app as cli_app
from ledger.application.ledger import Ledger
from ledger.domain.errors import CustodyError, IntegrityFailure, NotFound
from ledger.domain.items import Status
from ledger.domain.replay import custody_at
from ledger.domain.times import format_time
from ledger.readmodels.models import CustodyViews, Fleet, follow, open_views, rebuild
from ledger.store.accounts_tables import MONTH_COLUMNS
from policies.accounts import AccountTable
from policies.audit import check_accounts
from policies.config import PolicyConfig
from policies.following import accounts_step
from policies.months import MonthTable, month_end, start_of
from policies.months import follow as follow_months
from tests.checks_histories import record
from tests.conftest import Clock, LedgerFactory
from tests.programme import ADMIN, UNITS, ago, issue, register

ITEMS = 5
STEPS = 80
MICROSECOND = timedelta(microseconds=1)
HOLDERS = (*UNITS, "outsider")
Answer = tuple[str, Status] | None


# A history with late, out-of-field-order and out-of-recording-order entries -------------------


def scripted_history(
    ledger: Ledger, clock: Clock, *, seed: int, after_each: Callable[[], object] = lambda: None
) -> list[UUID]:
    """Random but repeatable: events dated up to 300 days back (late, out of field order, some
    refused as before the issue), some recorded at the same time as the one before, some by a
    writer whose clock is behind, and some saved together in one batch."""
    rng = random.Random(seed)
    register(ledger)
    items = [issue(ledger, f"RM-{n}", days_ago=300 - 20 * n) for n in range(ITEMS)]
    for _ in range(STEPS):
        _advance(clock, rng)
        item = rng.choice(items)
        with contextlib.suppress(CustodyError):
            if rng.random() < 0.1:
                with ledger.batch():
                    _random_event(ledger, rng, item)
                    _random_event(ledger, rng, item)
            else:
                _random_event(ledger, rng, item)
        after_each()
    return items


def _advance(clock: Clock, rng: random.Random) -> None:
    roll = rng.random()
    if roll < 0.15:
        return  # recorded at the same time as the entry before
    if roll < 0.3:
        clock.advance(minutes=-rng.randint(1, 120))  # a writer whose clock is behind
        return
    clock.advance(hours=rng.uniform(0.5, 48))


def _random_event(ledger: Ledger, rng: random.Random, item: UUID) -> None:
    at = ago(ledger, days=rng.uniform(0, 300))
    kind = rng.choice(
        ["transfer"] * 4 + ["lose"] * 2 + ["recover"] * 2 + ["inspect"] * 2 + ["dispose", "sight"]
    )
    if kind == "transfer":
        record(ledger, item, kind, at=at, party=rng.choice(HOLDERS))
    elif kind == "recover":
        record(ledger, item, kind, at=at, party=rng.choice(UNITS))
    elif kind == "inspect":
        record(ledger, item, kind, at=at, result=rng.choice(["verified", "not_presented"]))
    elif kind != "dispose" or rng.random() < 0.3:
        record(ledger, item, kind, at=at)


# The reference: per-item replay -----------------------------------------------------------------


class Replay:
    """ledger.custody_at's own fold (ledger/domain/replay.py), over each item's events read once."""

    def __init__(self, ledger: Ledger, items: list[UUID]) -> None:
        self.ledger = ledger
        self.events = {item: list(ledger.events.get(item)) for item in items}
        self.indexes = {item: ledger.log_store.log_indexes_of(item) for item in items}

    def answer(self, item: UUID, at: datetime, known_at: datetime | None) -> Answer:
        try:
            state = custody_at(
                self.events[item], at=at, known_at=known_at, log_indexes=self.indexes[item]
            )
        except NotFound:
            return None
        return (state.holder, state.status)

    def times(self, item: UUID) -> tuple[list[datetime], list[datetime | None]]:
        """Field times and recording times at, just before and around every change."""
        facts = self.ledger.facts(item)
        ats = {f.occurred_at + d for f in facts for d in (-MICROSECOND, timedelta(0))}
        ats |= {
            facts[0].occurred_at - timedelta(days=1),
            facts[0].occurred_at + timedelta(days=999),
        }
        knowns = {f.recorded_at + d for f in facts for d in (-MICROSECOND, timedelta(0))}
        return sorted(ats), [None, *sorted(knowns)]


def assert_views_agree_with_replay(ledger: Ledger, views: CustodyViews, items: list[UUID]) -> int:
    replay, checked = Replay(ledger, items), 0
    for item in items:
        ats, knowns = replay.times(item)
        for at in ats:
            for known in knowns:
                expected = replay.answer(item, at, known)
                assert views.interval_at(item, at=at, known_at=known) == expected, (at, known)
                checked += 1
    return checked


def assert_holdings_agree_with_replay(
    ledger: Ledger, views: CustodyViews, items: list[UUID]
) -> None:
    replay = Replay(ledger, items)
    ats, knowns = replay.times(items[0])
    for at in ats[::3]:
        for known in knowns[::4]:
            answers = {item: replay.answer(item, at, known) for item in items}
            for holder in HOLDERS:
                held = {h.item_id for h in views.holdings(holder, at=at, known_at=known)}
                assert held == {i for i, a in answers.items() if a and a[0] == holder}


@pytest.fixture
def followed(
    make_ledger: LedgerFactory, db_url: str, clock: Clock
) -> tuple[Ledger, CustodyViews, list[UUID]]:
    """A history whose views were caught up after every write, as API queries would do."""
    ledger = make_ledger(db_url)
    views = open_views(ledger)
    items = scripted_history(
        ledger, clock, seed=7, after_each=lambda: follow(ledger.log_store, views)
    )
    return ledger, views, items


# Agreement with replay ----------------------------------------------------------------------------


def test_views_followed_after_every_write_agree_with_replay_for_every_field_and_recording_time(
    followed: tuple[Ledger, CustodyViews, list[UUID]],
) -> None:
    ledger, views, items = followed

    checked = assert_views_agree_with_replay(ledger, views, items)

    assert checked > 1000
    assert views.position() == ledger.log_store.log_size()
    assert_holdings_agree_with_replay(ledger, views, items)


def test_entries_recorded_at_the_same_time_or_by_a_clock_behind_are_followed_like_a_rebuild(
    make_ledger: LedgerFactory, db_url: str, clock: Clock
) -> None:
    ledger = make_ledger(db_url)
    register(ledger)
    views = open_views(ledger)
    item = issue(ledger, days_ago=100)
    steps: list[Callable[[], object]] = [
        lambda: ledger.transfer(item, to="unit-2", occurred_at=ago(ledger, days=50), actor=ADMIN),
        lambda: ledger.transfer(item, to="unit-3", occurred_at=ago(ledger, days=40), actor=ADMIN),
        lambda: clock.advance(hours=2),
        lambda: ledger.transfer(item, to="unit-1", occurred_at=ago(ledger, days=30), actor=ADMIN),
        lambda: clock.advance(hours=-1),  # the next writer's clock is an hour behind
        lambda: ledger.report_lost(
            item, circumstances="stolen", occurred_at=ago(ledger, days=45), actor=ADMIN
        ),
    ]

    for step in steps:
        step()
        follow(ledger.log_store, views)
    followed = views.table_rows()
    rebuild(ledger.log_store, views)

    assert views.table_rows() == followed
    assert all(row[5] < row[6] for row in followed["custody_intervals"] if row[6] is not None)
    assert assert_views_agree_with_replay(ledger, views, [item]) > 50


def test_the_item_summary_has_the_marking_the_state_in_field_order_and_the_last_verified_inspection(
    followed: tuple[Ledger, CustodyViews, list[UUID]],
) -> None:
    ledger, views, items = followed
    replay = Replay(ledger, items)

    for item in items:
        summary = views.summary(item)
        facts = ledger.facts(item)
        verified = [
            f.occurred_at
            for f in facts
            if f.kind == "Inspected" and f.fields["result"] == "verified"
        ]

        assert summary is not None
        assert (summary.holder, summary.status) == replay.answer(
            item, facts[0].occurred_at + timedelta(days=10_000), None
        )
        assert summary.serial == ledger.item(item).serial
        assert summary.programme == "Programme One" and summary.recipient == "unit-1"
        assert summary.last_verified_at == (format_time(max(verified)) if verified else None)
        assert summary.last_log_index == max(f.log_index for f in facts)
        assert summary.open_findings is None


# Tracking: no entry applied twice, none skipped ---------------------------------------------------


def test_a_rebuild_gives_exactly_the_rows_it_replaced(
    followed: tuple[Ledger, CustodyViews, list[UUID]],
) -> None:
    ledger, views, _ = followed
    before = views.table_rows()

    applied = rebuild(ledger.log_store, views, batch=7)

    assert applied == ledger.log_store.log_size() == views.position()
    assert views.table_rows() == before


class PowerCut(Exception):
    pass


def test_a_crash_mid_batch_keeps_the_committed_batches_only_and_a_later_follow_completes_them(
    make_ledger: LedgerFactory, db_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = make_ledger(db_url)
    items = scripted_history(ledger, clock, seed=11)
    views, size, batch = open_views(ledger), ledger.log_store.log_size(), 10
    crash_from = (size // 2) // batch * batch
    write = CustodyViews._write

    def crashing(self: CustodyViews, c: Any, writes: Any) -> None:
        write(self, c, writes)  # rows written, then the power goes
        if any(step[1] >= crash_from for step in writes.steps):
            raise PowerCut("the power went after the rows were written")

    monkeypatch.setattr(CustodyViews, "_write", crashing)
    with pytest.raises(PowerCut, match="the power went after the rows were written"):
        follow(ledger.log_store, views, batch=batch)
    monkeypatch.undo()
    crashed = views.table_rows()

    assert views.position() == crash_from
    views.clear()
    assert views.apply(ledger.log_store.log_entries(0, crash_from)) == crash_from
    assert views.table_rows() == crashed  # exactly the committed batches, nothing of the next
    assert follow(ledger.log_store, views, batch=batch) == size - crash_from
    resumed = views.table_rows()
    assert rebuild(ledger.log_store, views, batch=size) == size
    assert views.table_rows() == resumed
    assert_views_agree_with_replay(ledger, views, items[:2])


def test_a_batch_applied_again_is_skipped_and_a_batch_with_a_gap_is_refused(
    make_ledger: LedgerFactory, db_url: str, clock: Clock
) -> None:
    ledger = make_ledger(db_url)
    scripted_history(ledger, clock, seed=3)
    views = open_views(ledger)
    first = ledger.log_store.log_entries(0, 20)

    assert views.apply(first) == 20
    once = views.table_rows()
    assert views.apply(first) == 0
    assert views.table_rows() == once
    with pytest.raises(IntegrityFailure, match="without gaps"):
        views.apply(ledger.log_store.log_entries(21, 30))
    assert views.position() == 20
    assert views.apply(ledger.log_store.log_entries(10, 30)) == 10  # the overlap is skipped


def test_followers_in_several_threads_on_their_own_connections_apply_each_entry_once(
    make_ledger: LedgerFactory, db_url: str, clock: Clock
) -> None:
    ledger = make_ledger(db_url)
    scripted_history(ledger, clock, seed=5)
    others = [open_views(make_ledger(db_url)) for _ in range(3)]
    errors: list[BaseException] = []

    def run(views: CustodyViews) -> None:
        try:
            follow(ledger.log_store, views, batch=3)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(v,)) for v in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    views = open_views(ledger)
    followed = views.table_rows()
    rebuild(ledger.log_store, views)
    assert views.table_rows() == followed
    assert views.position() == ledger.log_store.log_size()


# The route and the command ------------------------------------------------------------------------


@pytest.fixture
def client(make_ledger: LedgerFactory, db_url: str) -> Iterator[tuple[Ledger, TestClient]]:
    ledger = make_ledger(db_url)
    register(ledger)
    token, _ = ledger.grant_token(party="operator", role="admin", actor=ADMIN)
    with TestClient(create_app(ledger), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {token}"
        yield ledger, test_client


def test_v1_custody_lists_what_a_holder_held_at_a_time_as_known_at_a_time(
    client: tuple[Ledger, TestClient], clock: Clock
) -> None:
    ledger, http = client
    rifle, launcher = issue(ledger, "AK-1", days_ago=100), issue(ledger, "RPG-1", days_ago=100)
    ledger.transfer(rifle, to="unit-2", occurred_at=ago(ledger, days=50), actor=ADMIN)
    before_the_loss = clock()
    clock.advance(days=1)
    ledger.report_lost(
        launcher, circumstances="stolen", occurred_at=ago(ledger, days=60), actor=ADMIN
    )
    at = format_time(ago(ledger, days=40))
    Fleet.of(ledger).catch_up()  # written past the server: its follower's clock would do this

    now_known = http.get("/v1/custody", params={"holder": "unit-1", "at": at})
    then_known = http.get(
        "/v1/custody",
        params={"holder": "unit-1", "at": at, "known_at": format_time(before_the_loss)},
    )

    assert now_known.status_code == 200, now_known.text
    assert now_known.json()["as_of_log_size"] == ledger.log_store.log_size()
    assert now_known.json()["items"] == [
        {"item_id": str(launcher), "serial": "RPG-1", "category": "rifle", "status": "lost"}
    ]
    assert then_known.json()["items"][0]["status"] == "in_custody"
    assert then_known.json()["known_at"].startswith(format_time(before_the_loss)[:19])
    for item in (rifle, launcher):
        state = ledger.custody_at(item, at=ago(ledger, days=40))
        assert Fleet.of(ledger).custody_at(item, at=ago(ledger, days=40)) == (
            state.holder,
            state.status,
        )


def test_v1_custody_refuses_a_time_without_a_zone_an_unknown_holder_and_no_token(
    client: tuple[Ledger, TestClient],
) -> None:
    _, http = client

    naive = http.get("/v1/custody", params={"holder": "unit-1", "at": "2026-01-01T00:00:00"})
    unknown = http.get("/v1/custody", params={"holder": "nobody", "at": "2026-01-01T00:00:00Z"})
    anonymous = http.get(
        "/v1/custody",
        params={"holder": "unit-1", "at": "2026-01-01T00:00:00Z"},
        headers={"Authorization": ""},
    )

    assert (naive.status_code, naive.json()["error"]["code"]) == (422, "invalid_input")
    assert "time zone" in naive.json()["error"]["message"]
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
    assert anonymous.status_code == 401


def stored_rows(ledger: Ledger) -> list[tuple[Any, ...]]:
    """The stored accounts' rows, but for the log size each was computed at."""
    rows = AccountTable(ledger, PolicyConfig()).rows()
    return [tuple(v for k, v in vars(r).items() if k != "computed_at") for r in rows]


def stored_month_rows(ledger: Ledger) -> list[tuple[Any, ...]]:
    """Every item's month rows (policies/months.py), but for the log size each was computed at."""
    columns = [c for c in MONTH_COLUMNS if c != "computed_at"]
    rows = AccountTable(ledger, PolicyConfig()).months.items(columns, after="")
    return sorted(rows.of_items([str(i) for i in ledger.item_ids()]))


def test_custody_readmodels_rebuild_and_follow_once(
    make_ledger: LedgerFactory, db_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CUSTODY_DB", "CUSTODY_KEY", "CUSTODY_ORIGIN"):
        monkeypatch.delenv(name, raising=False)
    ledger = make_ledger(db_url)
    scripted_history(ledger, clock, seed=13)
    views = open_views(ledger)
    follow(ledger.log_store, views)
    before, size = views.table_rows(), ledger.log_store.log_size()
    runner = CliRunner()

    follow_months(ledger, PolicyConfig(), AccountTable(ledger, PolicyConfig()))  # a server's
    accounts_before, items = stored_rows(ledger), len(list(ledger.item_ids()))
    months_before = stored_month_rows(ledger)
    rebuilt = runner.invoke(cli_app, ["readmodels", "rebuild", "--db", db_url])
    after_rebuild = views.table_rows()
    accounts_after, months_after = stored_rows(ledger), stored_month_rows(ledger)
    left_to_the_follower = accounts_step(ledger, PolicyConfig()).behind()
    kept = MonthTable(AccountTable(ledger, PolicyConfig())).covered_from()
    checked = check_accounts(ledger, PolicyConfig())  # custody verify
    late = issue(ledger, "LATE-1")
    followed = runner.invoke(cli_app, ["readmodels", "follow", "--once", "--db", db_url])

    assert rebuilt.exit_code == 0, rebuilt.output
    assert f"rebuilt the read models: {size} entries applied" in rebuilt.stdout
    assert after_rebuild == before
    assert f"rebuilt the stored accounts (docs/policies.md): {items} items" in rebuilt.stdout
    assert len(accounts_before) == items and accounts_after == accounts_before
    # the month rows too, as the follower keeps them (from the months kept at the command's clock)
    assert left_to_the_follower == 0 and kept is not None  # the follower recomputes no item again
    after = format_time(month_end(start_of(kept)))
    assert len(months_after) >= items  # a settled row each, and the rows of kept month ends
    assert months_after == [row for row in months_before if row[3] > after]  # until_at
    assert [(c.rows, c.note) for c in checked] == [(items, ""), (len(months_after), "")]
    assert followed.exit_code == 0, followed.output
    assert f"applied 1 entries; the read models are at {size + 1}" in followed.stdout
    assert views.summary(late) is not None
    assert AccountTable(ledger, PolicyConfig()).position() == size + 1  # the follower's 2nd step
