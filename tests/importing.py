"""Rows of a `custody import` file (docs/import.md), shared by the import tests: the columns they
write, spelled as the public header names them, and an item's issue, transfer and inspection."""

from __future__ import annotations

import csv
import io

from tests.programme import RIFLE

HEADER = [
    "action",
    "serial",
    "manufacturer",
    "model",
    "category",
    "agreement",
    "recipient",
    "occurred_at",
    "to",
    "circumstances",
    "result",
    "method",
    "inspector",
]


def csv_bytes(rows: list[dict[str, str]]) -> bytes:
    """The rows as a CSV file, header first; a column a row leaves out is an empty cell."""
    out = io.StringIO()
    writer = csv.DictWriter(out, HEADER)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def row(action: str, serial: str, **fields: str) -> dict[str, str]:
    """A row of `action` naming its item by its marking: the programme's rifle `serial`."""
    marking = {"serial": serial, "manufacturer": RIFLE["manufacturer"], "model": RIFLE["model"]}
    return {"action": action, **marking, **fields}


def issue(serial: str) -> dict[str, str]:
    """The programme's rifle `serial` (tests/programme.py), issued to unit-1 on 10 January 2026."""
    return row("issue", serial, **RIFLE, occurred_at="2026-01-10T00:00:00Z")


def transfer(serial: str, to: str = "unit-2") -> dict[str, str]:
    return row("transfer", serial, to=to, occurred_at="2026-02-01T09:00:00+01:00")


def inspect(serial: str) -> dict[str, str]:
    """The inspectorate's physical inspection, verified."""
    return row(
        "inspect",
        serial,
        result="verified",
        method="physical",
        inspector="inspectorate",
        occurred_at="2026-02-15T10:00:00Z",
    )


def programme(n: int) -> list[dict[str, str]]:
    """Items IMP-0000 on, each issued to unit-1 and transferred to unit-2."""
    serials = [f"IMP-{i:04d}" for i in range(n)]
    return [each for serial in serials for each in (issue(serial), transfer(serial))]
