"""`custody report unaccounted`: the tables an official reads, on a store made by `custody init`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from custody_cli import app
from ledger.application.ledger import Ledger
from ledger.domain.access import Actor
from ledger.domain.tokens import Role
from ledger.integrity.signing import Signer, read_private_key_file
from tests.conftest import Clock
from tests.programme import ADMIN, UNITS, conclude_agreement

runner = CliRunner()
DB = "sqlite:///custody.db"
INVESTIGATOR = Actor("investigator", Role.INVESTIGATOR)


def init_key() -> Signer:
    """The log key `custody init` made (in the test's directory): it signs every receipt."""
    return Signer.from_text(read_private_key_file("custody.key"))


def jan(day: int) -> datetime:
    return datetime(2026, 1, day, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(clock: Clock) -> Iterator[dict[str, str]]:
    """A store made by `custody init`; four rifles, three of them unaccounted for by 2026-01-30."""
    made = runner.invoke(app, ["init", "--json", "--db", DB])
    assert made.exit_code == 0, made.output
    clock.now = jan(1)
    ledger = Ledger(clock=clock, db=DB, signer=init_key())
    for party, kind, parent in [
        ("supplier", "supplier", None),
        ("force", "recipient", None),
        *((unit, "recipient", "force") for unit in UNITS),
        ("outsider", "recipient", None),
        ("inspectorate", "inspector", None),
        ("investigator", "investigator", None),
    ]:
        ledger.register_party(party_id=party, name=party, kind=kind, parent=parent, actor=ADMIN)
    conclude_agreement(ledger, "eua-1", "Programme One", ["force", *UNITS])
    clock.now = jan(2)
    ids = {}
    for serial, recipient in [
        ("R-1", "unit-1"),
        ("R-2", "unit-1"),
        ("R-3", "unit-2"),
        ("R-4", "unit-2"),
    ]:
        ids[serial] = ledger.issue(
            serial=serial,
            manufacturer="Arsenal",
            model="AR",
            category="rifle",
            agreement="eua-1",
            recipient=recipient,
            occurred_at=jan(2),
            actor=ADMIN,
        ).id
    clock.now = jan(12)
    ledger.report_lost(ids["R-1"], circumstances="stolen", occurred_at=jan(10), actor=ADMIN)
    clock.now = jan(16)
    ledger.sight(
        ids["R-2"],
        observer="investigator",
        held_by="outsider",
        location="Border market",
        occurred_at=jan(15),
        actor=INVESTIGATOR,
    )
    clock.now = jan(21)
    for serial, result in [("R-3", "not_presented"), ("R-4", "verified")]:
        ledger.inspect(
            ids[serial],
            result=result,
            method="physical",
            inspector="inspectorate",
            occurred_at=jan(20),
            actor=ADMIN,
        )
    ledger.close()
    yield {serial: str(item) for serial, item in ids.items()}


def report(*args: str) -> tuple[int, list[str], str]:
    result = runner.invoke(app, ["report", "unaccounted", "--db", DB, *args])
    return result.exit_code, result.stdout.splitlines(), result.stderr


def tables(lines: list[str]) -> tuple[list[list[str]], list[list[str]]]:
    """The rows of the unaccounted table and of the rates table, cell by cell."""
    split = next(i for i, line in enumerate(lines) if line.strip() == "Per recipient")

    def rows(part: list[str]) -> list[list[str]]:
        return [[c.strip() for c in line.strip("│ ").split("│")] for line in part if "│" in line]

    return rows(lines[:split]), rows(lines[split:])


def log_index(store: dict[str, str], serial: str, entry: int) -> str:
    ledger = Ledger(clock=Clock(), db=DB, signer=init_key())
    try:
        return str(ledger.history(store[serial])[entry].log_index)
    finally:
        ledger.close()


def test_the_table_names_each_unaccounted_serial_why_and_the_log_entries_behind_it(
    store: dict[str, str],
) -> None:
    code, lines, errors = report("--as-of", "2026-01-30T00:00:00Z")

    assert code == 0, errors
    assert lines[0].strip() == "Unaccounted for as of 2026-01-30T00:00:00.000000Z: 3"
    unaccounted, _ = tables(lines)
    assert unaccounted == [
        [
            "R-1",
            "rifle",
            "unit-1",
            "unit-1",
            "lost",
            "lost: reported stolen and not recovered",
            log_index(store, "R-1", 1),
        ],
        [
            "R-2",
            "rifle",
            "unit-1",
            "unit-1",
            "in_custody",
            "diversion: seen with outsider, not authorized by agreement eua-1",
            log_index(store, "R-2", 1),
        ],
        [
            "R-3",
            "rifle",
            "unit-2",
            "unit-2",
            "in_custody",
            "failed_inspection: inspection found: not_presented",
            log_index(store, "R-3", 1),
        ],
    ]


def test_the_rates_table_gives_each_recipients_accountability_and_delinquency(
    store: dict[str, str],
) -> None:
    code, lines, _ = report("--as-of", "2026-04-10T00:00:00+02:00")

    assert code == 0
    assert lines[0].strip() == "Unaccounted for as of 2026-04-09T22:00:00.000000Z: 3"
    # Delinquency is overdue / in custody: R-1 (stolen) is not in unit-1's custody, so R-2,
    # never inspected, is 1 of 1; R-3 (not presented) is overdue, R-4 (verified 2026-01-20) not.
    assert tables(lines)[1] == [
        ["unit-1", "2", "0", "0.0%", "1", "100.0%", "0", "0"],
        ["unit-2", "2", "1", "50.0%", "1", "50.0%", "1", "0"],
    ]


def test_known_at_and_the_filters_narrow_the_answer(store: dict[str, str]) -> None:
    _, known_early, _ = report(
        "--as-of", "2026-01-30T00:00:00Z", "--known-at", "2026-01-14T00:00:00Z"
    )
    _, unit_2, _ = report("--as-of", "2026-01-30T00:00:00Z", "--recipient", "unit-2")
    _, other, _ = report("--as-of", "2026-01-30T00:00:00Z", "--programme", "Programme Two")

    assert [r[0] for r in tables(known_early)[0]] == ["R-1"]
    assert [r[0] for r in tables(unit_2)[0]] == ["R-3"]
    assert tables(unit_2)[1] == [["unit-2", "2", "1", "50.0%", "0", "0.0%", "1", "0"]]
    assert tables(other) == ([], [])


def test_a_date_without_a_zone_exits_1_with_one_line(store: dict[str, str]) -> None:
    code, lines, errors = report("--as-of", "2026-01-30T00:00:00")

    assert code == 1
    assert lines == []
    assert errors == "custody: --as-of must carry a time zone, e.g. 2026-03-01T09:30:00Z\n"


def test_a_plain_date_means_the_end_of_that_day_in_utc_as_on_the_dashboard(
    store: dict[str, str],
) -> None:
    """R-1 is lost on 01-10 at 08:00: unaccounted at the end of 01-10, not at its start."""
    by_date = report("--as-of", "2026-01-10")
    end_of_day = report("--as-of", "2026-01-10T23:59:59.999999Z")
    start_of_day = report("--as-of", "2026-01-10T00:00:00Z")

    assert by_date[0] == 0, by_date[2]
    assert tables(by_date[1]) == tables(end_of_day[1])
    assert tables(by_date[1]) != tables(start_of_day[1])
    assert by_date[1][0].startswith("Unaccounted for as of 2026-01-10T23:59:59.999999Z")


def test_csv_prints_the_same_csv_as_the_api(store: dict[str, str]) -> None:
    code, lines, errors = report("--as-of", "2026-01-30", "--csv")
    _, rates, _ = report("--as-of", "2026-01-30", "--csv", "--view", "recipients")

    assert code == 0, errors
    assert lines[0].startswith("as_of,known_at,item_id,serial,")
    assert sorted(line.split(",")[3] for line in lines[1:]) == ["R-1", "R-2", "R-3"]
    assert all(line.startswith("2026-01-30T23:59:59.999999Z,,") for line in lines[1:])
    assert rates[0].startswith("as_of,known_at,recipient,issued,")
    assert [line.split(",")[2] for line in rates[1:]] == ["unit-1", "unit-2"]


def test_a_policy_file_changes_the_answer_and_a_bad_one_exits_1_with_one_line(
    store: dict[str, str], in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (in_tmp / "strict.toml").write_text("[inspections]\ninterval_days = 10\n")
    (in_tmp / "bad.toml").write_text("[inspections]\nintervall_days = 10\n")

    _, default, _ = report("--as-of", "2026-02-05T00:00:00Z")
    code, strict, _ = report("--as-of", "2026-02-05T00:00:00Z", "--policy", "strict.toml")
    bad_code, bad, errors = report("--as-of", "2026-02-05T00:00:00Z", "--policy", "bad.toml")
    monkeypatch.setenv("CUSTODY_POLICY", "strict.toml")
    _, from_env, _ = report("--as-of", "2026-02-05T00:00:00Z")

    assert tables(default)[1] == [
        ["unit-1", "2", "0", "0.0%", "0", "0.0%", "0", "0"],
        ["unit-2", "2", "1", "50.0%", "0", "0.0%", "1", "0"],
    ]
    assert code == 0
    assert tables(strict)[1] == [
        ["unit-1", "2", "0", "0.0%", "1", "100.0%", "0", "0"],
        ["unit-2", "2", "1", "50.0%", "2", "100.0%", "1", "0"],
    ]
    assert tables(from_env) == tables(strict)
    assert (bad_code, bad) == (1, [])
    assert errors == "custody: policy file: unknown setting inspections.intervall_days\n"


def test_a_recipient_with_nothing_in_custody_has_no_delinquency(
    store: dict[str, str], clock: Clock
) -> None:
    clock.now = jan(25)
    ledger = Ledger(clock=clock, db=DB, signer=init_key())
    try:
        ledger.report_lost(store["R-2"], circumstances="lost", occurred_at=jan(24), actor=ADMIN)
    finally:
        ledger.close()

    code, lines, errors = report("--as-of", "2026-04-10T00:00:00Z")

    assert code == 0, errors
    assert tables(lines)[1] == [
        ["unit-1", "2", "0", "0.0%", "0", "0.0%", "0", "0"],
        ["unit-2", "2", "1", "50.0%", "1", "50.0%", "1", "0"],
    ]
