"""What the fault tests share: the real `custody` command run as a process on a store of its own,
servers started and SIGKILLed, and the checks every fault ends with.

The checks read the store directly, not through the process that was killed: the log is gapless,
every nonce (an import line, an Idempotency-Key) is in it exactly once, `custody verify` passes,
and the read models followed across the fault equal a rebuild.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from ledger.application.ledger import Ledger
from ledger.domain.times import system_clock
from ledger.integrity.entries import decode_entry
from ledger.integrity.maproots import MAP_ID
from ledger.integrity.signing import Signer, read_private_key_file
from ledger.readmodels.models import open_views
from policies.accounts import AccountTable
from policies.config import PolicyConfig
from policies.engine import Scope, unaccounted_report
from tests.programme import ADMIN, register_parties

CUSTODY = [sys.executable, "-m", "custody_cli"]
ROOT = Path(__file__).resolve().parents[2]
NONCE_USED = "custody:Nonce.Used"
Figures = Callable[[str], None]  # the `figures` fixture of tests/conftest.py


@dataclass(frozen=True)
class Store:
    """A store URL and the directory holding its signing key and the processes' logs."""

    url: str
    directory: Path

    def env(self) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODY_")}
        return clean | {
            "PYTHONPATH": str(ROOT),
            "CUSTODY_DB": self.url,
            "CUSTODY_KEY": str(self.directory / "custody.key"),
        }

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CUSTODY, *args],
            cwd=self.directory,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def check(self, *args: str) -> str:
        """Run a command that must succeed; its stdout."""
        done = self.run(*args)
        assert done.returncode == 0, f"custody {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    @contextmanager
    def ledger(self) -> Iterator[Ledger]:
        """The store opened in this process, with its key (which signs every entry's receipt),
        to read what the killed processes left and to write its fixtures."""
        key = Signer.from_text(read_private_key_file(self.directory / "custody.key"))
        ledger = Ledger(clock=system_clock, db=self.url, signer=key)
        try:
            yield ledger
        finally:
            ledger.close()


@dataclass
class Processes:
    """Every process a test starts. The fixture SIGKILLs those still running when the test ends,
    whatever happened, so no server outlives its test."""

    started: list[subprocess.Popen[str]] = field(default_factory=list)

    def start(self, store: Store, *args: str, log: str) -> subprocess.Popen[str]:
        with (store.directory / log).open("w") as output:
            process = subprocess.Popen(
                [*CUSTODY, *args],
                cwd=store.directory,
                env=store.env(),
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self.started.append(process)
        return process

    def kill_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                sigkill(process)


def stop(server: Server) -> None:
    """SIGTERM, once the clients are done: the server signs the log as it leaves it (its clock's
    last tick) and exits, so the checks that follow read a store no process writes to. A server
    left running appends a map root whenever its clock ticks (every 10 s), between two checks."""
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=60)  # uvicorn raises the signal again once it has shut down
    assert "Application shutdown complete." in server.log_tail(3), server.log_tail()


def sigkill(process: subprocess.Popen[str]) -> None:
    """SIGKILL: no handler runs, no transaction is finished, nothing is flushed."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def serve(processes: Processes, store: Store, name: str = "server") -> Server:
    """`custody serve` on a free loopback port, once it answers."""
    port = free_port()
    log = f"{name}-{port}.log"
    process = processes.start(store, "serve", "--port", str(port), log=log)
    server = Server(process, port, store.directory / log)
    wait_until(
        lambda: _answers(f"{server.url}/openapi.json"),
        process,
        seconds=60,
        what=f"{name} to answer",
    )
    return server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.TransportError:
        return False
    return True


def wait_until(
    done: Callable[[], bool],
    process: subprocess.Popen[str],
    *,
    seconds: float,
    what: str,
    every: float = 0.02,
) -> None:
    """Poll until `done`; fail if the process exits first or the time runs out."""
    deadline = time.monotonic() + seconds
    while not done():
        if process.poll() is not None:
            raise AssertionError(f"the process exited ({process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}")
        time.sleep(every)


# Setting up a programme -------------------------------------------------------------------------


def initialise(store: Store) -> str:
    """`custody init`, then the parties and the agreement the writes need; the admin token."""
    token = str(json.loads(store.check("init", "--json"))["admin_token"])
    with store.ledger() as ledger:
        register_parties(ledger)
    return token


def issue_items(store: Store, count: int, prefix: str) -> list[str]:
    """Items issued to unit-1 a month ago, in this process; their ids."""
    with store.ledger() as ledger:
        return [
            str(
                ledger.issue(
                    serial=f"{prefix}-{n}",
                    manufacturer="Maker",
                    model="M1",
                    category="rifle",
                    agreement="eua-1",
                    recipient="unit-1",
                    occurred_at=system_clock() - timedelta(days=30),
                    actor=ADMIN,
                ).id
            )
            for n in range(count)
        ]


# The checks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    log_index: int
    aggregate_id: str
    body: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.body["type"])


def entries(store: Store) -> list[Entry]:
    """Every log entry, decoded, in log order."""
    with store.ledger() as ledger:
        rows = ledger.log_store.log_entries(0, ledger.log_store.log_size())
    return [Entry(r.log_index, str(r.aggregate_id), decode_entry(r.entry)) for r in rows]


def log_size(store: Store) -> int:
    with store.ledger() as ledger:
        return ledger.log_store.log_size()


def map_roots(log: list[Entry]) -> list[Entry]:
    """The map roots among `log`: one is appended before each checkpoint a server signs (on its
    clock, on a GET of the checkpoint, as it stops), not a write of any client."""
    roots = [e for e in log if e.aggregate_id == str(MAP_ID)]
    assert all(e.type == "custody:LogMap.Committed" for e in roots), "a stray map entry"
    return roots


def assert_gapless(log: list[Entry]) -> None:
    indexes = [e.log_index for e in log]
    assert indexes == list(range(len(log))), "the log has a gap or a repeated index"


def nonces(log: list[Entry]) -> Counter[str]:
    """How often each nonce (import line, Idempotency-Key) was used: once, or something doubled."""
    return Counter(str(e.body["payload"]["nonce"]) for e in log if e.type == NONCE_USED)


def assert_verifies(store: Store, size: int) -> None:
    """The CLI's own verifier: every leaf, node, item chain and checkpoint recomputed."""
    printed = store.check("verify")
    assert printed.startswith(f"intact: {size} entries,"), printed


def assert_read_models_equal_a_rebuild(store: Store) -> None:
    """Catch the read models up (`follow --once`) from wherever the fault left them, then
    `rebuild` them from the log: the rows must not change."""
    store.check("readmodels", "follow", "--once")
    followed, accounts = _read_model_rows(store), _account_rows(store)
    printed = store.check("readmodels", "rebuild")
    assert printed.startswith("rebuilt the read models:"), printed
    assert _read_model_rows(store) == followed
    assert _account_rows(store) == accounts


def assert_intact(store: Store, log: list[Entry]) -> None:
    """What a fault must leave true of the whole store: `log` (all of it) gapless, `custody verify`
    intact at its size, and the read models, caught up, equal to a rebuild."""
    assert_gapless(log)
    assert_verifies(store, len(log))
    assert_read_models_equal_a_rebuild(store)


def _account_rows(store: Store) -> list[tuple[Any, ...]]:
    """The stored accounts as a report leaves them (caught up first), less the log size each row
    was computed at."""
    with store.ledger() as ledger:
        unaccounted_report(ledger, Scope(as_of=datetime.now(UTC)), PolicyConfig())
        rows = AccountTable(ledger, PolicyConfig()).rows()
        return [tuple(v for k, v in vars(r).items() if k != "computed_at") for r in rows]


def _read_model_rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    with store.ledger() as ledger:
        views = open_views(ledger)
        assert views.position() == ledger.log_store.log_size()
        return views.table_rows()
