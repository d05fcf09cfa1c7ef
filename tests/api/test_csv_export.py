"""Safe exports (issue 16): no cell of a CSV the ledger writes starts a spreadsheet formula
(policies/export.py, OWASP's CSV-injection guidance), read back with Python's csv module."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from ledger.application.ledger import Ledger
from policies.export import FORMULA_START, csv_text, safe_cell
from tests.programme import ADMIN, ago, issue

FORMULA_SERIALS = ['=HYPERLINK("http://x","AB1")', "+1-2", "-SUM(A1)", "@cmd", "=1+1"]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x","AB1")', '\'=HYPERLINK("http://x","AB1")'),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("AK-0001", "AK-0001"),
        ("2026-03-01T09:30:00.000000Z", "2026-03-01T09:30:00.000000Z"),
        (None, ""),
        (0.25, "0.25"),
    ],
)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(value: object, cell: str) -> None:
    assert safe_cell(value) == cell


def test_every_cell_of_a_written_csv_reads_back_safe_with_the_csv_module() -> None:
    text = csv_text(["=header"], [["=a", 'b,"c"', "\r\n-1"], ["@x", "", "ok"]])

    rows = list(csv.reader(io.StringIO(text)))

    assert rows == [["'=header"], ["'=a", 'b,"c"', "'\r\n-1"], ["'@x", "", "ok"]]


def test_no_cell_of_the_unaccounted_report_csv_starts_a_formula(
    api_ledger: Ledger, client: TestClient
) -> None:
    """Serials that are formulas, lost, so that every one is a row of the report."""
    for serial in FORMULA_SERIALS:
        item = issue(api_ledger, serial, days_ago=20)
        api_ledger.report_lost(
            item, circumstances="stolen", occurred_at=ago(api_ledger, days=10), actor=ADMIN
        )

    answers = [
        client.get("/v1/reports/unaccounted", params={"view": view}, headers={"Accept": "text/csv"})
        for view in ("items", "recipients")
    ]

    rows = [row for a in answers for row in csv.reader(io.StringIO(a.text))]
    assert [a.status_code for a in answers] == [200, 200]
    assert [cell for row in rows for cell in row if cell.startswith(FORMULA_START)] == []
    serials = [row[3] for row in csv.reader(io.StringIO(answers[0].text))][1:]
    assert sorted(serials) == sorted("'" + s for s in FORMULA_SERIALS)
