"""Bulk import (`custody import FILE`): issue items and record their events from a spreadsheet
export (CSV with a header row) or JSON lines, the way programmes start (docs/import.md).

1. Read and check every row first; every bad row is reported with its line number, and data
   quality problems (a serial missing, or issued twice in the file) are reported, never dropped.
2. Append the rows in order, in atomic batches (`Ledger.batch`): a batch is stored whole or not
   at all. Each row carries a nonce made of the file's digest and its line number, so running the
   same file again (after a crash, or a row refused by a custody rule and then fixed elsewhere)
   skips what was stored and doubles nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from ledger.application.ledger import Ledger
from ledger.domain.access import Actor
from ledger.domain.errors import CustodyError, InvalidInput
from ledger.domain.ids import identity_key, item_id
from ledger.domain.times import MAX_CLOCK_SKEW, aware_utc, format_time
from ledger.integrity.entries import canonical_json, json_value
from ledger.integrity.submissions import Submitted

ACTIONS: dict[str, tuple[str, ...]] = {  # action -> required fields (besides the item)
    "issue": (
        "serial",
        "manufacturer",
        "model",
        "category",
        "agreement",
        "recipient",
        "occurred_at",
    ),
    "transfer": ("to", "occurred_at"),
    "receive": ("occurred_at",),
    "inspect": ("result", "method", "occurred_at"),
    "report_lost": ("circumstances", "occurred_at"),
    "recover": ("by", "occurred_at"),
    "sight": ("observer", "location", "occurred_at"),
    "dispose": ("method", "occurred_at"),
    "correct": ("entry", "reason"),
}
OPTIONAL = {
    "issue": (
        "registry_serial",
        "calibre",
        "country_of_manufacture",
        "year",
        "value",
        "lot_size",
        "description",
    ),
    "transfer": ("authority", "from"),
    "receive": ("location", "condition"),
    "inspect": ("inspector", "observed_serial", "location"),
    "report_lost": ("discovered_at",),
    "recover": ("location", "condition"),
    "sight": ("held_by", "serial_as_read", "evidence"),
    "dispose": ("certificate", "witnesses"),
    "correct": ("occurred_at",),
}
ITEM_FIELDS = ("item_id", "manufacturer", "model", "serial")
TIMES = ("occurred_at", "discovered_at")
INTEGERS = ("year", "lot_size", "entry")
LISTS = {"evidence": " ", "witnesses": ";"}
MAX_ROWS = 5_000_000
ID_CACHE = 4096


@dataclass(frozen=True)
class Row:
    line: int
    action: str
    fields: dict[str, Any]
    marking: tuple[str, str, str] | None = None
    """(manufacturer, model, serial) when the row names its item by them, not by item_id."""


@dataclass(frozen=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class Outcome:
    stored: int = 0
    skipped: int = 0
    batches: int = 0
    problems: list[Problem] = field(default_factory=list)
    unstored_from: int | None = None
    """The first line of the batch a refused row rolled back: no row from it on is stored."""

    def what_was_stored(self) -> str:
        """For the message of a refused row: exactly which rows are in the store."""
        if self.unstored_from is None:
            return "every row is stored"
        if not self.stored and not self.skipped:
            return "nothing was stored"
        return (
            f"the rows before line {self.unstored_from} are stored, none from line"
            f" {self.unstored_from} on"
        )


def read_rows(
    data: bytes, *, kind: str, now: datetime | None = None
) -> tuple[list[Row], list[Problem]]:
    """Every row of a CSV (header first) or JSON lines file, and the problems of each bad one:
    what each row alone shows, and, across the file, what the store is not needed to tell (an
    identity issued twice; with `now`, a time in the future or before the row that issued the
    item), so that an import does not stop half-way over something it could have said first."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text") from None
    raw = _csv_rows(text) if kind == "csv" else _jsonl_rows(text)
    rows: list[Row] = []
    problems: list[Problem] = []
    for line, fields in raw:
        if len(rows) + len(problems) >= MAX_ROWS:
            raise InvalidInput(f"the file has more than {MAX_ROWS} rows; split it")
        try:
            rows.append(_row(line, fields))
        except InvalidInput as error:
            problems.append(Problem(line, error.message))
    later = _quality(rows) + (_times(rows, now) if now is not None else [])
    return rows, problems + later


def import_rows(
    ledger: Ledger,
    rows: Sequence[Row],
    *,
    actor: Actor,
    digest: str,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> Outcome:
    """Append the rows in batches; a row refused by a custody rule stops the import there, after
    storing the batches before it, and is reported with its line."""
    outcome = Outcome()
    issued: set[str] = set()
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        try:
            outcome.stored += _import_batch(ledger, chunk, actor, digest, outcome, issued)
        except _RowFailed as failed:
            outcome.problems.append(failed.problem)
            outcome.unstored_from = chunk[0].line
            break
        outcome.batches += 1
        if progress:
            progress(len(chunk))
    return outcome


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


class _RowFailed(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _import_batch(
    ledger: Ledger,
    rows: Sequence[Row],
    actor: Actor,
    digest: str,
    outcome: Outcome,
    issued: set[str],
) -> int:
    """One atomic batch. `issued` holds the ids of the items this import issued (or found issued
    by an earlier run of the file), which rows naming an item by its marking need not look up."""
    stored = 0
    nonces = [(actor.party, _nonce(digest, row)) for row in rows]
    with ledger.batch(nonces=nonces, issues=_issues(rows)):
        for row in rows:
            try:
                recorded = _apply(ledger, row, actor, digest, issued)
            except CustodyError as error:
                raise _RowFailed(Problem(row.line, error.message)) from None
            stored += recorded.log_index == -1
            outcome.skipped += recorded.log_index != -1  # a replay: stored by an earlier run
    return stored


def _issues(rows: Sequence[Row]) -> list[tuple[str, str, str]]:
    """The markings of the items the rows issue, for the batch to look their ids and look-alikes
    up in a query or two instead of two each (each issue still refuses an item that exists or a
    look-alike: `Ledger.issue`)."""
    found = []
    for row in (r for r in rows if r.action == "issue"):
        marking = tuple(row.fields[k] for k in ("manufacturer", "model", "serial"))
        if all(type(part) is str for part in marking):
            found.append((marking[0], marking[1], marking[2]))
    return found


def _nonce(digest: str, row: Row) -> str:
    return f"import-{digest}-{row.line}"


def _apply(ledger: Ledger, row: Row, actor: Actor, digest: str, issued: set[str]) -> Any:
    fields = dict(row.fields)
    via = Submitted(_nonce(digest, row), _request_digest(row.action, fields))
    if row.action == "issue":
        details = {k: fields.pop(k) for k in OPTIONAL["issue"][1:] if k in fields}
        recorded = ledger.issue(**fields, details=details, actor=actor, via=via)
        issued.add(str(recorded.id))
        return recorded
    item = fields.pop("item")
    item = item if item in issued else _resolved(ledger, item, row.marking)
    if "from" in fields:
        fields["from_holder"] = fields.pop("from")
    method: Callable[..., Any] = getattr(ledger, row.action)
    return method(item, **fields, actor=actor, via=via)


def _request_digest(action: str, fields: Mapping[str, Any]) -> str:
    """The digest of the row as a request: `json_value` of [action, fields], taking the texts
    as they are (json_value answers a text itself; the field names are the columns `_row`
    allowed, all of which it accepts), so that only the times, numbers and lists go through it."""
    values = {k: v if type(v) is str else json_value(v, 2) for k, v in fields.items()}
    return hashlib.sha256(canonical_json([action, values])).hexdigest()


def _resolved(ledger: Ledger, item: str, marking: tuple[str, str, str] | None) -> str:
    """The item a row names by its marking: the id of that spelling if issued, else the item
    whose identity in the normal form it is (docs/identity.md), else that id (not found)."""
    if marking is None or ledger.log_store.log_entries_of(UUID(item)):
        return item
    ledger.log_store.ensure_serials()
    found = ledger.log_store.serials.look_alike_of(*marking, item)
    return item if found is None else found.item_id


def _csv_rows(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "action" not in reader.fieldnames:
        raise InvalidInput("the CSV's first line must be a header naming an 'action' column")
    for record in reader:
        yield reader.line_num, {k: v for k, v in record.items() if k and v not in (None, "")}


def _jsonl_rows(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, content in enumerate(text.splitlines(), 1):
        if not content.strip():
            continue
        try:
            record = json.loads(content)
        except ValueError:
            record = {"action": "", "__error__": "the line is not JSON"}
        yield line, record if isinstance(record, dict) else {"__error__": "not a JSON object"}


def _row(line: int, fields: Mapping[str, Any]) -> Row:
    if "__error__" in fields:
        raise InvalidInput(str(fields["__error__"]))
    action = str(fields.get("action", "")).strip()
    if action not in ACTIONS:
        raise InvalidInput(f"action {action!r} is not one of: {', '.join(ACTIONS)}")
    allowed = {"action", *ACTIONS[action], *OPTIONAL[action], *ITEM_FIELDS}
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise InvalidInput(f"unknown columns for {action}: {', '.join(unknown)}")
    missing = [f for f in ACTIONS[action] if f not in fields]
    if missing:
        raise InvalidInput(f"{action} needs {', '.join(missing)}")
    values = {k: _value(k, v) for k, v in fields.items() if k not in ("action", *ITEM_FIELDS)}
    if action == "issue":
        values |= {k: fields[k] for k in ("serial", "manufacturer", "model")}
        identity_key(*(str(fields[k]) for k in ("manufacturer", "model", "serial")))
        return Row(line, action, values)
    values["item"] = _item_of(fields)
    if "item_id" in fields:
        return Row(line, action, values)
    marking = (str(fields["manufacturer"]), str(fields["model"]), str(fields["serial"]))
    return Row(line, action, values, marking)


def _item_of(fields: Mapping[str, Any]) -> str:
    if "item_id" in fields:
        return str(fields["item_id"])
    if all(k in fields for k in ("manufacturer", "model", "serial")):
        return _item_id(fields["manufacturer"], fields["model"], fields["serial"])
    raise InvalidInput("name the item by item_id, or by manufacturer, model and serial")


def _item_id(manufacturer: Any, model: Any, serial: Any) -> str:
    """`item_id` as text; the rows of one item name it by the same marking, so it is derived
    once for them all."""
    if type(manufacturer) is str and type(model) is str and type(serial) is str:
        return _marked_item_id(manufacturer, model, serial)
    return str(item_id(manufacturer, model, serial))


@lru_cache(maxsize=ID_CACHE)
def _marked_item_id(manufacturer: str, model: str, serial: str) -> str:
    return str(item_id(manufacturer, model, serial))


def _value(name: str, value: Any) -> Any:
    if name in TIMES:
        return _time(name, value)
    if name in INTEGERS:
        return _integer(name, value)
    if name in LISTS:
        return (
            value
            if isinstance(value, list)
            else [v.strip() for v in str(value).split(LISTS[name]) if v.strip()]
        )
    if name == "registry_serial":
        return (
            value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes")
        )
    if isinstance(value, float):
        raise InvalidInput(f"{name} must not be a float")
    return value


def _time(name: str, value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidInput(f"{name} {value!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{name} {value!r} has no time zone")
    return aware_utc(moment, field=name)


def _times(rows: Sequence[Row], now: datetime) -> list[Problem]:
    """The Ledger's time rules that need no store: no time in the future (beyond the clock skew
    it allows), no event before the row in this file that issued its item."""
    issued: dict[str, tuple[datetime, int]] = {}
    problems = []
    for row in rows:
        fields = row.fields
        for name in (n for n in TIMES if n in fields):
            if fields[name] > now + MAX_CLOCK_SKEW:
                problems.append(
                    Problem(
                        row.line,
                        f"{name} {format_time(fields[name])} is in the future (now is"
                        f" {format_time(now)})",
                    )
                )
        if row.action == "issue":
            key = _item_id(fields["manufacturer"], fields["model"], fields["serial"])
            issued.setdefault(key, (fields["occurred_at"], row.line))
            continue
        start, line = issued.get(str(fields["item"]).lower(), (None, 0))
        if start is not None and "occurred_at" in fields and fields["occurred_at"] < start:
            problems.append(
                Problem(
                    row.line,
                    f"occurred_at {format_time(fields['occurred_at'])} is before the item was"
                    f" issued ({format_time(start)}, line {line})",
                )
            )
    return problems


def _integer(name: str, value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise InvalidInput(f"{name} must be a whole number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} {value!r} is not a whole number") from None


def _quality(rows: Sequence[Row]) -> list[Problem]:
    """Data quality across the file: the same identity (in the normal form: look-alikes too)
    issued twice; serials not marked."""
    seen: dict[str, int] = {}
    problems = []
    for row in (r for r in rows if r.action == "issue"):
        f = row.fields
        identity = identity_key(f["manufacturer"], f["model"], f["serial"])  # look-alikes too
        if identity in seen:
            problems.append(
                Problem(
                    row.line,
                    f"serial {f['serial']} of {f['manufacturer']} "
                    f"{f['model']} is issued again (first on line "
                    f"{seen[identity]})",
                )
            )
        seen.setdefault(identity, row.line)
    return problems
