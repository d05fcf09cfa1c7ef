"""One step of a random custody history, shared by the read-model tests that write such histories
(tests/readmodels/test_readmodels.py, tests/property/test_custody_read_model.py) and compare what
the read models answer with per-item replay."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ledger.application.ledger import Ledger
from tests.programme import ADMIN


def record(
    ledger: Ledger,
    item: UUID,
    kind: str,
    *,
    at: datetime,
    party: str = "unit-2",
    result: str = "verified",
) -> None:
    """Record one event of `kind` on `item`, occurred `at`, as the operator: `party` receives a
    transfer or recovers the item, `result` is an inspection's; a correction corrects the item's
    first entry."""
    if kind == "transfer":
        ledger.transfer(item, to=party, occurred_at=at, actor=ADMIN)
    elif kind == "lose":
        ledger.report_lost(item, circumstances="stolen", occurred_at=at, actor=ADMIN)
    elif kind == "recover":
        ledger.recover(item, by=party, occurred_at=at, actor=ADMIN)
    elif kind == "inspect":
        ledger.inspect(
            item,
            result=result,
            method="physical",
            inspector="inspectorate",
            occurred_at=at,
            actor=ADMIN,
        )
    elif kind == "dispose":
        ledger.dispose(
            item,
            method="destroyed",
            certificate="C-1",
            witnesses=["a", "b"],
            occurred_at=at,
            actor=ADMIN,
        )
    elif kind == "sight":
        ledger.sight(item, observer="investigator", location="market", occurred_at=at, actor=ADMIN)
    elif kind == "correct":
        first = min(ledger.log_store.log_indexes_of(item).values())
        ledger.correct(item, entry=first, reason="typo", occurred_at=at, actor=ADMIN)
    else:
        raise ValueError(f"no such kind of event: {kind}")
