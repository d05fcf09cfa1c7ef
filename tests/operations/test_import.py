"""Bulk import: every bad row reported with its line first; atomic batches; resumable without
doubling; a custody rule stopping it at the row that breaks it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger.application.ledger import Ledger
from ledger.domain.errors import InvalidInput
from ledger.domain.items import Status
from ledger.domain.times import system_clock
from ledger.integrity.signing import Signer, read_private_key_file
from ledger.operations.imports import file_digest, import_rows, read_rows
from tests.conftest import LedgerFactory
from tests.importing import csv_bytes, issue, programme, transfer
from tests.programme import ADMIN, register, register_parties


@pytest.fixture
def ledger(make_ledger: LedgerFactory, db_url: str) -> Ledger:
    ledger = make_ledger(db_url)
    register(ledger)
    return ledger


def run(ledger: Ledger, data: bytes, **kwargs: object) -> tuple[int, int, list[str]]:
    rows, problems = read_rows(data, kind="csv")
    assert problems == []
    outcome = import_rows(ledger, rows, actor=ADMIN, digest=file_digest(data), **kwargs)  # type: ignore[arg-type]
    return outcome.stored, outcome.skipped, [str(p) for p in outcome.problems]


def test_every_bad_row_is_reported_with_its_line_before_anything_is_stored() -> None:
    rows = [
        issue("OK-1"),
        issue(""),
        {**issue("OK-2"), "occurred_at": "2026-01-10T00:00:00"},
        {**issue("OK-3"), "action": "teleport"},
        issue("OK-1"),
        {**transfer("OK-1"), "to": ""},
    ]

    _, problems = read_rows(csv_bytes(rows), kind="csv")

    assert [str(p) for p in problems] == [
        "line 3: issue needs serial",
        "line 4: occurred_at '2026-01-10T00:00:00' has no time zone",
        "line 5: action 'teleport' is not one of: issue, transfer, receive, inspect, "
        "report_lost, recover, sight, dispose, correct",
        "line 7: transfer needs to",
        "line 6: serial OK-1 of Maker M1 is issued again (first on line 2)",
    ]


def test_a_file_imports_in_batches_and_every_entry_verifies(ledger: Ledger) -> None:
    before = ledger.log_store.log_size()

    stored, skipped, problems = run(ledger, csv_bytes(programme(30)), batch_size=7)

    assert (stored, skipped, problems) == (60, 0, [])
    assert ledger.log_store.log_size() == before + 60 * 2  # each row and its nonce
    assert len(list(ledger.item_ids())) == 30
    assert ledger.tlog.verify(ledger.tlog.verifier()).entries == ledger.log_store.log_size()


def test_running_the_same_file_again_stores_nothing_new(ledger: Ledger) -> None:
    data = csv_bytes(programme(10))
    run(ledger, data, batch_size=4)
    size = ledger.log_store.log_size()

    stored, skipped, _ = run(ledger, data, batch_size=3)

    assert (stored, skipped) == (0, 20)
    assert ledger.log_store.log_size() == size


def test_an_import_interrupted_after_some_batches_resumes_without_doubling(ledger: Ledger) -> None:
    data = csv_bytes(programme(10))
    rows, _ = read_rows(data, kind="csv")
    import_rows(ledger, rows[:8], actor=ADMIN, digest=file_digest(data), batch_size=4)  # "crash"

    stored, skipped, _ = run(ledger, data, batch_size=4)

    assert (stored, skipped) == (12, 8)
    histories = [len(ledger.history(i)) for i in ledger.item_ids()]
    assert histories == [2] * 10


def test_a_row_refused_by_a_custody_rule_stops_the_import_after_the_batches_before_it(
    ledger: Ledger,
) -> None:
    rows = [*programme(4), transfer("IMP-0001", to="unit-2")]  # already with unit-2: refused

    data = csv_bytes(rows)
    parsed, _ = read_rows(data, kind="csv")

    outcome = import_rows(ledger, parsed, actor=ADMIN, digest=file_digest(data), batch_size=3)

    assert outcome.stored == 6  # two whole batches; the third, with the bad row, stored nothing
    assert [str(p) for p in outcome.problems] == ["line 10: item is already held by unit-2"]
    assert outcome.what_was_stored() == "the rows before line 8 are stored, none from line 8 on"
    assert ledger.item(next(iter(ledger.item_ids()))).holder == "unit-2"


def test_json_lines_import_the_same_way(ledger: Ledger) -> None:
    data = (
        b'{"action": "issue", "serial": "J-1", "manufacturer": "Maker", "model": "M1", '
        b'"category": "rifle", "agreement": "eua-1", "recipient": "unit-1", '
        b'"occurred_at": "2026-01-10T00:00:00Z"}\n\n'
        b'{"action": "report_lost", "serial": "J-1", "manufacturer": "Maker", "model": "M1", '
        b'"circumstances": "stolen", "occurred_at": "2026-02-10T00:00:00Z"}\n'
        b"not json\n"
    )

    rows, problems = read_rows(data, kind="jsonl")

    assert [str(p) for p in problems] == ["line 4: the line is not JSON"]
    import_rows(ledger, rows, actor=ADMIN, digest=file_digest(data))
    (item,) = ledger.item_ids()
    assert ledger.item(item).status is Status.LOST


def test_a_file_that_is_not_utf8_or_has_no_action_column_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not UTF-8"):
        read_rows(b"\xff\xfe\x00", kind="csv")
    with pytest.raises(InvalidInput, match="header naming an 'action' column"):
        read_rows(b"serial,model\nA,B\n", kind="csv")


def test_the_import_command_refuses_a_file_with_bad_rows_and_names_them(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from custody_cli import app

    runner = CliRunner()
    env = {"CUSTODY_DB": f"sqlite:///{tmp_path / 'c.db'}", "CUSTODY_KEY": str(tmp_path / "k")}
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([issue("A-1"), issue("")]))

    result = runner.invoke(app, ["import", str(bad)], env=env)

    assert result.exit_code == 1
    assert f"{bad}:line 3: issue needs serial" in result.stderr
    assert "1 rows need fixing; nothing was imported" in result.stderr


def test_the_pre_check_finds_future_times_and_events_before_their_issue_row_without_a_store() -> (
    None
):
    """Issue 16: such a row passed the pre-check and then stopped the import half-way."""
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    rows = [
        issue("T-1"),
        {**transfer("T-1"), "occurred_at": "2026-01-09T23:00:00Z"},  # before the issue
        {**issue("T-2"), "occurred_at": "2029-01-01T00:00:00Z"},  # years ahead
        {**transfer("T-1"), "occurred_at": "2026-03-01T12:04:00Z"},  # within the clock skew
        {**issue("T-3"), "occurred_at": "0999-01-01T00:00:00Z"},
    ]

    _, problems = read_rows(csv_bytes(rows), kind="csv", now=now)

    assert [str(p) for p in problems] == [
        "line 6: occurred_at must be between the years 1800 and 9999 in UTC, got"
        " 0999-01-01T00:00:00+00:00",
        "line 3: occurred_at 2026-01-09T23:00:00.000000Z is before the item was issued"
        " (2026-01-10T00:00:00.000000Z, line 2)",
        "line 4: occurred_at 2029-01-01T00:00:00.000000Z is in the future (now is"
        " 2026-03-01T12:00:00.000000Z)",
    ]


def test_a_row_refused_in_the_first_batch_says_that_nothing_was_stored(tmp_path: Path) -> None:
    """Before, the message said that the rows before it were stored when none were."""
    from typer.testing import CliRunner

    from custody_cli import app

    runner = CliRunner()
    env = {"CUSTODY_DB": f"sqlite:///{tmp_path / 'c.db'}", "CUSTODY_KEY": str(tmp_path / "k")}
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    signer = Signer.from_text(read_private_key_file(env["CUSTODY_KEY"]))
    ledger = Ledger(clock=system_clock, db=env["CUSTODY_DB"], signer=signer)
    register_parties(ledger)
    ledger.close()
    refused = tmp_path / "refused.csv"
    refused.write_bytes(csv_bytes([issue("A-1"), transfer("A-1", to="unit-1")]))

    result = runner.invoke(app, ["import", str(refused)], env=env)

    assert result.exit_code == 1
    assert result.stderr.endswith(
        f"custody: {refused}:line 3: item is already held by unit-1; nothing was stored: fix it"
        " and run the same file again\n"
    )


def test_an_issue_of_a_stored_item_or_of_its_look_alike_is_refused_with_its_line(
    ledger: Ledger,
) -> None:
    """The batch reads whether its items exist, and their look-alikes, ahead in one query each:
    an item stored by an earlier import is still refused, and so is its look-alike."""
    assert run(ledger, csv_bytes([issue("SN-01")])) == (1, 0, [])
    again = {**issue("SN-01"), "occurred_at": "2026-01-11T00:00:00Z"}  # another file, same item
    look_alike = issue("SNO1")  # the letter O where the stored serial has the digit 0

    stored, _, problems = run(ledger, csv_bytes([issue("IMP-0001"), again]))
    assert (stored, problems[0][:7]) == (0, "line 3:")
    assert "was issued already" in problems[0]
    stored, _, problems = run(ledger, csv_bytes([issue("IMP-0001"), look_alike]))
    assert (stored, problems[0][:7]) == (0, "line 3:")
    assert "looks like serial 'SN-01'" in problems[0]
    assert len(list(ledger.item_ids())) == 1
