"""Proof time at 1,000,000 leaves through the log store's own node query (ledger/store/log.py
Statements.nodes) on SQLite, without building a million-item ledger first:

    .venv/bin/python bench/proofs.py [--leaves 1000000] [--samples 200]

Fills a SQLite `custody_tree` with the complete subtree hashes of N synthetic leaves (as the
recorders store them), then times merkle.inclusion_proof and merkle.consistency_proof, each read
with the same SQL the Ledger uses, and checks every inclusion proof against the root.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ledger.integrity import merkle
from ledger.store.dialect import SQLITE
from ledger.store.log import Statements


class Reader:
    def __init__(self, db: sqlite3.Connection, sql: Statements) -> None:
        self.db, self.sql = db, sql

    def read_nodes(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        if not keys:
            return {}
        rows = self.db.execute(self.sql.nodes(len(keys)), [v for k in keys for v in k])
        found = {(int(r[0]), int(r[1])): bytes(r[2]) for r in rows}
        return {k: found[k] for k in keys if k in found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(str(Path(tmp) / "tree.db"))
        sql = Statements(SQLITE, events="e")
        db.execute(sql.create[1])
        leaves = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(args.leaves)]
        started = time.perf_counter()
        db.executemany(
            f"INSERT INTO {sql.tree} VALUES (?, ?, ?)",
            merkle.nodes_to_append(0, leaves, merkle.MemoryNodeStore()),
        )
        db.commit()
        print(f"tree of {args.leaves} leaves built in {time.perf_counter() - started:.1f} s")
        reader = Reader(db, sql)
        root = merkle.root(args.leaves, reader)
        rng, inclusion, consistency = random.Random(1), [], []
        for _ in range(args.samples):
            index = rng.randrange(args.leaves)
            started = time.perf_counter()
            proof = merkle.inclusion_proof(index, args.leaves, reader)
            inclusion.append(time.perf_counter() - started)
            merkle.verify_inclusion(leaves[index], index, args.leaves, proof, root)
            started = time.perf_counter()
            merkle.consistency_proof(rng.randrange(1, args.leaves), args.leaves, reader)
            consistency.append(time.perf_counter() - started)
    for name, times in (("inclusion", inclusion), ("consistency", consistency)):
        p50 = statistics.median(times) * 1000
        p99 = sorted(times)[max(0, int(len(times) * 0.99) - 1)] * 1000
        verdict = "PASS" if p50 < 1 else "MISS"
        print(
            f"{name} proof at {args.leaves} leaves: p50 {p50:.3f} ms, p99 {p99:.3f} ms "
            f"(target p50 < 1 ms: {verdict})"
        )


if __name__ == "__main__":
    main()
