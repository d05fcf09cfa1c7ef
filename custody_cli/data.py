"""Data in and out: `import`, `inventory` (a count reconciled with the book), `export`,
`restore`."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from custody_cli.options import (
    OPERATOR_ACTOR,
    DbOption,
    KeyOption,
    load_config,
    open_ledger,
    read_vkey,
)
from custody_cli.output import err, out, with_progress
from custody_cli.store import follow_log
from ledger.application import log_key
from ledger.domain import CustodyError, aware_utc, system_clock
from ledger.operations import (
    export_file,
    file_digest,
    file_verifier,
    import_rows,
    read_header,
    read_rows,
    restore_file,
)
from ledger.readmodels import Count, Fleet, Line, take_inventory
from ledger.store import Config, redacted
from policies.config import load_policy


def inventory(
    file: Annotated[Path, typer.Argument(help="a scanner export: CSV with a `serial` column")],
    recipient: Annotated[str, typer.Option(help="the recipient (force or unit) counted")],
    at: Annotated[datetime, typer.Option(help="when the count was taken (RFC 3339)")],
    method: Annotated[str, typer.Option(help="physical, serial_read, photo")] = "serial_read",
    site: Annotated[str | None, typer.Option()] = None,
    manufacturer: Annotated[str | None, typer.Option(help="if one model was counted")] = None,
    model: Annotated[str | None, typer.Option(help="if one model was counted")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the reconciliation as JSON")
    ] = False,
    db: DbOption = None,
    key: KeyOption = None,
) -> None:
    """Record a serial-number inventory and print its reconciliation with the book."""
    config = load_config(db, key)
    ledger = open_ledger(config, signer=log_key(config))
    count = Count(
        recipient=recipient,
        occurred_at=aware_utc(at, field="at"),
        method=method,
        serials=_counted_serials(file),
        site=site,
        manufacturer=manufacturer,
        model=model,
    )
    done = take_inventory(ledger, Fleet.of(ledger), count, actor=OPERATOR_ACTOR)
    if as_json:
        lines = [_line_json(line) for line in done.lines]
        print(
            json.dumps(
                {
                    "inventory_id": str(done.inventory_id),
                    "counts": done.counts(),
                    "lines": lines,
                },
                ensure_ascii=False,
            )
        )
        return
    counts = ", ".join(f"{k} {v}" for k, v in done.counts().items())
    out.print(f"inventory {done.inventory_id} (log index {done.log_index}): {counts}")
    for line in done.lines:
        if line.status != "on_book":
            holder = f" ({line.holder})" if line.holder else ""
            out.print(f"{line.status}: {line.serial} {line.item_id or ''}{holder}", markup=False)


def _line_json(line: Line) -> dict[str, object]:
    item = None if line.item_id is None else str(line.item_id)
    return {"status": line.status, "serial": line.serial, "item_id": item, "holder": line.holder}


def _counted_serials(file: Path) -> list[str]:
    rows = list(csv.reader(io.StringIO(file.read_text(encoding="utf-8-sig"))))
    if not rows:
        raise CustodyError(f"{file} is empty")
    header = [h.strip().lower() for h in rows[0]]
    column = header.index("serial") if "serial" in header else 0
    body = rows[1:] if "serial" in header else rows
    return [row[column] for row in body if len(row) > column and row[column].strip()]


def import_file(
    file: Annotated[Path, typer.Argument(help="a CSV with a header row, or JSON lines (.jsonl)")],
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="rows per atomic batch")] = 500,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="import the valid rows; still report the others")
    ] = False,
    db: DbOption = None,
) -> None:
    """Issue items and record events in bulk: every row checked first, then atomic batches.
    Running the same file again skips what was stored (docs/import.md)."""
    data = file.read_bytes()
    kind = "jsonl" if file.suffix in (".jsonl", ".ndjson") else "csv"
    rows, problems = read_rows(data, kind=kind, now=system_clock())
    for problem in problems:
        err.print(f"{file}:{problem}", markup=False, highlight=False)
    if problems and not skip_invalid:
        raise CustodyError(f"{len(problems)} rows need fixing; nothing was imported")
    bad = {p.line for p in problems}
    rows = [r for r in rows if r.line not in bad]
    config = Config.from_env(db=db)
    ledger = open_ledger(config, signer=log_key(config))
    outcome = with_progress(
        "importing",
        len(rows),
        lambda step: import_rows(
            ledger,
            rows,
            actor=OPERATOR_ACTOR,
            digest=file_digest(data),
            batch_size=batch,
            progress=step,
        ),
    )
    out.print(
        f"stored {outcome.stored} rows in {outcome.batches} batches; "
        f"{outcome.skipped} were stored by an earlier run; {len(bad)} skipped as invalid"
    )
    follow_log(ledger, load_policy(config.policy))
    for problem in outcome.problems:
        raise CustodyError(
            f"{file}:{problem}; {outcome.what_was_stored()}: fix it and run the same file again"
        )


def export(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="the backup file (a name ending .gz compresses)")
    ],
    db: DbOption = None,
    key: KeyOption = None,
    vkey: Annotated[
        str | None,
        typer.Option(
            help="without the signing key: export up to the latest signed checkpoint, checked "
            "with this key (vkey text, or @file)"
        ),
    ] = None,
) -> None:
    """Write the whole ledger to one file: entries, stored events, checkpoints (docs/backup.md).
    With the signing key (--key, CUSTODY_KEY) it first signs a checkpoint of the whole log."""
    config = load_config(db, key)
    if vkey is None:
        ledger = open_ledger(config, signer=log_key(config))
        ledger.tlog.checkpoint()
        verifier = ledger.tlog.verifier()
    else:
        ledger, verifier = open_ledger(config), read_vkey(vkey)
    latest = ledger.tlog.latest_checkpoint()
    summary = with_progress(
        "exporting",
        latest[0] if latest else 0,
        lambda step: export_file(
            ledger, output, verifier=verifier, now=system_clock(), progress=step
        ),
    )
    out.print(
        f"wrote {output}: {summary.entries} entries, {summary.checkpoints} checkpoints; "
        f"root {summary.root.hex()}; sha256 {summary.sha256}"
    )
    left_out = ledger.tlog.size() - summary.entries
    if left_out:
        err.print(f"custody: note: {left_out} entries after its checkpoint are left out")


def restore(
    file: Annotated[Path, typer.Argument(help="a backup file (custody export)")],
    db: DbOption = None,
    vkey: Annotated[
        str | None,
        typer.Option(
            help="the log key you trust (vkey text, or @file); default: the key the file names"
        ),
    ] = None,
) -> None:
    """Rebuild a ledger from a backup into an empty store, in one transaction that commits only
    once `custody verify`'s checks pass and the root is the latest signed checkpoint's."""
    header = read_header(file)
    config = replace(Config.from_env(db=db), origin=header.origin)
    trusted = read_vkey(vkey) if vkey else file_verifier(header)
    if vkey is None:
        err.print(
            f"custody: warning: trusting the log key the backup names ({header.vkey}); "
            "pin the key you trust with --vkey",
            markup=False,
            highlight=False,
        )
    ledger = open_ledger(config, create_tables=True)
    restored = with_progress(
        "restoring",
        3 * header.size,
        lambda step: restore_file(ledger, file, trusted=trusted, progress=step),
    )
    out.print(
        f"restored {restored.entries} entries and {restored.checkpoints} checkpoints into "
        f"{redacted(config.db)}; verified: root {restored.root.hex()}, "
        f"signed at size {restored.entries}"
    )
    out.print(
        "next: `custody readmodels rebuild`; serve it with the log's signing key "
        f"(CUSTODY_KEY) and CUSTODY_ORIGIN={header.origin}",
        markup=False,
    )
