"""A server SIGKILLed in the middle of a stream of writes, then restarted on the same store: every
write it acknowledged is there, none is doubled, and the requests cut off are safe to send again.

Three clients stream item writes (issue, then transfers and inspections) over loopback, each with
its own Idempotency-Key; a killer thread SIGKILLs `custody serve` at a seeded moment. After a
restart each client sends its cut-off request again with the same key: it must be recorded once,
whether or not the dead server had stored it.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import httpx

from ledger.domain.ids import item_id
from ledger.domain.times import format_time
from tests.fault.harness import (
    Figures,
    Processes,
    Server,
    Store,
    assert_gapless,
    assert_verifies,
    entries,
    initialise,
    log_size,
    map_roots,
    nonces,
    serve,
    sigkill,
    stop,
)

CLIENTS = 3
MAX_WRITES = 2000  # per client: a bound, never reached before the kill
KILL_BETWEEN = (0.8, 2.0)  # seconds after the stream starts
ENTRIES_PER_WRITE = 2  # the event and its nonce
ROUTE_TYPE = {
    "items": "custody:Item.Issued",
    "transfers": "custody:Item.Transferred",
    "inspections": "custody:Item.Inspected",
}


@dataclass(frozen=True)
class Write:
    key: str
    path: str
    body: dict[str, Any]
    item: str
    occurred_at: str  # canonical, unique per item: how a doubled entry is told apart

    @property
    def type(self) -> str:
        return ROUTE_TYPE[self.path.rsplit("/", 1)[-1]]


def writes(client: int, start: datetime) -> Iterator[Write]:
    """Endless: an item issued, then transferred on and inspected, five times; the next item."""
    for n in range(10_000):
        serial = f"API-{client}-{n:04d}"
        item = str(item_id("Maker", "M1", serial))
        when = start + timedelta(hours=n)
        issue = {"serial": serial, "manufacturer": "Maker", "model": "M1", "category": "rifle"}
        issue |= {"agreement": "eua-1", "recipient": "unit-1"}
        yield _write(f"{serial}-0", "/v1/items", issue, item, when)
        for step, to in enumerate(("unit-2", "unit-3", "unit-1"), 1):
            at = when + timedelta(minutes=2 * step)
            yield _write(f"{serial}-t{step}", f"/v1/items/{item}/transfers", {"to": to}, item, at)
            inspection = {"result": "verified", "method": "physical", "inspector": "inspectorate"}
            at += timedelta(minutes=1)
            yield _write(f"{serial}-i{step}", f"/v1/items/{item}/inspections", inspection, item, at)


def _write(key: str, path: str, body: dict[str, Any], item: str, at: datetime) -> Write:
    occurred_at = format_time(at)
    return Write(f"fault-{key}", path, body | {"occurred_at": occurred_at}, item, occurred_at)


@dataclass
class Stream:
    """What one client saw: the writes answered 2xx, the one cut off, any refused."""

    acknowledged: list[tuple[Write, int]] = field(default_factory=list)
    in_flight: Write | None = None
    refused: list[tuple[Write, int, str]] = field(default_factory=list)


def send(http: httpx.Client, write: Write) -> httpx.Response:
    return http.post(write.path, json=write.body, headers={"Idempotency-Key": write.key})


def stream(url: str, token: str, client: int, start: datetime) -> Stream:
    seen = Stream()
    with httpx.Client(base_url=url, headers=_auth(token), timeout=30) as http:
        for write in islice(writes(client, start), MAX_WRITES):
            seen.in_flight = write
            try:
                answer = send(http, write)
            except httpx.TransportError:
                return seen  # the server died: this write is in flight
            seen.in_flight = None
            if answer.is_success:
                seen.acknowledged.append((write, answer.json()["log_index"]))
            else:
                seen.refused.append((write, answer.status_code, answer.text))
    return seen


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def stream_until_killed(server: Server, token: str, kill_at: float) -> tuple[list[Stream], float]:
    """Run the clients; SIGKILL the server from another thread `kill_at` seconds in."""
    start = datetime.now(UTC) - timedelta(days=CLIENTS * 1000 // 24 + 30)
    streams: list[Stream] = [Stream() for _ in range(CLIENTS)]

    def client(n: int) -> None:
        streams[n] = stream(server.url, token, n, start + timedelta(days=n * 1000 // 24))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    killer = threading.Timer(kill_at, sigkill, args=(server.process,))
    killer.start()
    killer.join()
    killed_after = time.monotonic() - began
    for thread in threads:
        thread.join(timeout=60)
    return streams, killed_after


def test_a_server_killed_mid_stream_loses_no_acknowledged_write_and_doubles_none(
    store: Store, processes: Processes, fault_seed: int, figures: Figures
) -> None:
    token = initialise(store)
    before = log_size(store)
    kill_at = random.Random(f"{fault_seed}/{store.url.split(':')[0]}").uniform(*KILL_BETWEEN)
    first = serve(processes, store)

    streams, killed_after = stream_until_killed(first, token, kill_at)
    at_restart = log_size(store)
    second = serve(processes, store, name="restarted")
    with httpx.Client(base_url=second.url, headers=_auth(token), timeout=30) as http:
        cut_off = [s.in_flight for s in streams if s.in_flight is not None]
        retried = [send(http, write) for write in cut_off]
        acknowledged = [pair for s in streams for pair in s.acknowledged]
        replayed = [send(http, write) for write, _ in acknowledged[-5:]]
        histories = {
            item: http.get(f"/v1/items/{item}/history").json()["entries"]
            for item in {w.item for w, _ in acknowledged}
        }
    stop(second)

    assert first.process.returncode == -9 and all(s.in_flight for s in streams), (
        "the server was not killed in the middle of every client's stream"
    )
    assert [s.refused for s in streams] == [[]] * CLIENTS, first.log_tail()
    assert [r.status_code for r in retried] == [201] * len(cut_off), [r.text for r in retried]
    assert [r.json()["log_index"] for r in replayed] == [i for _, i in acknowledged[-5:]]
    for write, index in acknowledged:
        found = [e for e in histories[write.item] if e["log_index"] == index]
        assert [(e["type"], e["occurred_at"]) for e in found] == [(write.type, write.occurred_at)]
    log = entries(store)
    assert_gapless(log)
    sent = [*(w for w, _ in acknowledged), *cut_off]
    # each write and its nonce, and the map root of any checkpoint a clock signed meanwhile
    expected = before + ENTRIES_PER_WRITE * len(sent) + len(map_roots(log[before:]))
    assert len(log) == expected, "a write is missing or doubled"
    used = nonces(log)
    assert all(used[w.key] == 1 for w in sent), "an Idempotency-Key was recorded twice or never"
    per_event = Counter(
        (e.aggregate_id, e.body["occurred_at"]) for e in log if e.type.startswith("custody:Item.")
    )
    assert all(per_event[(w.item, w.occurred_at)] == 1 for w in sent)
    assert_verifies(store, len(log))
    stored_before_kill = sum(r.json()["log_index"] < at_restart for r in retried)
    figures(
        f"crash/api/{store.url.split(':')[0]}: {len(acknowledged)} writes acknowledged, "
        f"{len(acknowledged)} found, 0 doubled; {len(cut_off)} cut off by the kill "
        f"({stored_before_kill} of them stored before it), each recorded once after a retry "
        f"with its Idempotency-Key; killed after {killed_after:.2f} s; log gapless at "
        f"{len(log)} entries, verify intact (seed {fault_seed})"
    )
