"""A bulk import SIGKILLed in the middle, then run again: every row is stored exactly once.

`custody import` runs as a real process, with a `custody readmodels follow` beside it; both are
SIGKILLed (no handler, no flush) once a seeded number of batches is committed, plus a seeded few
milliseconds, so the kill lands inside a batch. The same command run again must finish the file
without doubling a row, and the store must verify.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from pathlib import Path

from ledger.operations.imports import file_digest
from tests.fault.harness import (
    Figures,
    Processes,
    Store,
    assert_intact,
    entries,
    initialise,
    log_size,
    nonces,
    sigkill,
    wait_until,
)
from tests.importing import csv_bytes, inspect, issue, transfer

ITEMS = 600
ACTIONS = ("issue", "transfer", "inspect")  # three rows per item
ROWS = ITEMS * len(ACTIONS)
BATCH = 50
ENTRIES_PER_ROW = 2  # the row's event and its nonce


def write_programme(path: Path) -> str:
    """Every item issued, transferred and inspected, in that order; the file's digest."""
    serials = [f"KILL-{n:05d}" for n in range(ITEMS)]
    data = csv_bytes([row for s in serials for row in (issue(s), transfer(s), inspect(s))])
    path.write_bytes(data)
    return file_digest(data)


def test_an_import_killed_mid_batch_and_run_again_stores_every_row_exactly_once(
    store: Store, processes: Processes, fault_seed: int, figures: Figures, tmp_path: Path
) -> None:
    initialise(store)
    programme = tmp_path / "programme.csv"
    digest = write_programme(programme)
    before = log_size(store)
    rng = random.Random(f"{fault_seed}/{store.url.split(':')[0]}")
    kill_after_batches = rng.randint(3, 12)
    follower = processes.start(store, "readmodels", "follow", "--every", "0.2", log="follower.log")
    importer = processes.start(
        store, "import", str(programme), "--batch", str(BATCH), log="import.log"
    )
    started = time.monotonic()

    with store.ledger() as ledger:
        wait_until(
            lambda: (
                ledger.log_store.log_size() - before >= kill_after_batches * BATCH * ENTRIES_PER_ROW
            ),
            importer,
            seconds=60,
            what=f"{kill_after_batches} batches to be committed",
        )
    time.sleep(rng.uniform(0, 0.05))
    sigkill(importer)
    sigkill(follower)
    killed_after = time.monotonic() - started
    committed = log_size(store) - before
    resumed = store.check("import", str(programme), "--batch", str(BATCH))

    assert importer.returncode == -signal.SIGKILL, "the import finished before it was killed"
    assert 0 < committed < ROWS * ENTRIES_PER_ROW
    assert committed % (BATCH * ENTRIES_PER_ROW) == 0, "a batch was stored in part"
    rows_before = committed // ENTRIES_PER_ROW
    assert resumed.startswith(
        f"stored {ROWS - rows_before} rows in {ROWS // BATCH} batches; "
        f"{rows_before} were stored by an earlier run"
    ), resumed
    log = entries(store)
    assert_intact(store, log)
    assert len(log) == before + ROWS * ENTRIES_PER_ROW
    lines = nonces(log)
    assert set(lines) >= {f"import-{digest}-{line}" for line in range(2, ROWS + 2)}
    assert max(lines.values()) == 1, "a nonce was used twice"
    per_item = Counter(e.aggregate_id for e in log if e.type.startswith("custody:Item."))
    assert len(per_item) == ITEMS
    assert set(per_item.values()) == {len(ACTIONS)}, "an item has a row missing or doubled"
    figures(
        f"crash/import/{store.url.split(':')[0]}: {ROWS} rows; killed after {killed_after:.1f} s "
        f"with {rows_before} rows in {rows_before // BATCH} batches committed; the rerun stored "
        f"{ROWS - rows_before} and skipped {rows_before}; {ROWS} found once, 0 doubled, "
        f"log gapless at {len(log)} entries, verify intact, read models equal a rebuild "
        f"(seed {fault_seed})"
    )
