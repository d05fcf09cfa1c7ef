"""`custody init` makes its store private and creates a missing PostgreSQL schema (issue 16)."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from typer.testing import CliRunner

from custody_cli import app
from tests.conftest import POSTGRES

runner = CliRunner()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_the_store_and_the_key_readable_by_their_owner_only(in_tmp: Path) -> None:
    result = runner.invoke(app, ["init", "--key", "ledger.key"])

    assert result.exit_code == 0, result.output
    assert mode(in_tmp / "custody.db") == 0o600
    assert mode(in_tmp / "ledger.key") == 0o600
    assert [mode(p) for p in in_tmp.glob("custody.db-*")] in ([], [0o600], [0o600, 0o600])


@pytest.fixture
def new_schema() -> Iterator[str]:
    schema = f"t_new_{uuid4().hex[:12]}"
    yield schema
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.postgres
def test_init_creates_a_missing_postgresql_schema(new_schema: str) -> None:
    url = f"{POSTGRES}?schema={new_schema}"

    made = runner.invoke(app, ["init", "--db", url])
    listed = runner.invoke(app, ["token", "list", "--db", url])

    assert made.exit_code == 0, made.output
    assert listed.exit_code == 0, listed.output
    assert "operator  admin  active" in listed.stdout
