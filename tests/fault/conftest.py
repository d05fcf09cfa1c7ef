"""Fixtures of the fault tests: a store of the test's own, its processes killed at the end, and the
seed that places each fault (CUSTODY_FAULT_SEED to try others)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fault.harness import Processes, Store

DEFAULT_SEED = 20260301


@pytest.fixture
def processes() -> Iterator[Processes]:
    started = Processes()
    try:
        yield started
    finally:
        started.kill_all()


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Store:
    """A SQLite file, then a PostgreSQL schema (marked `postgres`), as tests/conftest.py gives."""
    return Store(db_url, tmp_path)


@pytest.fixture
def fault_seed() -> int:
    return int(os.environ.get("CUSTODY_FAULT_SEED", DEFAULT_SEED))
