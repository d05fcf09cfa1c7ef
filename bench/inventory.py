"""A serial-number inventory of 10,000 serials reconciled with the book
(ledger/readmodels/reconciliation.py),
on SQLite:

    .venv/bin/python bench/inventory.py [--items 12000] [--counted 10000]

Builds a store of N synthetic items (one `Issued` each, bench/synth.py's bulk path) held by the
bench force's units, catches the read models up, then times one `take_inventory` of the force with
`--counted` serials: 99% of them items of the book (the rest of the book is not counted), 1%
unknown. The whole call: the reconciliation, the inventory's entries and an
`Inspected` for every item of the book, in one transaction.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.synth import ADMIN, FORCE, NOW, plans, setup, write_bulk
from ledger.application import open_ledger
from ledger.integrity import Signer, generate_signer_key
from ledger.readmodels.models import Fleet
from ledger.readmodels.reconciliation import Count, take_inventory
from ledger.store.config import Config

LOG_KEY = Signer.from_text(generate_signer_key("localhost/custody"))
"""The log key of the bench's own store: it signs every entry's receipt."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=12_000)
    parser.add_argument("--counted", type=int, default=10_000)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp()) / "inventory.db"
    config = Config(db=f"sqlite:///{path}")
    ledger = open_ledger(
        config, clock=lambda: datetime.now(UTC), create_tables=True, signer=LOG_KEY
    )
    setup(ledger)
    started = time.perf_counter()
    write_bulk(ledger, plans(args.items, 1), batch=2000)
    fleet = Fleet.of(ledger)
    fleet.catch_up()
    print(
        f"built {args.items} items and caught the read models up in"
        f" {time.perf_counter() - started:.1f} s"
    )
    unknown = args.counted // 100
    on_book = [p.serial for p in plans(args.counted - unknown, 1)]
    serials = on_book + [f"UNKNOWN-{n:06d}" for n in range(unknown)]
    count = Count(recipient=FORCE, occurred_at=NOW, method="serial_read", serials=serials)
    started = time.perf_counter()
    done = take_inventory(ledger, fleet, count, actor=ADMIN)
    took = time.perf_counter() - started
    print(
        f"inventory of {len(serials)} serials over {args.items} items: {took:.2f} s;"
        f" {done.counts()}"
    )


if __name__ == "__main__":
    main()
