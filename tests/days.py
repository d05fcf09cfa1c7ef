"""A timeline counted in days from T0 (2025-01-01 08:00 UTC), for the policy tests: `day(n)`, and
an item's commands on day n, each recorded an hour after it happened (`on`) unless said."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from ledger.application.ledger import Ledger
from ledger.domain.access import Actor
from tests import programme
from tests.conftest import Clock
from tests.programme import ADMIN, INVESTIGATOR, RIFLE

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
    by: str | None = "inspectorate",
    method: str = "physical",
    actor: Actor = ADMIN,
) -> int:
    """An inspection on day n (physical unless `method` says otherwise) that `actor`, the operator
    unless said, records for party `by` (None: for itself)."""
    return programme.inspect(
        ledger, item, on(clock, n), result=result, method=method, inspector=by, actor=actor
    ).log_index


def sight(
    ledger: Ledger,
    clock: Clock,
    item: UUID,
    n: float,
    *,
    held_by: str | None = None,
    location: str = "market",
) -> int:
    """The investigator's own sighting on day n, of the item with `held_by` (None: nobody named)."""
    return programme.sight(
        ledger, item, on(clock, n), held_by=held_by, location=location, actor=INVESTIGATOR
    ).log_index


def record(clock: Clock, n: float, recorded: float | None) -> None:
    """Move the clock to an hour after day n, or to day(`recorded`) itself when given."""
    if recorded is None:
        on(clock, n)
    else:
        clock.now = day(recorded)


def dispose(
    ledger: Ledger,
    clock: Clock,
    item: UUID,
    n: float,
    *,
    certificate: str | None = "CERT-1",
    witnesses: Sequence[str] = ("inspectorate", "supplier"),
    method: str = "destroyed",
    recorded: float | None = None,
) -> int:
    """A destruction on day n, certified and witnessed by the inspectorate and the supplier unless
    said, recorded an hour later, or at day(`recorded`) itself when given."""
    record(clock, n, recorded)
    return ledger.dispose(
        item,
        method=method,
        certificate=certificate,
        witnesses=list(witnesses),
        occurred_at=day(n),
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
    recorded: float | None = None,
) -> int:
    """A loss on day n, discovered on day `discovered` (default n), recorded an hour after that, or
    at day(`recorded`) itself when given (a report made late)."""
    record(clock, n if discovered is None else discovered, recorded)
    return ledger.report_lost(
        item,
        circumstances=circumstances,
        occurred_at=day(n),
        discovered_at=None if discovered is None else day(discovered),
        actor=ADMIN,
    ).log_index
