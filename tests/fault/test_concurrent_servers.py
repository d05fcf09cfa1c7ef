"""Two `custody serve` processes on one PostgreSQL schema, eight clients transferring and inspecting
the same three items through both at once: nothing lost, nothing doubled, every conflict a 409 with
Retry-After that a retry gets past, never a 5xx; the log verifies and the read models, followed by
both servers at once, equal a rebuild.

Every attempt carries a fresh Idempotency-Key, so a 409 that had in fact stored something would
show as an extra entry, and a 2xx that had not as a missing one.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.domain.times import format_time
from tests.fault.harness import (
    Figures,
    Processes,
    Server,
    Store,
    assert_gapless,
    assert_intact,
    entries,
    initialise,
    issue_items,
    log_size,
    map_roots,
    nonces,
    serve,
    stop,
)
from tests.programme import UNITS

pytestmark = pytest.mark.postgres
ITEMS = 3
CLIENTS = 8
OPERATIONS = 16  # per client
MAX_ATTEMPTS = 40  # per operation: a bound, not a wait
READ_EVERY = 3  # every third operation also reads the read models and the checkpoint
DUPLICATES = 30
RETRYABLE = {"conflict", "not_the_holder"}  # a concurrent write won; a transfer read stale


@dataclass
class Tally:
    """What one client saw."""

    acknowledged: list[tuple[str, str, str, int]] = field(default_factory=list)
    refused_keys: list[str] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    reads: int = 0
    problems: list[str] = field(default_factory=list)


@pytest.fixture
def store(postgres_url: str, tmp_path: Path) -> Store:
    return Store(postgres_url, tmp_path)


def client(server: Server, token: str, items: list[str], n: int, seed: int) -> Tally:
    rng = random.Random(f"{seed}/{n}")
    tally = Tally()
    start = datetime.now(UTC) - timedelta(days=20)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
        try:
            for k in range(OPERATIONS):
                occurred_at = format_time(start + timedelta(minutes=n * OPERATIONS + k))
                operation = rng.choice(["transfer"] * 3 + ["inspect"] * 2)
                write(http, tally, rng, rng.choice(items), operation, occurred_at, f"race-{n}-{k}")
                if k % READ_EVERY == 0:
                    read(http, tally)
        except httpx.TransportError as error:  # a problem too, told apart by the server's state
            tally.problems.append(f"client {n}: {error!r}; {_state(server)}")
    return tally


def _state(server: Server) -> str:
    """Whether the server is still running (it cut the connection itself) or exited (and how:
    -9 is a SIGKILL from outside, as the OOM killer or another process's kill sends)."""
    code = server.process.poll()
    return f"server {server.url} " + ("still running" if code is None else f"exited {code}")


def write(
    http: httpx.Client,
    tally: Tally,
    rng: random.Random,
    item: str,
    operation: str,
    occurred_at: str,
    key: str,
) -> None:
    """One operation, retried on a 409 conflict (after a short seeded pause rather than the full
    Retry-After, to keep the test short) with a fresh key each attempt."""
    for attempt in range(MAX_ATTEMPTS):
        path, body = _request(http, item, operation, occurred_at)
        headers = {"Idempotency-Key": f"{key}-{attempt}"}
        answer = http.post(path, json=body, headers=headers)
        code = _code(answer)
        tally.answers[code] += 1
        if answer.is_success:
            event = "custody:Item." + ("Transferred" if operation == "transfer" else "Inspected")
            tally.acknowledged.append((item, event, occurred_at, answer.json()["log_index"]))
            tally.retries += attempt
            return
        tally.refused_keys.append(headers["Idempotency-Key"])
        if code not in RETRYABLE:
            tally.problems.append(f"{operation} {item}: {answer.status_code} {answer.text}")
            return
        if code == "conflict" and not answer.headers.get("Retry-After", "").isdigit():
            tally.problems.append(f"409 conflict without Retry-After: {answer.headers}")
        time.sleep(rng.uniform(0.005, 0.05))
    tally.problems.append(f"{operation} {item} still refused after {MAX_ATTEMPTS} attempts")


def _request(
    http: httpx.Client, item: str, operation: str, occurred_at: str
) -> tuple[str, dict[str, Any]]:
    if operation == "inspect":
        body = {"result": "verified", "method": "physical", "inspector": "inspectorate"}
        return f"/v1/items/{item}/inspections", body | {"occurred_at": occurred_at}
    holder = http.get(f"/v1/items/{item}").json()["holder"]
    to = UNITS[(UNITS.index(holder) + 1) % len(UNITS)]
    return f"/v1/items/{item}/transfers", {"to": to, "from": holder, "occurred_at": occurred_at}


def read(http: httpx.Client, tally: Tally) -> None:
    """Ask the read models and the report, so that both servers follow the log into the views
    and the stored accounts at once, and the checkpoint, so that both sign checkpoints of a
    growing log at once."""
    at = format_time(datetime.now(UTC))
    for path, params in (
        ("/v1/custody", {"holder": "unit-2", "at": at}),
        ("/v1/reports/unaccounted", {"as_of": at}),
        ("/v1/log/checkpoint", {}),
    ):
        answer = http.get(path, params=params)
        tally.reads += 1
        tally.answers[f"read {_code(answer)}"] += 1
        if answer.status_code not in (200, 409):
            tally.problems.append(f"GET {path}: {answer.status_code} {answer.text}")


def _code(answer: httpx.Response) -> str:
    if answer.is_success:
        return str(answer.status_code)
    try:
        return str(answer.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return str(answer.status_code)


def test_two_servers_and_eight_clients_on_the_same_items_lose_nothing_and_double_nothing(
    store: Store, processes: Processes, fault_seed: int, figures: Figures
) -> None:
    token = initialise(store)
    items = issue_items(store, ITEMS, "RACE")
    before = log_size(store)
    servers = [serve(processes, store, name="a"), serve(processes, store, name="b")]
    began = time.monotonic()

    with ThreadPoolExecutor(CLIENTS) as pool:
        tallies = list(
            pool.map(lambda n: client(servers[n % 2], token, items, n, fault_seed), range(CLIENTS))
        )
    took = time.monotonic() - began

    logs = "\n".join(s.log_tail() for s in servers)
    assert [p for t in tallies for p in t.problems] == [], logs
    for server in servers:
        stop(server)
    answers = sum((t.answers for t in tallies), Counter[str]())
    assert answers["conflict"] + answers["not_the_holder"] > 0, "no two writes ever met"
    acknowledged = [a for t in tallies for a in t.acknowledged]
    assert len(acknowledged) == CLIENTS * OPERATIONS
    log = entries(store)
    assert_intact(store, log)
    # each write and its nonce, and the map root before each checkpoint signed meanwhile (issue 13)
    assert len(log) == before + 2 * len(acknowledged) + len(map_roots(log[before:]))
    for item in items:
        found = [
            (item, e.type, e.body["occurred_at"], e.log_index)
            for e in log
            if e.aggregate_id == item and e.type != "custody:Item.Issued"
        ]
        assert sorted(found) == sorted(a for a in acknowledged if a[0] == item)
    used = nonces(log)
    assert all(used[k] == 0 for t in tallies for k in t.refused_keys), "a 409 stored something"
    assert max(used.values()) == 1
    writes = sum(v for k, v in answers.items() if not k.startswith("read"))
    reads = sum(t.reads for t in tallies)
    figures(
        f"concurrency/postgresql: 2 servers, {CLIENTS} clients, {ITEMS} items, {took:.1f} s: "
        f"{writes} write requests, {answers['201']} answered 201, "
        f"{answers['conflict']} 409 conflict (each with Retry-After), "
        f"{answers['not_the_holder']} 409 not_the_holder (a transfer read stale), "
        f"{sum(t.retries for t in tallies)} retries, all {len(acknowledged)} operations "
        f"done; {reads} reads of the read models and the checkpoint ({answers['read 200']} 200, "
        f"{answers['read conflict']} 409); 0 5xx; {len(acknowledged)} entries found once, "
        f"0 doubled, 0 stored by a 409; log gapless at {len(log)}, verify intact, read "
        f"models equal a rebuild (seed {fault_seed})"
    )


def test_the_same_request_sent_to_both_servers_at_once_is_recorded_once_and_answered_alike(
    store: Store, processes: Processes, fault_seed: int, figures: Figures
) -> None:
    """A client that retries through another server while the first is still working on it: both
    answers are the first answer, and one entry is recorded."""
    token = initialise(store)
    items = issue_items(store, ITEMS, "RACE")
    before = log_size(store)
    servers = [serve(processes, store, name="a"), serve(processes, store, name="b")]
    rng = random.Random(fault_seed)
    start = datetime.now(UTC) - timedelta(days=20)
    headers = {"Authorization": f"Bearer {token}"}
    clients = [httpx.Client(base_url=s.url, headers=headers, timeout=60) for s in servers]

    def twice(n: int) -> list[httpx.Response]:
        item, occurred_at = rng.choice(items), format_time(start + timedelta(minutes=n))
        operation = rng.choice(["transfer", "inspect"])
        path, body = _request(clients[0], item, operation, occurred_at)
        together = threading.Barrier(2)

        def send(http: httpx.Client) -> httpx.Response:
            together.wait(timeout=30)
            return http.post(path, json=body, headers={"Idempotency-Key": f"twice-{n:04d}"})

        with ThreadPoolExecutor(2) as pool:
            return list(pool.map(send, clients))

    try:
        pairs = [twice(n) for n in range(DUPLICATES)]
    finally:
        for http in clients:
            http.close()
    for server in servers:
        stop(server)

    statuses = Counter((a.status_code, b.status_code) for a, b in pairs)
    refused = [r.text for pair in pairs for r in pair if not r.is_success]
    assert statuses == {(201, 201): DUPLICATES}, refused
    assert all(a.json() == b.json() for a, b in pairs), "the two answers differ"
    log = entries(store)
    assert_gapless(log)
    # each write and its nonce, and the map root of any checkpoint a clock signed meanwhile
    assert len(log) == before + 2 * DUPLICATES + len(map_roots(log[before:]))
    assert nonces(log) == Counter({f"twice-{n:04d}": 1 for n in range(DUPLICATES)})
    figures(
        f"concurrency/postgresql: {DUPLICATES} requests each sent to both servers at once with "
        f"one Idempotency-Key: {2 * DUPLICATES} answered 201, each pair alike, "
        f"{DUPLICATES} recorded, 0 doubled (seed {fault_seed})"
    )
