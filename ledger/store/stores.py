"""The store behind a `CUSTODY_DB` URL, before a Ledger opens it: whether it is there at all, and
making a new one private (docs/security.md, "Store and key files").

Opening a SQLite URL creates the file if it is missing; a command that only reads must not leave
an empty `custody.db` behind, so it asks `require_store` first. `custody init` creates a SQLite
file with mode 0600 (SQLite gives its -wal and -shm files the same mode) and a missing PostgreSQL
schema (`?schema=`).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ledger.domain.errors import CustodyError
from ledger.store.config import persistence_env, redacted


def sqlite_path(db: str) -> Path | None:
    """The SQLite file of a URL; None for PostgreSQL or an in-memory store."""
    env = persistence_env(db, create_tables=False)
    name = env.get("SQLITE_DBNAME")
    return None if name is None or name.startswith("file:") else Path(name)


def require_store(db: str) -> None:
    """Refused unless the URL's SQLite file exists (a PostgreSQL store is checked on use)."""
    path = sqlite_path(db)
    if path is not None and not path.exists():
        raise missing(db)


def missing(db: str) -> CustodyError:
    return CustodyError(f"no ledger at {redacted(db)}: run `custody init` or pass --db")


def create_private(db: str) -> None:
    """Before `custody init` opens it: a new SQLite file with mode 0600, or the PostgreSQL
    schema the URL names if it does not exist yet."""
    path = sqlite_path(db)
    if path is not None:
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        return
    schema = parse_qs(urlsplit(db).query).get("schema", [""])[0]
    if schema and urlsplit(db).scheme in ("postgresql", "postgres"):
        _create_schema(db, schema)


def _create_schema(db: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    env = persistence_env(db, create_tables=True)
    # psycopg quotes the name as an identifier: no value is written into the statement.
    create = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
    try:
        with psycopg.connect(
            dbname=env["POSTGRES_DBNAME"],
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"],
            connect_timeout=10,
            autocommit=True,
        ) as conn:
            conn.execute(create)
    except psycopg.Error as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CustodyError(
            f"cannot create the schema {schema!r} in {redacted(db)}: {first}; create it with"
            f' CREATE SCHEMA "{schema}" or ask its owner to'
        ) from None
