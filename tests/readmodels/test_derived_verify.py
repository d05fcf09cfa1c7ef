"""`custody verify`'s derived-state check (ledger/readmodels/derived.py, policies/audit.py) on
SQLite and PostgreSQL: an edit of a custody interval, an item summary, a stored policy account or
a month row (an edited, dropped or added one) changes what /v1/custody, the unaccounted report or
the overview's trend says while the log stays intact; the derived-state check names the first row
that differs, and after `custody readmodels rebuild` verify passes again."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.main import create_app
from custody_cli import app as cli_app
from ledger.application.ledger import Ledger
from ledger.domain.errors import IntegrityFailure
from ledger.domain.times import format_time
from ledger.readmodels.derived import check_read_models
from ledger.readmodels.models import follow, open_views, rebuild
from ledger.store.accounts_tables import ACCOUNTS_TABLE as ACCOUNTS  # versioned
from ledger.store.accounts_tables import MONTHS_TABLE as MONTHS
from policies.accounts import AccountTable
from policies.audit import check_accounts
from policies.config import PolicyConfig
from policies.engine import Scope, follow_accounts, unaccounted_report
from policies.months import follow as follow_months
from policies.months import month_end, month_report, rebuild_accounts
from tests.conftest import SIGNER, Clock
from tests.programme import ADMIN, ago, issue, register
from tests.readmodels.test_readmodels import scripted_history

runner = CliRunner()
POLICY = PolicyConfig()


class Tables:
    """The derived tables, reached without the ledger (sqlite3 or psycopg), `?` parameters."""

    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite:///")
        if self.sqlite:
            self.conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
            self.prefix = ""
        else:
            base, schema = url.split("?schema=")
            self.conn = psycopg.connect(base, autocommit=True)
            self.prefix = f'"{schema}".'

    def run(self, sql: str, *params: Any) -> list[Any]:
        text = sql.replace("{p}", self.prefix)
        if self.sqlite:
            with self.conn as c:
                return list(c.execute(text, params).fetchall())
        cursor = self.conn.execute(text.replace("?", "%s"), params)
        return list(cursor.fetchall()) if cursor.description else []


@pytest.fixture
def built(store_ledger: Ledger, clock: Clock) -> tuple[Ledger, UUID, UUID]:
    """The programme, an item moved to unit-2 and one lost (issued on 30 January, moved and lost
    in February); read models, accounts and month rows caught up. Answers (ledger, moved item,
    lost item)."""
    ledger = store_ledger
    register(ledger)
    moved, lost = issue(ledger, "AK-0001"), issue(ledger, "AK-0002")
    ledger.transfer(moved, to="unit-2", occurred_at=ago(ledger, days=20), actor=ADMIN)
    ledger.report_lost(lost, circumstances="stolen", occurred_at=ago(ledger, days=10), actor=ADMIN)
    follow(ledger.log_store, open_views(ledger))
    follow_months(ledger, POLICY, AccountTable(ledger, POLICY))  # the follower's accounts step
    return ledger, moved, lost


@pytest.fixture
def tables(built: tuple[Ledger, UUID, UUID], db_url: str) -> Iterator[Tables]:
    opened = Tables(db_url)
    yield opened
    opened.conn.close()


def held_by(ledger: Ledger, holder: str, clock: Clock) -> list[tuple[str, str]]:
    token, _ = ledger.grant_token(party="operator", role="admin", actor=ADMIN)
    api = TestClient(create_app(ledger), headers={"Authorization": f"Bearer {token}"})
    answer = api.get("/v1/custody", params={"holder": holder, "at": format_time(clock())})
    return [(i["serial"], i["status"]) for i in answer.json()["items"]]


def read_models_refused(ledger: Ledger, check: str) -> IntegrityFailure:
    """The failure of check_read_models, whose message `check` matches."""
    with pytest.raises(IntegrityFailure, match=check) as caught:
        check_read_models(ledger)
    return caught.value


def test_the_derived_tables_of_an_untouched_store_match_the_log(
    built: tuple[Ledger, UUID, UUID],
) -> None:
    ledger, _, _ = built

    intervals, summaries, entries = check_read_models(ledger)
    accounts, months = check_accounts(ledger, POLICY)

    size = ledger.log_store.log_size()
    assert (intervals.table, intervals.rows, intervals.position, intervals.behind) == (
        "custody_intervals",
        4,
        size,
        0,
    )
    assert (summaries.table, summaries.rows) == ("item_summary", 2)
    assert (entries.table, entries.rows) == ("custody_item_entries", 4)
    assert (accounts.rows, accounts.behind) == (2, 0)
    assert (months.rows, months.behind, months.note) == (4, 0, "")  # January's, and all facts'


def test_an_edited_custody_interval_changes_v1_custody_and_the_derived_state_check_names_it(
    built: tuple[Ledger, UUID, UUID], tables: Tables, clock: Clock
) -> None:
    ledger, moved, _ = built
    tables.run(
        "UPDATE {p}custody_intervals SET holder = 'unit-3' WHERE item_id = ? AND holder = 'unit-2'",
        str(moved),
    )

    assert held_by(ledger, "unit-3", clock) == [("AK-0001", "in_custody")]  # the lie is served
    refused = read_models_refused(ledger, "custody_intervals differs from the log")
    assert refused.message.startswith(
        f"custody_intervals differs from the log: row 2 of item {moved}: expected ("
    )
    assert "'unit-2'" in refused.expected and "'unit-3'" in refused.got

    follow_rebuild(ledger)
    assert [c.rows for c in check_read_models(ledger)] == [4, 2, 4]
    assert held_by(ledger, "unit-3", clock) == []


def test_an_edited_item_summary_changes_v1_custody_and_the_derived_state_check_names_it(
    built: tuple[Ledger, UUID, UUID], tables: Tables, clock: Clock
) -> None:
    ledger, moved, _ = built
    tables.run("UPDATE {p}item_summary SET serial = 'AK-9999' WHERE item_id = ?", str(moved))

    assert held_by(ledger, "unit-2", clock) == [("AK-9999", "in_custody")]
    refused = read_models_refused(ledger, "item_summary differs from the log")
    assert refused.message.startswith(
        f"item_summary differs from the log: row 1 of item {moved}: expected ('{moved}', "
        "'AK-0001', "
    )
    assert refused.got.startswith(f"('{moved}', 'AK-9999', ")

    follow_rebuild(ledger)
    assert held_by(ledger, "unit-2", clock) == [("AK-0001", "in_custody")]


def test_an_edited_item_entry_changes_custody_at_a_time_and_the_derived_state_check_names_it(
    built: tuple[Ledger, UUID, UUID], tables: Tables, clock: Clock
) -> None:
    ledger, moved, _ = built
    token, _ = ledger.grant_token(party="operator", role="admin", actor=ADMIN)
    api = TestClient(create_app(ledger), headers={"Authorization": f"Bearer {token}"})
    path, at = f"/v1/items/{moved}/custody", {"at": format_time(clock())}
    honest = api.get(path, params=at).json()["log_indexes"]
    tables.run(
        "UPDATE {p}custody_item_entries SET log_index = 999 WHERE item_id = ? AND version = 2",
        str(moved),
    )

    assert api.get(path, params=at).json()["log_indexes"] == [honest[0], 999]  # the lie is served
    refused = read_models_refused(ledger, "custody_item_entries differs")
    assert refused.message.startswith(
        f"custody_item_entries differs from the log: row 2 of item {moved}: expected ("
        f"'{moved}', {honest[1]}, 2, "
    )

    follow_rebuild(ledger)
    assert api.get(path, params=at).json()["log_indexes"] == honest


def test_a_deleted_item_summary_row_is_named_as_missing(
    built: tuple[Ledger, UUID, UUID], tables: Tables
) -> None:
    ledger, _, lost = built
    tables.run("DELETE FROM {p}item_summary WHERE item_id = ?", str(lost))

    refused = read_models_refused(ledger, "item_summary differs from the log: .* got no row")

    assert refused.message.startswith(f"item_summary differs from the log: row 1 of item {lost}")
    assert refused.got == "no row"


def test_a_row_of_an_item_the_log_never_issued_is_named(
    built: tuple[Ledger, UUID, UUID], tables: Tables
) -> None:
    ledger, moved, _ = built
    stranger = str(uuid4())
    tables.run(
        "INSERT INTO {p}custody_intervals SELECT ?, holder, status, valid_from, valid_to,"
        " recorded_from, recorded_to FROM {p}custody_intervals WHERE item_id = ?",
        stranger,
        str(moved),
    )

    refused = read_models_refused(
        ledger, "custody_intervals has rows of item .*, which the log does not have"
    )

    assert refused.message.startswith(
        f"custody_intervals has rows of item {stranger}, which the log does not have"
    )


def test_an_edited_stored_account_changes_the_report_and_the_derived_state_check_names_it(
    built: tuple[Ledger, UUID, UUID], tables: Tables, clock: Clock
) -> None:
    ledger, _, lost = built
    before = unaccounted_report(ledger, Scope(as_of=clock()), POLICY)
    tables.run(
        "UPDATE {p}" + ACCOUNTS + " SET unaccounted_from = NULL, findings = NULL,"
        " status = 'in_custody' WHERE item_id = ?",
        str(lost),
    )

    after = unaccounted_report(ledger, Scope(as_of=clock()), POLICY)
    assert [a.item_id for a in before.unaccounted] == [lost]
    assert after.unaccounted == []  # the loss is gone from the report
    with pytest.raises(IntegrityFailure, match=r"\(policy .*\) differs from the log") as caught:
        check_accounts(ledger, POLICY)
    message = caught.value.message
    assert message.startswith(f"{ACCOUNTS} (policy ")
    assert f"differs from the log: row 1 of item {lost}: expected (" in message
    assert "'lost'" in caught.value.expected and "'in_custody'" in caught.value.got

    rebuild_accounts(ledger, POLICY)
    assert [c.rows for c in check_accounts(ledger, POLICY)] == [2, 4]
    repaired = unaccounted_report(ledger, Scope(as_of=clock()), POLICY)
    assert [a.item_id for a in repaired.unaccounted] == [lost]


# The month rows (policies/months.py): the overview's trend -----------------------------------

JANUARY, FEBRUARY = (
    month_end(datetime(2026, 1, 5, tzinfo=UTC)),
    month_end(datetime(2026, 2, 5, tzinfo=UTC)),
)


def trend(ledger: Ledger) -> list[int]:
    """The unaccounted count the month rows answer at the ends of January and February."""
    found = [month_report(ledger, Scope(as_of=end), POLICY) for end in (JANUARY, FEBRUARY)]
    return [month[1] for month in found if month is not None]


def months_refused(ledger: Ledger, check: str) -> IntegrityFailure:
    """check_accounts' failure, whose message `check` matches."""
    with pytest.raises(IntegrityFailure, match=check) as caught:
        check_accounts(ledger, POLICY)
    return caught.value


def repaired(ledger: Ledger) -> None:
    """After `custody readmodels rebuild` verify passes and the trend is the log's again."""
    rebuild_accounts(ledger, POLICY)
    assert [c.rows for c in check_accounts(ledger, POLICY)] == [2, 4]
    assert trend(ledger) == [0, 1]


TAMPERED = {  # the lost item's rows: January's (in custody then) and the one after its last fact
    "edited": (
        "UPDATE {p}" + MONTHS + " SET status = 'lost', unaccounted_from = issued_at"
        " WHERE item_id = ? AND until_at < '9999'",
        [1, 1],  # the loss moved to January in the overview
        1,
        "'lost', '2026-01-30T",  # the stored row: lost from its issue
    ),
    "dropped": (
        "DELETE FROM {p}" + MONTHS + " WHERE item_id = ? AND until_at > '9999'",
        [0, 0],  # February's loss is gone from the overview
        2,
        "no row",
    ),
}


@pytest.mark.parametrize("tampering", sorted(TAMPERED))
def test_an_edited_or_dropped_month_row_changes_the_trend_and_the_derived_state_check_names_it(
    built: tuple[Ledger, UUID, UUID], tables: Tables, tampering: str
) -> None:
    ledger, _, lost = built
    sql, served, row, got = TAMPERED[tampering]
    assert trend(ledger) == [0, 1]
    tables.run(sql, str(lost))

    assert trend(ledger) == served
    refused = months_refused(ledger, rf"{MONTHS} \(policy .*\) differs from the log")
    assert f"differs from the log: row {row} of item {lost}: expected (" in refused.message
    assert got in refused.got
    repaired(ledger)


def test_an_added_month_row_changes_the_trend_and_the_derived_state_check_names_it(
    built: tuple[Ledger, UUID, UUID], tables: Tables
) -> None:
    ledger, moved, lost = built
    added = format_time(datetime(2026, 2, 10, tzinfo=UTC))
    tables.run(  # moved, said lost from 10 February on
        "INSERT INTO {p}" + MONTHS + " SELECT policy, ?, ?, until_at, recipient, programme,"
        " category, status, issued_at, unaccounted_from, overdue_from, verified_from,"
        " self_reported_from, computed_at FROM {p}" + MONTHS + " WHERE item_id = ?"
        " AND until_at > '9999'",
        str(moved),
        added,
        str(lost),
    )

    assert trend(ledger) == [0, 2]  # counted twice at the end of February
    refused = months_refused(ledger, f"{MONTHS} .* differs from the log: .* expected no row")
    assert f"differs from the log: row 3 of item {moved}: expected no row, got (" in refused.message
    stranger = str(uuid4())
    tables.run(
        "UPDATE {p}" + MONTHS + " SET item_id = ? WHERE item_id = ? AND last_at = ?",
        stranger,
        str(moved),
        added,
    )
    assert trend(ledger) == [0, 2]  # an item the log never issued, counted
    months_refused(ledger, f"{MONTHS} .* has rows of item {stranger}, which the log does not")
    repaired(ledger)


def test_month_rows_left_behind_by_a_catch_up_without_them_are_not_compared_and_that_is_told(
    built: tuple[Ledger, UUID, UUID], tables: Tables
) -> None:
    ledger, moved, _ = built
    ledger.transfer(moved, to="unit-3", occurred_at=ago(ledger, days=1), actor=ADMIN)
    follow_accounts(ledger, POLICY)  # the engine's catch-up: the overview reads the report
    tables.run("DELETE FROM {p}" + MONTHS + " WHERE item_id = ?", str(moved))

    accounts, months = check_accounts(ledger, POLICY)

    assert (accounts.rows, months.rows) == (2, 0)
    assert months.note.startswith("not compared: they answer for no month")
    assert trend(ledger) == []


def test_entries_the_read_models_have_not_caught_up_with_are_not_compared_and_the_lag_is_told(
    built: tuple[Ledger, UUID, UUID],
) -> None:
    ledger, moved, _ = built
    ledger.transfer(moved, to="unit-3", occurred_at=ago(ledger, days=1), actor=ADMIN)
    issue(ledger, "AK-0003")

    intervals, summaries, entries = check_read_models(ledger)
    accounts, months = check_accounts(ledger, POLICY)

    assert (intervals.behind, summaries.behind, entries.behind) == (2, 2, 2)
    assert (accounts.behind, accounts.rows) == (2, 1)  # moved: skipped
    assert (months.behind, months.rows) == (2, 2)


def test_read_models_followed_a_few_entries_at_a_time_match_their_recomputation(
    store_ledger: Ledger, clock: Clock
) -> None:
    """The incremental path of the views (open rows carried on, late entries rewriting an item's
    rows) gives what the check recomputes from scratch, on a history with late and out-of-order
    entries."""
    views = open_views(store_ledger)
    scripted_history(
        store_ledger,
        clock,
        seed=5,
        after_each=lambda: follow(store_ledger.log_store, views, batch=3),
    )

    checked = check_read_models(store_ledger)

    assert [c.behind for c in checked] == [0, 0, 0] and checked[0].rows > 5


def follow_rebuild(ledger: Ledger) -> None:
    """What `custody readmodels rebuild` does."""
    rebuild(ledger.log_store, open_views(ledger))
    rebuild_accounts(ledger, POLICY)


# The command ------------------------------------------------------------------------------------


def test_custody_verify_names_the_edited_row_exits_1_and_passes_after_readmodels_rebuild(
    built: tuple[Ledger, UUID, UUID], tables: Tables, db_url: str, tmp_path: Path
) -> None:
    ledger, moved, _ = built
    ledger.tlog.checkpoint()
    key = tmp_path / "custody.key"
    key.write_text(SIGNER.to_text() + "\n")
    key.chmod(0o600)
    env = {"CUSTODY_DB": db_url, "CUSTODY_KEY": str(key)}
    tables.run("UPDATE {p}item_summary SET status = 'disposed' WHERE item_id = ?", str(moved))

    failed = runner.invoke(cli_app, ["verify"], env=env)
    rebuilt = runner.invoke(cli_app, ["readmodels", "rebuild"], env=env)
    passed = runner.invoke(cli_app, ["verify"], env=env)

    assert failed.exit_code == 1
    (line,) = failed.stderr.splitlines()
    assert line.startswith(f"custody: item_summary differs from the log: row 1 of item {moved}: ")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert passed.exit_code == 0, passed.output
    size = ledger.log_store.log_size()
    assert f"derived: custody_intervals: 4 rows match the log up to entry {size}\n" in passed.stdout
    assert f"derived: item_summary: 2 rows match the log up to entry {size}\n" in passed.stdout
    assert f"derived: {ACCOUNTS} (policy " in passed.stdout
    assert f"derived: {MONTHS} (policy " in passed.stdout
