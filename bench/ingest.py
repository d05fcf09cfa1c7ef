"""Ingest only: kept so its old command still works; it is `bench/run.py --only ingest` (single
writes, `Ledger.save` batches and HTTP, each against the plain eventsourcing application in the same
run). See bench/run.py and docs/performance.md.

    .venv/bin/python bench/ingest.py --items 2000 [--events-per-item 5] [--db sqlite|postgres]
"""

from __future__ import annotations

import sys

import run

if __name__ == "__main__":
    run.main(["--only", "ingest", *sys.argv[1:]])
