"""Several processes writing to one PostgreSQL at once, as several API workers would: the log stays
gapless, every acknowledged write has exactly one entry, and the whole store verifies."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta

import pytest

from ledger.application.ledger import Ledger
from ledger.domain.errors import Conflict
from tests.conftest import SIGNER, Clock
from tests.programme import ADMIN, issue, register

pytestmark = pytest.mark.postgres
WRITES = 15


def writer(url: str, items: list[str], worker: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    ledger = Ledger(clock=lambda: now, db=url, signer=SIGNER)
    acknowledged: list[int] = []
    for n in range(WRITES):
        try:
            recorded = ledger.inspect(
                items[(worker + n) % len(items)],
                result="verified",
                method="physical",
                inspector="inspectorate",
                occurred_at=now - timedelta(hours=n),
                actor=ADMIN,
            )
            acknowledged.append(recorded.log_index)
        except Conflict:
            pass
    ledger.close()
    results.put(acknowledged)


def test_three_processes_writing_at_once_leave_a_gapless_verifiable_log(
    postgres_url: str, clock: Clock
) -> None:
    ledger = Ledger(clock=clock, db=postgres_url, create_tables=True, signer=SIGNER)
    register(ledger)
    items = [str(issue(ledger, f"P-{n}")) for n in range(4)]
    size_before = ledger.log_store.log_size()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(target=writer, args=(postgres_url, items, w, results)) for w in range(3)
    ]

    for process in workers:
        process.start()
    acknowledged = [index for _ in workers for index in results.get(timeout=120)]
    for process in workers:
        process.join(timeout=60)

    size = ledger.log_store.log_size()
    assert size == size_before + len(acknowledged)
    assert sorted(acknowledged) == list(range(size_before, size))
    assert ledger.tlog.verify(SIGNER.verifier).entries == size
    ledger.close()
