"""Search by a partial serial over a large store (ledger/readmodels/search.py), on SQLite:

    .venv/bin/python bench/search.py [--items 250000] [--samples 50] [--db PATH]

Builds (or reuses, with --db) a store of N synthetic items, one `Issued` each, through the bulk
path of bench/synth.py (the Ledger's mapper and log recorder, so the index of identities is kept
in the same transactions as on any write), catches the read models up, then times `search()` for
patterns made from random serials of the store with two characters replaced by `?` (the whole
answer: ranked page of up to 50 candidates, each with holder, status and last verified inspection),
and separately the index query alone. Prints p50 and p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.synth import ADMIN, plans, setup, write_bulk
from ledger.application import open_ledger
from ledger.application.ledger import Ledger
from ledger.integrity import Signer, generate_signer_key
from ledger.readmodels.models import Fleet
from ledger.readmodels.search import Filters, Pattern, search
from ledger.store.config import Config

LOG_KEY = Signer.from_text(generate_signer_key("localhost/custody"))
"""The log key of the bench's own store: it signs every entry's receipt."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=250_000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--db", type=Path, default=None, help="keep the store here (reused)")
    args = parser.parse_args()
    path = args.db or Path(tempfile.mkdtemp()) / "search.db"
    config = Config(db=f"sqlite:///{path}")
    ledger = open_ledger(
        config, clock=lambda: datetime.now(UTC), create_tables=True, signer=LOG_KEY
    )
    if ledger.log_store.log_size() == 0:
        started = time.perf_counter()
        setup(ledger)
        write_bulk(ledger, plans(args.items, 1), batch=2000)
        print(f"built {args.items} items in {time.perf_counter() - started:.1f} s ({path})")
    fleet = Fleet.of(ledger)
    started = time.perf_counter()
    fleet.catch_up()
    print(f"read models caught up in {time.perf_counter() - started:.1f} s")
    rng = random.Random(11)
    serials = [p.serial for p in plans(args.samples, 1, first=rng.randrange(args.items - 100))]
    patterns = [_blurred(s, rng) for s in serials]
    whole, counts = _timed(ledger, fleet, patterns)
    print(
        f"search() over {args.items} items, two unknowns, {len(patterns)} patterns:"
        f" p50 {statistics.median(whole):.1f} ms, p95 {_p95(whole):.1f} ms;"
        f" candidates per answer: median {statistics.median(counts):.0f}, max {max(counts)}"
    )
    print(f"e.g. {patterns[0]!r}")


def _blurred(serial: str, rng: random.Random) -> str:
    """The serial with two of its digits made unreadable."""
    digits = [i for i, ch in enumerate(serial) if ch.isdigit()]
    chosen = set(rng.sample(digits, 2))
    return "".join("?" if i in chosen else ch for i, ch in enumerate(serial))


def _timed(ledger: Ledger, fleet: Fleet, patterns: list[str]) -> tuple[list[float], list[int]]:
    times, counts = [], []
    for text in patterns:
        started = time.perf_counter()
        found = search(ledger, fleet, Pattern.parse(text), filters=Filters(), actor=ADMIN)
        times.append((time.perf_counter() - started) * 1000)
        counts.append(len(found.candidates))
    return times, counts


def _p95(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.95) - 1]


if __name__ == "__main__":
    main()
