"""A timeline counted in days from T0 (2025-01-01 08:00 UTC), for the policy tests: `day(n)`, and
an item's commands on day n, each recorded an hour after it happened (`on`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from ledger.application.ledger import Ledger
from tests.conftest import Clock
from tests.programme import ADMIN, RIFLE

T0 = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def on(clock: Clock, n: float) -> datetime:
    """Day n, with the clock moved to an hour after it (recorded just after it happened)."""
    clock.now = max(clock.now, day(n) + timedelta(hours=1))
    return day(n)


def issue(
    ledger: Ledger, clock: Clock, serial: str = "AK-0001", *, n: float = 0, **extra: Any
) -> UUID:
    """The programme's rifle (tests/programme.py `RIFLE`, changed by `extra`) issued on day n."""
    return ledger.issue(serial=serial, occurred_at=on(clock, n), actor=ADMIN, **RIFLE | extra).id


def inspect(
    ledger: Ledger,
    clock: Clock,
    item: UUID,
    n: float,
    result: str = "verified",
    *,
    by: str = "inspectorate",
) -> int:
    """A physical inspection on day n that the operator records for party `by`."""
    return ledger.inspect(
        item,
        result=result,
        method="physical",
        inspector=by,
        occurred_at=on(clock, n),
        actor=ADMIN,
    ).log_index


def lose(
    ledger: Ledger,
    clock: Clock,
    item: UUID,
    n: float,
    circumstances: str = "lost",
    *,
    discovered: float | None = None,
) -> int:
    """A loss on day n, discovered on day `discovered` (default n), recorded an hour after that."""
    on(clock, n if discovered is None else discovered)
    return ledger.report_lost(
        item,
        circumstances=circumstances,
        occurred_at=day(n),
        discovered_at=None if discovered is None else day(discovered),
        actor=ADMIN,
    ).log_index
