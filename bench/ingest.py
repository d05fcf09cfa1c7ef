"""Ingest: events/s through the Ledger (entries, hash chain, Merkle tree in the same transaction)
against a plain eventsourcing application writing the same number of events to the same kind of
store in the same run. Prints the ratio. Not a test: run it by hand (docs/performance.md).

    .venv/bin/python bench/ingest.py --items 2000 --events-per-item 5 [--db sqlite|postgres]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from ledger.access import Actor
from ledger.application import Ledger
from ledger.tokens import Role

ADMIN = Actor("operator", Role.ADMIN)
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


class Rifle(Aggregate):
    @event("Issued")
    def __init__(self, serial: str, holder: str) -> None:
        self.serial, self.holder = serial, holder

    @event("Transferred")
    def transfer(self, to: str) -> None:
        self.holder = to


def plain(env: dict[str, str], items: int, per_item: int) -> float:
    app: Application = Application(env=env | {"CREATE_TABLE": "y"})
    started = time.perf_counter()
    for n in range(items):
        rifle = Rifle(serial=f"B-{n}", holder="unit-1")
        app.save(rifle)
        for k in range(per_item - 1):
            rifle = app.repository.get(rifle.id)  # a command loads its aggregate, as ours do
            rifle.transfer(to=f"unit-{k % 3 + 2}")
            app.save(rifle)
    elapsed = time.perf_counter() - started
    app.close()
    return items * per_item / elapsed


def ledger(url: str, items: int, per_item: int) -> float:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    book = Ledger(clock=lambda: start, db=url, create_tables=True)
    book.bootstrap()
    book.register_party(party_id="supplier", name="S", kind="supplier", actor=ADMIN)
    for unit in ("unit-1", "unit-2", "unit-3", "unit-4"):
        book.register_party(party_id=unit, name=unit, kind="recipient", actor=ADMIN)
    book.conclude_agreement(
        agreement_id="eua",
        supplier="supplier",
        programme="P",
        authorized_holders=["unit-1"],
        actor=ADMIN,
    )
    started = time.perf_counter()
    for n in range(items):
        item = book.issue(
            serial=f"B-{n}",
            manufacturer="M",
            model="X",
            category="rifle",
            agreement="eua",
            recipient="unit-1",
            occurred_at=start - timedelta(days=30),
            actor=ADMIN,
        ).id
        for k in range(per_item - 1):
            book.transfer(
                item,
                to=f"unit-{(k + 1) % 4 + 1}",
                occurred_at=start - timedelta(days=29 - k),
                actor=ADMIN,
            )
    elapsed = time.perf_counter() - started
    book.close()
    return items * per_item / elapsed


def stores(kind: str, tmp: Path) -> tuple[dict[str, str], str]:
    if kind == "sqlite":
        base = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(tmp / "plain.db"),
        }
        return base, f"sqlite:///{tmp / 'ledger.db'}"
    schemas = [f"bench_{uuid4().hex[:10]}" for _ in range(2)]
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    base = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": "test",
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "",
        "POSTGRES_SCHEMA": schemas[0],
    }
    return base, f"{POSTGRES}?schema={schemas[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--events-per-item", type=int, default=5)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env, url = stores(args.db, Path(tmp))
        baseline = plain(env, args.items, args.events_per_item)
        ours = ledger(url, args.items, args.events_per_item)
    print(f"store: {args.db}; {args.items} items x {args.events_per_item} events, single writes")
    print(f"plain eventsourcing: {baseline:10.0f} events/s")
    print(f"Ledger, full integrity: {ours:7.0f} events/s")
    print(f"ratio: {ours / baseline:.2f} (target >= 0.60)")


if __name__ == "__main__":
    main()
