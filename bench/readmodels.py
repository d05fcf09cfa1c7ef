"""Read-model figures for bench/run.py's `readmodels` section (docs/performance.md, "Read models"):

- rebuild: `custody readmodels rebuild`'s work on the read models (clear, then follow the whole
  log), entries/s, wall clock and per CPU second of this process;
- catch-up: the follower applying entries appended after its position (the tail of a programme,
  as after `custody import`), entries/s;
- stored accounts: the follower's second step over the same entries (items recomputed, with their
  month rows, policies/months.py), entries/s;
- custody at T over HTTP for the item with 1,000 events: p50 and p99 of
  `GET /v1/items/{id}/custody?at=T` answered from the read models, against the same request with
  `exact=true` (the replay) in the same run.

Each is measured on the programme store (run.py builds it); the tail written for the catch-up is
written last, after every other section has read the store.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

import httpx
import synth

from ledger.application.ledger import Ledger
from ledger.domain.times import format_time
from ledger.readmodels.models import follow, open_views, rebuild
from policies.accounts import AccountTable
from policies.config import PolicyConfig
from policies.months import follow as follow_accounts
from policies.months import rebuild_accounts

RATE_TARGET = 20_000
"""entries/s: catch-up and rebuild (issue 18)"""
HTTP_P50_TARGET_MS = 3.0


@dataclass(frozen=True)
class Rate:
    entries: int
    seconds: float
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.entries / self.seconds

    @property
    def per_cpu_second(self) -> float:
        return self.entries / self.cpu_seconds


def rate(entries: Callable[[], int]) -> Rate:
    """Time `entries` (which answers how many entries it covered), wall clock and CPU."""
    started, cpu = time.perf_counter(), time.process_time()
    done = entries()
    return Rate(done, time.perf_counter() - started, time.process_time() - cpu)


def rebuild_rate(book: Ledger) -> Rate:
    views = open_views(book)
    return rate(lambda: rebuild(book.log_store, views))


def accounts_rebuild_rate(book: Ledger) -> Rate:
    """Every item's stored account and month rows recomputed, as the follower's step does after
    a clear (policies/following.py); counted in log entries covered."""
    size = book.log_store.log_size()
    return rate(lambda: _rebuild_accounts(book) and size)


def _rebuild_accounts(book: Ledger) -> int:
    return rebuild_accounts(book, PolicyConfig())


def _follow_accounts(book: Ledger) -> int:
    """The follower's stored-accounts step (policies/following.py): the rows and month rows."""
    return follow_accounts(book, PolicyConfig(), AccountTable(book, PolicyConfig()))


def tail_rates(book: Ledger, items: int, events_per_item: int, first: int) -> tuple[Rate, Rate]:
    """Append `items` items, then time the read models' catch-up and the accounts' one."""
    size = book.log_store.log_size()
    follow(book.log_store, open_views(book))
    _follow_accounts(book)
    synth.write_bulk(book, synth.plans(items, events_per_item, first=first), batch=1000)
    appended = book.log_store.log_size() - size
    views = rate(lambda: follow(book.log_store, open_views(book)))
    accounts = rate(lambda: _follow_accounts(book) and appended)
    return views, accounts


def http_custody_latencies(
    server: Callable[[], AbstractContextManager[str]],
    token: str,
    plan: synth.ItemPlan,
    samples: int,
) -> tuple[list[float], list[float]]:
    """(read model, replay) latencies in ms of GET /v1/items/{id}/custody at random times."""
    rng = random.Random(5)
    moments = [plan.issued_at + (synth.NOW - plan.issued_at) * rng.random() for _ in range(samples)]
    with server() as base, httpx.Client(base_url=base, timeout=30) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        views = list(_timed(client, plan, moments, exact=False))
        replay = list(_timed(client, plan, moments, exact=True))
    return views, replay


def _timed(
    client: httpx.Client, plan: synth.ItemPlan, moments: Sequence[datetime], *, exact: bool
) -> Iterator[float]:
    path = f"/v1/items/{plan.item_id}/custody"
    for n, moment in enumerate([*moments[:10], *moments]):  # the first ten warm up
        params = {"at": format_time(moment)} | ({"exact": "true"} if exact else {})
        started = time.perf_counter()
        answer = client.get(path, params=params)
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != 200:
            raise SystemExit(f"custody at T answered {answer.status_code}: {answer.text}")
        if n >= 10:
            yield elapsed
