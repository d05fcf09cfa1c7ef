"""The one SQL dialect of every table the ledger keeps: the log, read models and stored accounts.

SQLite and PostgreSQL differ, for what the ledger writes, in six things, and each is said once here:

1. placeholders: `?` or `%s` (`Dialect.param`, `Dialect.marks(n)`);
2. table names: bare on SQLite, qualified by the schema on PostgreSQL (`Dialect.table(name)`);
3. column types: `INTEGER` or `bigint`, `BLOB` or `bytea`, and text that orders as bytes
   (`TEXT`, or `TEXT COLLATE "C"` whatever the server's locale: canonical times compare as text);
4. upserts (`Dialect.upsert`, the same `ON CONFLICT ... DO UPDATE` on both);
5. a write lock taken before anything is read (`Dialect.lock`: on SQLite a write that changes
   nothing, on PostgreSQL an EXCLUSIVE table lock bounded by the datastore's lock timeout);
6. whether tables exist (`Dialect.count_tables`: `sqlite_master` or `to_regclass`).

Rows: psycopg's rows are dicts, SQLite's `sqlite3.Row`; `values(row)` gives either as a tuple.
`Database` is a datastore of the library (either kind) with its dialect: a read transaction that
answers tuples, and a write transaction that hands its cursor out. `BUSY` are the errors of a
store that could not take its lock in time, on either.

A module that needs SQL lives in ledger/store/ and takes a `Dialect` (or a `Database`); the layers
above call its methods and never see a statement (tests/test_layering.py). The read models'
statements (readmodel_tables.py) and the stored accounts' (accounts_tables.py) are both written
in it.
"""

# ruff: noqa: S608 - SQL text from constant table names and a checked schema; values as parameters.

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import OperationalError, ProgrammingError
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
BUSY = (OperationalError, sqlite3.OperationalError)
"""A store that could not take its lock in time (the library's error, or SQLite's own)."""
Row = tuple[Any, ...]


@dataclass(frozen=True)
class Dialect:
    """How one datastore spells what the ledger's statements need (this module's docstring)."""

    sqlite: bool
    param: str
    prefix: str
    """'' on SQLite; '"schema".' on PostgreSQL"""
    integer: str
    blob: str
    text: str
    """text that orders as bytes"""
    lock_timeout: int = 0
    """seconds a PostgreSQL lock is waited for (0: the server's default)"""

    def table(self, name: str) -> str:
        """The table's name as a statement writes it."""
        return self.prefix + name

    def marks(self, count: int) -> str:
        """`count` placeholders, comma separated (an `IN (...)` or a `VALUES (...)`)."""
        return ", ".join([self.param] * count)

    def upsert(
        self, table: str, columns: Sequence[str], key: Sequence[str], *, newer: str | None = None
    ) -> str:
        """Insert a row of `columns`, or update the row with its `key` to it; with `newer`, only
        if the stored row's `newer` column is at most the new one's (an older read never
        overwrites a newer one)."""
        updated = [c for c in columns if c not in key]
        sql = (
            f"INSERT INTO {self.table(table)} ({', '.join(columns)})"
            f" VALUES ({self.marks(len(columns))})"
            f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in updated)
        )
        return sql if newer is None else f"{sql} WHERE {table}.{newer} <= excluded.{newer}"

    def lock(self, table: str, column: str) -> list[str]:
        """Statements that take the write lock on `table` before anything is read, held to the
        commit: one writer at a time from there (`column` is any column of it)."""
        if self.sqlite:
            return [f"UPDATE {table} SET {column} = {column} WHERE 0 = 1"]
        return [
            f"SET LOCAL lock_timeout = '{int(self.lock_timeout)}s'",
            f"LOCK TABLE {self.table(table)} IN EXCLUSIVE MODE",
        ]

    def count_tables(self, names: Sequence[str]) -> tuple[str, tuple[Any, ...]]:
        """A query (and its parameters) whose column `n` counts which of `names` exist."""
        if self.sqlite:
            return (
                "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'"
                f" AND name IN ({self.marks(len(names))})",
                tuple(names),
            )
        qualified = [self.table(name) for name in names]
        return "SELECT COUNT(to_regclass(name)) AS n FROM unnest(%s::text[]) AS name", (qualified,)


SQLITE = Dialect(sqlite=True, param="?", prefix="", integer="INTEGER", blob="BLOB", text="TEXT")


def postgres(schema: str, *, lock_timeout: int = 0) -> Dialect:
    """PostgreSQL's dialect for tables in `schema` (a plain identifier, else refused)."""
    if not _IDENTIFIER.match(schema):
        raise ProgrammingError(f"schema name {schema!r} is not a plain identifier")
    return Dialect(
        sqlite=False,
        param="%s",
        prefix=f'"{schema}".',
        integer="bigint",
        blob="bytea",
        text='TEXT COLLATE "C"',
        lock_timeout=lock_timeout,
    )


def dialect_of(datastore: object) -> Dialect:
    """The dialect of one of the library's datastores."""
    if isinstance(datastore, SQLiteDatastore):
        return SQLITE
    if isinstance(datastore, PostgresDatastore):
        return postgres(datastore.schema, lock_timeout=int(datastore.lock_timeout))
    raise ProgrammingError(f"no SQL dialect for a {type(datastore).__name__}")


def values(row: Any) -> Row:
    """A row's values: psycopg's dict rows iterate over their keys, SQLite's rows over values."""
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)


class Database:
    """A datastore of the library with its dialect: the one way the modules of ledger/store/ that
    are not recorders reach the database."""

    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        self.dialect = dialect_of(datastore)

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """The rows of one query, as tuples, in a read transaction."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(sql, params)
            return [values(row) for row in cursor.fetchall()]

    @contextmanager
    def transaction(self, *, locking: tuple[str, str] | None = None) -> Iterator[Any]:
        """A write transaction's cursor, committed on leaving; with `locking` (table, column),
        the table's write lock is taken first (`Dialect.lock`)."""
        with self.datastore.transaction(commit=True) as cursor:
            for statement in self.dialect.lock(*locking) if locking else ():
                cursor.execute(statement)
            yield cursor
