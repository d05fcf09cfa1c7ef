"""A very large SQLite store, built once and cached: the fixture behind `run.py --only bigstore`
(single writes onto a 1,000,000-leaf store against the plain application at the same size).

    PYTHONPATH=.:bench .venv/bin/python bench/bigstore.py --leaves 1000000 [--cache DIR]

builds (or finds) two stores in the cache directory (default /tmp/custody-bench-cache, never in
git):

- `ledger-N.db`: the bench parties and agreements, then N - 18 items of one event each (their
  issue), then a checkpoint; written through the Ledger's own mapper and log recorder with
  `Ledger.save` in batches of 10,000 items (bench/synth.py `write_bulk`), so every entry,
  hash-chain link, leaf, tree node, receipt and serial-index row is the one a single write
  stores, and the store is one that `custody verify` accepts. Its log key is `ledger-N.key`.
  N leaves in all.
- `plain-N.db`: the plain eventsourcing application with as many events (baseline.write_bulk).

The two are built at once in two processes. While building, the connections trade durability for
speed (`PRAGMA synchronous = OFF`, a 256 MiB page cache): the bench owns these files, and a build
that did not finish leaves no `.done` marker, so it is built again. The stores are then
checkpointed (the WAL emptied into the file) so that a copy of the one file is the whole store;
each run works on a copy (`copy_of`), so the cached stores stay as built.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import baseline
import synth

from ledger import application
from ledger.integrity.signing import Signer, generate_signer_key, write_private_key_file
from ledger.store.config import DEFAULT_ORIGIN, Config

CACHE = Path("/tmp/custody-bench-cache")
BATCH = 10_000
SETUP_LEAVES = 17
"""What synth.setup and the first checkpoint leave in the log before the items (checked)."""
CLOSING_LEAVES = 1
"""What the closing checkpoint appends (its map root entry)."""


@dataclass(frozen=True)
class Built:
    ledger: Path
    key: Path
    plain: Path
    leaves: int
    items: int  # items of one event in the ledger store; the plain one has as many events


def paths(cache: Path, leaves: int) -> Built:
    return Built(
        cache / f"ledger-{leaves}.db",
        cache / f"ledger-{leaves}.key",
        cache / f"plain-{leaves}.db",
        leaves,
        leaves - SETUP_LEAVES - CLOSING_LEAVES,
    )


def _done(path: Path) -> Path:
    return path.with_name(path.name + ".done")


@contextmanager
def _fast_connections() -> Iterator[None]:
    """Every SQLite connection opened meanwhile skips fsync and keeps a large page cache."""
    original = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = original(*args, **kwargs)
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("PRAGMA cache_size = -262144")
        return connection

    sqlite3.connect = connect  # type: ignore[assignment]
    try:
        yield
    finally:
        sqlite3.connect = original


def _checkpoint(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _remove(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), _done(path)):
        p.unlink(missing_ok=True)


def build_ledger(built: Built, progress: Callable[[str], None] = print) -> None:
    _remove(built.ledger)
    built.key.unlink(missing_ok=True)
    signer = Signer.from_text(generate_signer_key(DEFAULT_ORIGIN))
    write_private_key_file(built.key, signer.to_text())
    started = time.perf_counter()
    with _fast_connections():
        book = application.open_ledger(
            Config(db=f"sqlite:///{built.ledger}"),
            clock=lambda: synth.NOW,
            create_tables=True,
            signer=signer,
        )
        synth.setup(book)
        book.tlog.checkpoint()
        setup = book.log_store.log_size()
        if setup != SETUP_LEAVES:
            raise SystemExit(f"setup left {setup} leaves, not {SETUP_LEAVES}: fix SETUP_LEAVES")
        last = [started]

        def report(done: int) -> None:
            now = time.perf_counter()
            if now - last[0] > 60:
                rate = done / (now - started)
                progress(f"ledger: {done:,} of {built.items:,} items, {rate:,.0f}/s")
                last[0] = now

        synth.write_bulk(book, synth.plans(built.items, 1), batch=BATCH, progress=report)
        book.tlog.checkpoint()
        size = book.log_store.log_size()
        book.close()
    if size != built.leaves:
        raise SystemExit(f"built {size} leaves, not {built.leaves}")
    _checkpoint(built.ledger)
    _done(built.ledger).write_text(f"{size}\n")
    progress(f"ledger: {size:,} leaves in {time.perf_counter() - started:.0f} s")


def build_plain(built: Built, progress: Callable[[str], None] = print) -> None:
    _remove(built.plain)
    started = time.perf_counter()
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(built.plain)}
    with _fast_connections():
        app = baseline.open_plain(env, create=True)
        events = baseline.write_bulk(app, synth.plans(built.leaves, 1), batch=BATCH)
        app.close()
    _checkpoint(built.plain)
    _done(built.plain).write_text(f"{events}\n")
    progress(f"plain: {events:,} events in {time.perf_counter() - started:.0f} s")


def _run(target: str, built: Built) -> None:
    {"ledger": build_ledger, "plain": build_plain}[target](built)


def ensure(leaves: int, cache: Path = CACHE, progress: Callable[[str], None] = print) -> Built:
    """The two cached stores of `leaves` leaves, built first (in parallel) where missing."""
    cache.mkdir(parents=True, exist_ok=True)
    built = paths(cache, leaves)
    missing = [
        name
        for name, path in (("ledger", built.ledger), ("plain", built.plain))
        if not _done(path).exists()
    ]
    if missing:
        progress(f"building {', '.join(missing)} store(s) of {leaves:,} leaves in {cache}")
        context = get_context("fork")
        workers = [context.Process(target=_run, args=(name, built)) for name in missing]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        failed = [w for w in workers if w.exitcode != 0]
        if failed:
            raise SystemExit(f"building the {leaves:,}-leaf stores failed")
    return built


def copy_of(path: Path, into: Path) -> Path:
    """A copy of the cached store `path` in `into` (the run's temporary directory)."""
    target = into / path.name
    shutil.copyfile(path, target)
    return target


# What a commit writes ------------------------------------------------------------------------

WAL_HEADER, FRAME_HEADER = 32, 24


class Frames:
    """Counts the WAL frames of some writes to the store at `path` (see `begin` and `end`).

    The WAL is emptied first; after one write, a reader opens a snapshot and holds it, so no
    checkpoint can restart the WAL: every frame a later commit writes is appended to the file, and
    is read back from it by `end`."""

    def __init__(self, path: Path) -> None:
        self.path, self.wal = path, Path(f"{path}-wal")
        with sqlite3.connect(path) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.page_size = int(connection.execute("PRAGMA page_size").fetchone()[0])
        self.reader: sqlite3.Connection | None = None
        self.start = 0

    def begin(self) -> None:
        """Call after at least one write since construction."""
        self.reader = sqlite3.connect(self.path, isolation_level=None)
        self.reader.execute("BEGIN")
        self.reader.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        self.start = self.wal.stat().st_size

    def end(self) -> list[tuple[int, bool]]:
        """(page number, ends a commit) of every frame written since `begin`."""
        frames = []
        size = FRAME_HEADER + self.page_size
        with self.wal.open("rb") as wal:
            wal.seek(self.start)
            while len(header := wal.read(FRAME_HEADER)) == FRAME_HEADER:
                page, after_commit = int.from_bytes(header[:4]), int.from_bytes(header[4:8])
                frames.append((page, after_commit != 0))
                wal.seek(size - FRAME_HEADER, os.SEEK_CUR)
        assert self.reader is not None
        self.reader.execute("COMMIT")
        self.reader.close()
        return frames


def page_owners(path: Path, pages: set[int]) -> dict[int, str]:
    """The table or index each of `pages` belongs to (SQLite's dbstat; scans the whole store)."""
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name, pageno FROM dbstat")
        return {int(page): str(name) for name, page in rows if page in pages}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--rebuild", action="store_true", help="build even if cached")
    args = parser.parse_args(argv)
    if args.rebuild:
        for path in (paths(args.cache, args.leaves).ledger, paths(args.cache, args.leaves).plain):
            _remove(path)
    built = ensure(args.leaves, args.cache)
    for path in (built.ledger, built.plain):
        print(f"{path}: {os.path.getsize(path) / 2**20:,.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
