"""Custody of one item at a time from the read models (ledger/readmodels/models.py) agrees with the
reference replay (ledger/domain/replay.py), whole answer for whole answer: holder, status, the
time of the last event applied and the log entries the answer rests on, in the order replay
applies them. Histories are random: events dated up to 300 days back (late, out of field order,
some refused as before the issue), recorded at the same time as the one before or by a writer
whose clock is behind, corrections of earlier entries, and the views followed at random points
(so both the incremental fold and the rewrite of an item recorded out of order are exercised).
Asked at field times and recording times (`known_at`) around every entry. SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from itertools import count
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application.ledger import Ledger
from ledger.domain.errors import CustodyError, NotFound
from ledger.domain.replay import CustodyState
from ledger.readmodels.models import CustodyViews, follow, open_views
from tests.checks_histories import record
from tests.conftest import Clock, LedgerFactory
from tests.programme import UNITS, ago, issue, register

KINDS = ("transfer", "transfer", "lose", "recover", "inspect", "dispose", "sight", "correct")
TICK = timedelta(microseconds=1)
SERIALS = count()
Op = tuple[int, str, float, str, bool]

ops = st.lists(
    st.tuples(
        st.integers(0, 2),  # which item
        st.sampled_from(KINDS),
        st.floats(0, 300),  # occurred this many days before the clock
        st.sampled_from(["same", "behind", "later", "later"]),  # the recording clock
        st.booleans(),  # the follower runs after this write
    ),
    max_size=24,
)


@pytest.fixture
def store(make_ledger: LedgerFactory, db_url: str, clock: Clock) -> tuple[Ledger, CustodyViews]:
    """One store for every example: each example issues items of its own."""
    ledger = make_ledger(db_url)
    register(ledger)
    return ledger, open_views(ledger)


def write(ledger: Ledger, clock: Clock, items: list[UUID], op: Op) -> None:
    which, kind, days, recorded, _ = op
    if recorded == "behind":
        clock.advance(minutes=-30)
    elif recorded == "later":
        clock.advance(hours=7)
    item, at = items[which], ago(ledger, days=days)
    with contextlib.suppress(CustodyError):  # refused: before the issue, lost twice, ...
        record(ledger, item, kind, at=at, party=UNITS[int(days) % 3])


def reference(ledger: Ledger, item: UUID, at: datetime, known: datetime | None) -> object:
    try:
        return ledger.custody_at(item, at=at, known_at=known)
    except NotFound:
        return None


def from_views(views: CustodyViews, item: UUID, at: datetime, known: datetime | None) -> object:
    found: CustodyState | None = views.custody_at(item, at=at, known_at=known)
    return found


def moments(ledger: Ledger, item: UUID) -> tuple[list[datetime], list[datetime | None]]:
    """Field times and recording times at, and a microsecond before, every entry of the item."""
    facts = ledger.facts(item)
    ats = {f.occurred_at + d for f in facts for d in (-TICK, timedelta(0))}
    ats |= {facts[0].occurred_at + timedelta(days=999)}
    knowns = {f.recorded_at + d for f in facts for d in (-TICK, timedelta(0))}
    return sorted(ats), [None, *sorted(knowns)]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=ops)
def test_custody_at_from_the_read_models_is_the_replays_answer(
    store: tuple[Ledger, CustodyViews], clock: Clock, history: list[Op]
) -> None:
    ledger, views = store
    items = [issue(ledger, f"PM-{next(SERIALS)}", days_ago=300 - 20 * n) for n in range(3)]
    for op in history:
        write(ledger, clock, items, op)
        if op[4]:
            follow(ledger.log_store, views)
    follow(ledger.log_store, views)

    for item in items:
        assert views.applied_all_of(item)
        ats, knowns = moments(ledger, item)
        for at in ats:
            for known in knowns:
                expected = reference(ledger, item, at, known)
                assert from_views(views, item, at, known) == expected, (item, at, known)
