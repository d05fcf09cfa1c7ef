"""CSV exports: the one writer every CSV goes through (`csv_text`), and the unaccounted report as
CSV, the same bytes from `GET /v1/reports/unaccounted` (`Accept: text/csv`) and from
`custody report unaccounted --csv`.

A cell is data, never a formula: a spreadsheet runs a cell that begins with `=`, `+`, `-` or `@`
(and, after trimming, one that begins with a tab or a carriage return), so such a cell gets a
leading `'`, as OWASP's CSV-injection guidance says. A serial such as `=HYPERLINK("http://x",
"AB1")` is shown as text; the quote is visible, which is the point. Every row carries the question
it answers (`as_of`, `known_at`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

from ledger.domain import format_time
from policies.engine import ItemAccount, Scope, UnaccountedReport
from policies.findings import Finding

CSV_PAGE = 500
"""Rows of a streamed CSV answer encoded at a time."""
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ITEMS_HEADER = (
    "as_of",
    "known_at",
    "item_id",
    "serial",
    "category",
    "programme",
    "agreement",
    "recipient",
    "holder",
    "status",
    "rule",
    "severity",
    "since",
    "detail",
    "evidence",
)
RECIPIENTS_HEADER = (
    "as_of",
    "known_at",
    "recipient",
    "issued",
    "accounted",
    "in_custody",
    "overdue",
    "accountability_rate",
    "delinquency_rate",
    "verified_independently",
    "self_reported",
)


def safe_cell(value: object) -> str:
    """The cell's text, with a leading `'` if a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV document: the header, then the rows, every cell made safe."""
    return csv_rows([header, *rows])


def csv_rows(rows: Iterable[Sequence[object]]) -> str:
    """CSV lines of the rows, every cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def report_csv(report: UnaccountedReport, view: str = "items") -> str:
    """One row per reason (`items`) or per recipient (`recipients`)."""
    return "".join(report_csv_pages(report, view))


def report_csv_pages(
    report: UnaccountedReport, view: str = "items", page: int = CSV_PAGE
) -> Iterator[str]:
    """`report_csv` a page of rows at a time (the header first), for a streamed answer."""
    header, rows = _report_rows(report, view)
    yield csv_rows([header])
    batch: list[Sequence[object]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == page:
            yield csv_rows(batch)
            batch = []
    if batch:
        yield csv_rows(batch)


def _report_rows(
    report: UnaccountedReport, view: str
) -> tuple[Sequence[str], Iterator[Sequence[object]]]:
    as_of = format_time(report.scope.as_of)
    known_at = format_time(report.scope.known_at) if report.scope.known_at else ""
    if view == "recipients":
        return (
            RECIPIENTS_HEADER,
            (
                [
                    as_of,
                    known_at,
                    r.recipient,
                    r.issued,
                    r.accounted,
                    r.in_custody,
                    r.overdue,
                    f"{r.accountability_rate:.4f}",
                    f"{r.delinquency_rate:.4f}",
                    r.verified_independently,
                    r.self_reported,
                ]
                for r in report.recipients
            ),
        )
    accounts = ((item, item.reasons) for item in report.unaccounted)
    return ITEMS_HEADER, _item_rows(report.scope, accounts)


def items_csv(scope: Scope, rows: Iterable[tuple[ItemAccount, Sequence[Finding]]]) -> str:
    """One row per finding of each item, in the order given (an item shown without a finding: one
    row with the finding's cells empty); the dashboard's download of a list writes the same."""
    return csv_text(ITEMS_HEADER, _item_rows(scope, rows))


def _item_rows(
    scope: Scope, rows: Iterable[tuple[ItemAccount, Sequence[Finding]]]
) -> Iterator[Sequence[object]]:
    as_of = format_time(scope.as_of)
    known_at = format_time(scope.known_at) if scope.known_at else ""
    return (
        [as_of, known_at, *_item_cells(item), *_finding_cells(finding)]
        for item, findings in rows
        for finding in _or_none(findings)
    )


def _or_none(findings: Sequence[Finding]) -> Sequence[Finding | None]:
    return findings or [None]


def _item_cells(item: ItemAccount) -> list[object]:
    return [
        item.item_id,
        item.serial,
        item.category,
        item.programme,
        item.agreement,
        item.recipient,
        item.holder,
        item.status,
    ]


def _finding_cells(finding: Finding | None) -> list[object]:
    if finding is None:
        return ["", "", "", "", ""]
    return [
        finding.rule,
        finding.severity.value,
        format_time(finding.since),
        finding.detail,
        " ".join(map(str, finding.evidence)),
    ]
