"""The one SQL dialect (ledger/store/dialect.py): what differs between SQLite and PostgreSQL is said
once, and an upsert never puts an older computation over a newer one."""

from __future__ import annotations

import sqlite3

import pytest
from eventsourcing.persistence import ProgrammingError

from ledger.store.dialect import SQLITE, postgres, values


def test_sqlite_names_tables_bare_and_postgresql_qualifies_them_by_schema() -> None:
    pg = postgres("custody")

    assert (SQLITE.table("t"), SQLITE.marks(3)) == ("t", "?, ?, ?")
    assert (pg.table("t"), pg.marks(2)) == ('"custody".t', "%s, %s")
    assert (SQLITE.integer, SQLITE.blob, SQLITE.text) == ("INTEGER", "BLOB", "TEXT")
    assert (pg.integer, pg.blob, pg.text) == ("bigint", "bytea", 'TEXT COLLATE "C"')


@pytest.mark.parametrize("schema", ['x"; DROP SCHEMA public; --', "a b", "1abc", ""])
def test_a_schema_that_is_not_a_plain_identifier_is_refused(schema: str) -> None:
    with pytest.raises(ProgrammingError, match="is not a plain identifier"):
        postgres(schema)


def test_the_write_lock_is_an_empty_write_on_sqlite_and_a_table_lock_on_postgresql() -> None:
    assert SQLITE.lock("t", "n") == ["UPDATE t SET n = n WHERE 0 = 1"]
    assert postgres("s", lock_timeout=5).lock("t", "n") == [
        "SET LOCAL lock_timeout = '5s'",
        'LOCK TABLE "s".t IN EXCLUSIVE MODE',
    ]


def test_an_upsert_with_newer_keeps_the_row_computed_later() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT, at INTEGER)")
    upsert = SQLITE.upsert("t", ("k", "v", "at"), ("k",), newer="at")

    db.execute(upsert, ("a", "new", 2))
    db.execute(upsert, ("a", "old", 1))
    db.execute(upsert, ("b", "first", 1))
    db.execute(upsert, ("b", "again", 1))

    assert db.execute("SELECT k, v, at FROM t ORDER BY k").fetchall() == [
        ("a", "new", 2),
        ("b", "again", 1),
    ]


def test_tables_are_counted_by_name_on_sqlite() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE present (x)")
    sql, params = SQLITE.count_tables(["present", "absent"])

    (count,) = db.execute(sql, params).fetchone()

    assert count == 1


def test_a_row_is_its_values_whether_a_dict_or_a_sequence() -> None:
    assert values({"a": 1, "b": "x"}) == (1, "x")
    assert values((1, "x")) == (1, "x")
