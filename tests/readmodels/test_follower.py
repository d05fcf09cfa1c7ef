"""No read pays for catching up (docs/readmodels.md, "Who brings them up to date"): the read models
and the stored accounts are brought up to date by the writer's side (the server's follower after
each save, on its clock for other processes' writes, `custody import` at its end); a read answers
from them as they are and says how far (`as_of_log_size`), or asks the reference with
`exact=true`. Custody of one item comes from the read models when they have applied all of its
entries, else from the replay. SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.main import create_app
from custody_cli import app as cli_app
from ledger.application.ledger import Ledger
from ledger.domain.times import format_time
from ledger.integrity.signing import Signer, read_private_key_file
from ledger.readmodels.models import CustodyViews, open_views
from policies.accounts import AccountTable
from policies.config import PolicyConfig
from policies.engine import Scope, reference_report
from tests.conftest import Clock, LedgerFactory
from tests.importing import csv_bytes, programme
from tests.programme import ADMIN, ago, issue, register, register_parties

Served = tuple[Ledger, Ledger, TestClient]


@pytest.fixture
def served(make_ledger: LedgerFactory, db_url: str) -> Iterator[Served]:
    """A server's Ledger with its app, a few items written through it, and a second Ledger on
    the same store: another process (an import) the server's follower does not hear."""
    ledger, elsewhere = make_ledger(db_url), make_ledger(db_url)
    register(ledger)
    for n in range(3):
        issue(ledger, f"SRV-{n}")
    token, _ = ledger.grant_token(party="operator", role="admin", actor=ADMIN)
    with TestClient(create_app(ledger), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield ledger, elsewhere, client


def no_catch_up_in_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, applying entries to the read models or recomputing stored accounts fails."""

    def caught_up(*_: Any, **__: Any) -> None:
        raise AssertionError("a read caught the read models up")

    monkeypatch.setattr(CustodyViews, "apply", caught_up)
    monkeypatch.setattr(AccountTable, "catch_up", caught_up)


def replays_counted(monkeypatch: pytest.MonkeyPatch) -> list[UUID]:
    """From here on, the items Ledger.custody_at replays, in order."""
    replays: list[UUID] = []
    replay = Ledger.custody_at

    def counted(self: Ledger, item: Any, **kwargs: Any) -> Any:
        replays.append(item)
        return replay(self, item, **kwargs)

    monkeypatch.setattr(Ledger, "custody_at", counted)
    return replays


def now_text(ledger: Ledger) -> str:
    return format_time(ledger.clock())


def test_a_read_after_many_writes_elsewhere_answers_from_the_read_models_as_they_are(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, elsewhere, client = served
    followed = ledger.log_store.log_size()
    late = [issue(elsewhere, f"LATE-{n}") for n in range(40)]
    no_catch_up_in_reads(monkeypatch)

    holdings = client.get("/v1/custody", params={"holder": "unit-1", "at": now_text(ledger)})
    report = client.get("/v1/reports/unaccounted")
    flags = client.get("/v1/flags")

    assert holdings.status_code == report.status_code == flags.status_code == 200
    assert holdings.json()["as_of_log_size"] == followed < ledger.log_store.log_size()
    assert {i["serial"] for i in holdings.json()["items"]} == {"SRV-0", "SRV-1", "SRV-2"}
    assert report.json()["as_of_log_size"] == followed
    assert flags.json()["as_of_log_size"] == followed
    assert open_views(ledger).position() == followed  # no read moved it
    assert AccountTable(ledger, PolicyConfig()).position() == followed
    assert all(str(item) not in holdings.text for item in late)


def test_exact_answers_come_from_the_reference_whatever_the_read_models_lag(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, elsewhere, client = served
    late = issue(elsewhere, "LATE-1")
    elsewhere.report_lost(
        late, circumstances="stolen", occurred_at=ago(ledger, days=1), actor=ADMIN
    )
    size = ledger.log_store.log_size()
    no_catch_up_in_reads(monkeypatch)

    holdings = client.get(
        "/v1/custody", params={"holder": "unit-1", "at": now_text(ledger), "exact": "true"}
    )
    report = client.get("/v1/reports/unaccounted", params={"exact": "true"})

    assert holdings.json()["as_of_log_size"] == size
    assert [(i["serial"], i["status"]) for i in holdings.json()["items"]] == [
        ("LATE-1", "lost"),
        ("SRV-0", "in_custody"),
        ("SRV-1", "in_custody"),
        ("SRV-2", "in_custody"),
    ]
    assert report.json()["as_of_log_size"] == size
    unaccounted = [i["serial"] for i in report.json()["unaccounted"]]
    expected = reference_report(ledger, Scope(as_of=ledger.clock()), PolicyConfig())
    assert unaccounted == [a.serial for a in expected.unaccounted] == ["LATE-1"]


def test_a_write_the_server_takes_is_followed_before_the_next_read(served: Served) -> None:
    ledger, _, client = served
    body = {
        "serial": "HTTP-1",
        "manufacturer": "Maker",
        "model": "M1",
        "category": "rifle",
        "agreement": "eua-1",
        "recipient": "unit-2",
        "occurred_at": format_time(ago(ledger, days=2)),
    }

    written = client.post("/v1/items", json=body)
    read = client.get("/v1/custody", params={"holder": "unit-2", "at": now_text(ledger)})

    assert written.status_code == 201, written.text
    assert read.json()["as_of_log_size"] == ledger.log_store.log_size()
    assert [i["serial"] for i in read.json()["items"]] == ["HTTP-1"]
    assert AccountTable(ledger, PolicyConfig()).position() == ledger.log_store.log_size()


def test_the_servers_follower_clock_follows_the_writes_of_other_processes(
    make_ledger: LedgerFactory, db_url: str
) -> None:
    ledger, elsewhere = make_ledger(db_url), make_ledger(db_url)
    register(ledger)
    token, _ = ledger.grant_token(party="operator", role="admin", actor=ADMIN)
    app = create_app(ledger, follow_interval=0.05)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        issue(elsewhere, "OTHER-1")
        size = ledger.log_store.log_size()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            read = client.get("/v1/custody", params={"holder": "unit-1", "at": now_text(ledger)})
            if read.json()["as_of_log_size"] == size:
                break
            time.sleep(0.05)

    assert read.json()["as_of_log_size"] == size
    assert [i["serial"] for i in read.json()["items"]] == ["OTHER-1"]


def test_custody_of_one_item_comes_from_the_read_models_once_they_have_all_its_entries(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, elsewhere, client = served
    followed = issue(ledger, "ONE-1", days_ago=10)
    ledger.transfer(followed, to="unit-2", occurred_at=ago(ledger, days=5), actor=ADMIN)
    behind = issue(elsewhere, "ONE-2", days_ago=10)
    replays = replays_counted(monkeypatch)
    at = {"at": format_time(ago(ledger, days=1))}

    from_views = client.get(f"/v1/items/{followed}/custody", params=at)
    exact = client.get(f"/v1/items/{followed}/custody", params=at | {"exact": "true"})
    not_yet_followed = client.get(f"/v1/items/{behind}/custody", params=at)

    assert from_views.json() == exact.json()
    assert from_views.json()["holder"] == "unit-2"
    assert len(from_views.json()["log_indexes"]) == 2
    assert not_yet_followed.json()["holder"] == "unit-1"
    assert replays == [followed, behind]  # the exact one, and the item the views lack


def test_custody_import_brings_the_read_models_and_accounts_up_to_date_at_its_end(
    tmp_path: Path, clock: Clock
) -> None:
    db, key = f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "k"
    env = {"CUSTODY_DB": db, "CUSTODY_KEY": str(key)}
    runner = CliRunner()
    assert runner.invoke(cli_app, ["init"], env=env).exit_code == 0
    signer = Signer.from_text(read_private_key_file(key))
    ledger = Ledger(clock=clock, db=db, signer=signer)
    register_parties(ledger)
    rows = tmp_path / "rows.csv"
    rows.write_bytes(csv_bytes(programme(30)))

    imported = runner.invoke(cli_app, ["import", str(rows)], env=env)

    assert imported.exit_code == 0, imported.output
    size = ledger.log_store.log_size()
    assert open_views(ledger).position() == size
    assert AccountTable(ledger, PolicyConfig()).position() == size
    ledger.close()


def test_custody_before_the_issue_is_refused_by_the_read_models_as_by_the_replay(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, _, client = served
    item = issue(ledger, "EARLY-1", days_ago=10)
    replays = replays_counted(monkeypatch)
    before = {"at": format_time(ago(ledger, days=20)), "known_at": now_text(ledger)}

    from_views = client.get(f"/v1/items/{item}/custody", params=before)
    exact = client.get(f"/v1/items/{item}/custody", params=before | {"exact": "true"})

    assert from_views.status_code == exact.status_code == 404
    assert from_views.json() == exact.json()
    assert "had not been issued by" in from_views.json()["error"]["message"]
    assert replays == [item]  # the exact one only
