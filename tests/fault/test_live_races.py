"""Reading or deciding while another process writes: a write and a checkpoint signed elsewhere
between two of this process's reads must not look like tampering, and the same request recorded
elsewhere meanwhile must get its first answer.

The other process is made to act at the worst moment, right after this one has read the log's
size, so each race is played every time rather than now and then. `custody serve` signs a
checkpoint on every GET /v1/log/checkpoint that finds the log grown, and `custody verify` may be
run by an auditor while servers take writes; both happen in the test below with real processes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from ledger.application.ledger import Ledger, Recorded
from ledger.domain.items import Item
from ledger.domain.times import format_time
from ledger.integrity.checkpoints import verify_checkpoint
from ledger.integrity.submissions import Submitted
from ledger.store.log import LogStore
from tests.conftest import SIGNER, LedgerFactory
from tests.fault.harness import Figures, Processes, Store, initialise, issue_items, serve
from tests.programme import ADMIN, ago, inspect, issue, register

VERIFICATIONS = 2


@pytest.fixture
def two_processes(make_ledger: LedgerFactory, db_url: str) -> tuple[Ledger, Ledger, UUID]:
    """Two ledgers on one store, as two processes have them, and an item issued through the
    first."""
    here, there = make_ledger(db_url), make_ledger(db_url)
    register(here)
    return here, there, issue(here)


def after_the_size_is_read(
    monkeypatch: pytest.MonkeyPatch, ledger: Ledger, elsewhere: Callable[[], object]
) -> list[int]:
    """Run `elsewhere` once, right after `ledger` first reads its log's size; the sizes read.
    Patched on the class, so that a copy of the store reading through one snapshot
    (`LogStore.snapshot`) is caught too; only reads of `ledger`'s own datastore count."""
    store = ledger.log_store
    read = type(store).log_size
    sizes: list[int] = []

    def log_size(self: LogStore) -> int:
        size = read(self)
        if self.datastore is not store.datastore:  # type: ignore[attr-defined]
            return size
        if not sizes:
            elsewhere()
        sizes.append(size)
        return size

    monkeypatch.setattr(type(store), "log_size", log_size)
    return sizes


def write_and_sign(ledger: Ledger, item: UUID) -> Callable[[], object]:
    def act() -> None:
        inspect(ledger, item, ago(ledger, hours=1))
        ledger.tlog.checkpoint()

    return act


def test_a_checkpoint_signed_elsewhere_meanwhile_does_not_make_the_log_look_truncated(
    two_processes: tuple[Ledger, Ledger, UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    here, there, item = two_processes
    sizes = after_the_size_is_read(monkeypatch, here, write_and_sign(there, item))

    note = here.tlog.checkpoint()

    assert sizes, "the race was not played"
    signed = verify_checkpoint(note, SIGNER.verifier, here.origin)
    latest = there.log_store.latest_checkpoint()
    # the checkpoint signed elsewhere covers the inspection and the map root before it (issue 13)
    assert latest is not None and latest[0] == sizes[0] + 2
    assert signed.size == latest[0]  # that one, not one of the size read before: no truncation


def test_verifying_while_another_process_writes_and_signs_finds_the_store_intact(
    two_processes: tuple[Ledger, Ledger, UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    here, there, item = two_processes
    here.tlog.checkpoint()
    sizes = after_the_size_is_read(monkeypatch, here, write_and_sign(there, item))

    verified = here.tlog.verify(SIGNER.verifier)

    assert sizes, "the race was not played"
    assert verified.entries in (sizes[0], sizes[0] + 1)


def test_the_same_request_recorded_elsewhere_while_this_one_is_decided_gets_the_first_answer(
    two_processes: tuple[Ledger, Ledger, UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client retries a transfer through another server while the first is still deciding it:
    the retry must answer as the first did, not refuse it as a transfer from the wrong holder."""
    here, there, item = two_processes
    via = Submitted("retried-0001", "a" * 64)

    def transfer(ledger: Ledger) -> Recorded:
        return ledger.transfer(
            item,
            to="unit-2",
            from_holder="unit-1",
            occurred_at=ago(ledger, hours=1),
            actor=ADMIN,
            via=via,
        )

    first: list[Recorded] = []
    read = here.item

    def item_once_the_other_has_recorded_it(wanted: UUID | str) -> Item:
        if not first:
            first.append(transfer(there))
        return read(wanted)

    monkeypatch.setattr(here, "item", item_once_the_other_has_recorded_it)

    again = transfer(here)

    assert first, "the race was not played"
    assert again == first[0]


@pytest.mark.postgres
def test_custody_verify_run_while_a_server_takes_writes_reports_the_store_intact(
    postgres_url: str, tmp_path: Path, processes: Processes, figures: Figures
) -> None:
    store = Store(postgres_url, tmp_path)
    token = initialise(store)
    (item,) = issue_items(store, 1, "LIVE")
    server = serve(processes, store)
    stop = threading.Event()
    answers: list[int] = []

    def writes() -> None:
        start = datetime.now(UTC) - timedelta(days=20)
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as c:
            for n in range(2000):  # bounded; stopped when the verifications are done
                if stop.is_set():
                    return
                body = {"result": "verified", "method": "physical", "inspector": "inspectorate"}
                at = format_time(start + timedelta(minutes=n))
                path = f"/v1/items/{item}/inspections"
                answers.append(c.post(path, json=body | {"occurred_at": at}).status_code)
                if n % 3 == 0:
                    answers.append(c.get("/v1/log/checkpoint").status_code)

    writer = threading.Thread(target=writes)
    writer.start()
    try:
        runs = [store.run("verify") for _ in range(VERIFICATIONS)]
    finally:
        stop.set()
        writer.join(timeout=60)

    failed = [r.stdout + r.stderr for r in runs if r.returncode != 0]
    figures(
        f"live/postgresql: `custody verify` run {VERIFICATIONS} times during {len(answers)} "
        f"requests to a server: {VERIFICATIONS - len(failed)} intact, {len(failed)} false alarms; "
        f"{sum(a >= 500 for a in answers)} 5xx"
    )
    assert failed == []
    assert all(a < 500 for a in answers)
