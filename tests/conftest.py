"""Shared fixtures: a settable clock, ledgers on SQLite and on the real PostgreSQL, an admin actor.

PostgreSQL tests use the server on 127.0.0.1:5432 (trust auth, database `test`), each test in a
schema of its own that is dropped afterwards. CI runs them; CUSTODY_TEST_POSTGRES points elsewhere.
Without a reachable server they are skipped, with one line saying so at the end of the run; under
CI (`CI` set) they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import NoReturn
from uuid import uuid4

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.application.ledger import Ledger
from ledger.domain.access import Actor
from ledger.domain.tokens import Role
from ledger.integrity.signing import Signer

POSTGRES = os.environ.get("CUSTODY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ADMIN = Actor("operator", Role.ADMIN)
# Fixed, so that `conftest` and `tests.conftest` (pytest imports this file under both names) agree.
SIGNER = Signer("localhost/custody", Ed25519PrivateKey.from_private_bytes(b"\x07" * 32))


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


FIGURES: list[str] = []


@pytest.fixture
def figures() -> Callable[[str], None]:
    """Record a measured figure (writes acknowledged, fuzz cases run ...); pytest prints them all
    at the end of the run, after the summary, so CI logs carry them."""
    return FIGURES.append


@cache
def postgres_problem() -> str | None:
    """Why the PostgreSQL server cannot be used, asked once per run; None if it can."""
    try:
        psycopg.connect(POSTGRES, connect_timeout=3).close()
    except psycopg.Error as error:
        return (str(error).strip().splitlines() or [type(error).__name__])[0]
    return None


def unavailable(what: str, reason: str, *, module: bool = False) -> NoReturn:
    """A test needs `what` (PostgreSQL, Chromium, Go, the RFC 6962 vectors) and it is missing:
    skipped on a workstation, failed under CI (`CI` set, as .ci/run sets it), where a skip would
    hide that the test never ran. `module`: called while a test module is imported."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must have {what}: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=module)


def require_postgres() -> None:
    """Skip a PostgreSQL test when no server answers (a workstation without one), except under
    CI, where it fails."""
    problem = postgres_problem()
    if problem is None:
        return
    unavailable(
        "PostgreSQL",
        f"PostgreSQL at {POSTGRES} is not reachable ({problem}): start it, or point"
        " CUSTODY_TEST_POSTGRES at one",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres"):
        require_postgres()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    asked = postgres_problem.cache_info().currsize
    if asked and postgres_problem() is not None and not os.environ.get("CI"):
        terminalreporter.write_line(
            f"PostgreSQL tests skipped: {POSTGRES} is not reachable; start it, or set"
            " CUSTODY_TEST_POSTGRES"
        )
    if FIGURES:
        terminalreporter.section("figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(autouse=True)
def client_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's clients keep what they remember (ledger/verification/client_state.py) in a
    folder of its
    own, never in the home directory."""
    folder = tmp_path_factory.mktemp("state") / "custody"
    monkeypatch.setenv("CUSTODY_STATE", str(folder))
    return folder


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'custody.db'}"


@contextmanager
def fresh_schema() -> Iterator[str]:
    """The URL of a new, empty schema on the PostgreSQL server, dropped when the block ends."""
    schema = f"t_{uuid4().hex[:16]}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{POSTGRES}?schema={schema}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    require_postgres()
    with fresh_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """The same contract, run against both stores."""
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        require_postgres()
    return str(request.getfixturevalue(f"{request.param}_url"))


LedgerFactory = Callable[..., Ledger]


@pytest.fixture
def make_ledger(clock: Clock) -> Iterator[LedgerFactory]:
    """Open ledgers on a URL (creating tables), closing them all at the end of the test."""
    opened: list[Ledger] = []

    def make(url: str, **kwargs: object) -> Ledger:
        kwargs.setdefault("signer", SIGNER)
        ledger = Ledger(clock=clock, db=url, create_tables=True, **kwargs)  # type: ignore[arg-type]
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(make_ledger: LedgerFactory) -> Ledger:
    """A fast in-memory SQLite ledger for unit tests of rules."""
    return make_ledger("sqlite:///:memory:")


@pytest.fixture
def store_ledger(make_ledger: LedgerFactory, db_url: str) -> Ledger:
    """A ledger on a real store: a SQLite file, then PostgreSQL."""
    return make_ledger(db_url)
