"""Bounds on growth by low-privilege roles (ledger/domain/bounds.py), on SQLite and PostgreSQL: per
actor
and item, at most so many sightings and inspections a UTC day; over it, 429 and nothing recorded."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.application.ledger import Ledger
from ledger.domain.access import Actor
from ledger.domain.bounds import Bounds
from ledger.domain.errors import InvalidInput, LimitExceeded
from ledger.store.config import Config
from tests import programme
from tests.conftest import Clock, LedgerFactory
from tests.programme import ADMIN, INSPECTOR, INVESTIGATOR, ago, issue, register


@pytest.fixture
def ledger(make_ledger: LedgerFactory, db_url: str) -> Ledger:
    bounded = make_ledger(db_url, bounds=Bounds(max_sightings_per_day=3, max_inspections_per_day=2))
    register(bounded)
    return bounded


def sight(ledger: Ledger, item: UUID, actor: Actor = INVESTIGATOR) -> int:
    """A sighting an hour ago that `actor` records of its own."""
    return programme.sight(
        ledger, item, ago(ledger, hours=1), observer=actor.party, actor=actor
    ).log_index


def inspect(ledger: Ledger, item: UUID) -> int:
    """The inspectorate's own inspection an hour ago, physical and verified."""
    return programme.inspect(ledger, item, ago(ledger, hours=1), actor=INSPECTOR).log_index


def test_a_sighting_over_the_days_bound_is_refused_and_records_nothing(
    ledger: Ledger, clock: Clock
) -> None:
    item = issue(ledger)
    for _ in range(3):
        sight(ledger, item)
    size = ledger.log_store.log_size()

    with pytest.raises(
        LimitExceeded, match="the most allowed a day \\(CUSTODY_MAX_SIGHTINGS_PER_DAY\\)"
    ) as refused:
        sight(ledger, item)

    assert refused.value.message == (
        f"investigator recorded 3 sightings of item {item} today (UTC), the most allowed a day"
        " (CUSTODY_MAX_SIGHTINGS_PER_DAY); nothing was recorded"
    )
    assert ledger.log_store.log_size() == size


def test_the_bound_is_per_actor_per_item_and_per_day(ledger: Ledger, clock: Clock) -> None:
    item, other = issue(ledger), issue(ledger, "AK-0002")
    for _ in range(3):
        sight(ledger, item)

    sight(ledger, other)  # another item
    sight(ledger, item, INSPECTOR)  # another actor
    clock.now = (clock.now + timedelta(days=1)).replace(hour=0, minute=1)
    sight(ledger, item)  # the next UTC day

    assert len(ledger.history(item)) == 1 + 3 + 1 + 1


def test_the_operator_back_filling_history_is_not_bound_per_day(ledger: Ledger) -> None:
    item = issue(ledger)

    for days in range(5):
        programme.sight(ledger, item, ago(ledger, days=days + 1))

    assert len(ledger.history(item)) == 6


def test_an_inspection_over_the_days_bound_is_refused(ledger: Ledger) -> None:
    item = issue(ledger)
    inspect(ledger, item)
    inspect(ledger, item)

    with pytest.raises(
        LimitExceeded, match="the most allowed a day \\(CUSTODY_MAX_INSPECTIONS_PER_DAY\\)"
    ) as refused:
        inspect(ledger, item)

    assert refused.value.message.startswith(
        f"inspectorate recorded 2 inspections of item {item} today (UTC)"
    )


def test_over_the_bound_the_api_answers_429(ledger: Ledger) -> None:
    item = issue(ledger)
    token, _ = ledger.grant_token(party="investigator", role="investigator", actor=ADMIN)
    body = {"observer": "investigator", "location": "market", "occurred_at": "2026-03-01T09:00:00Z"}
    with TestClient(create_app(ledger), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        answers = [client.post(f"/v1/items/{item}/sightings", json=body) for _ in range(4)]

    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert answers[3].json()["error"]["code"] == "limit_exceeded"


def test_the_bounds_come_from_the_environment_and_a_bad_one_is_refused() -> None:
    config = Config.from_env(
        {"CUSTODY_MAX_ACTIVE_KEYS": "5", "CUSTODY_MAX_SIGHTINGS_PER_DAY": "100"}
    )

    with pytest.raises(
        InvalidInput,
        match="CUSTODY_MAX_INSPECTIONS_PER_DAY '0' must be a whole number of at least 1",
    ) as refused:
        Config.from_env({"CUSTODY_MAX_INSPECTIONS_PER_DAY": "0"})

    assert config.bounds == Bounds(
        max_active_keys=5, max_sightings_per_day=100, max_inspections_per_day=20
    )
    assert refused.value.message == (
        "CUSTODY_MAX_INSPECTIONS_PER_DAY '0' must be a whole number of at least 1"
    )
