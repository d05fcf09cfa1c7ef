"""The SQL of a search by serial (what it finds and how it ranks: ledger/readmodels/search.py).

A pattern comes in as its parts: readable forms, and wildcards `?` (one character) and `*` (any
run). On SQLite it is a GLOB answered by the FTS5 trigram index; on PostgreSQL a LIKE answered by
pg_trgm (or a scan). Candidates rank by tier (0: the form itself, 1: forms the pattern matches
whole, 2: forms it matches inside), then by the form's length, the form, and the log index; a page
goes on after the last key of the page before.
"""

# ruff: noqa: S608 - SQL text from constant table names and a checked schema; values as parameters.

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.store.serials import COLUMNS, SerialIndex

WILDCARDS = {"?": "_", "*": "%"}
"""each wildcard of a pattern, and LIKE's spelling of it (GLOB's is the same as the pattern's)"""
Key = tuple[int, int, str, int]
"""tier, form length, form, log index: the order of candidates"""


@dataclass(frozen=True)
class SerialQuery:
    """One page of a search: the pattern's parts; `exact_only`, only the forms equal to its
    readable text; `filters` (index column -> value, in the normal form); `holders`, only items
    one of them holds now (by the read models' `summary` table); after `after`, at most `limit`."""

    parts: Sequence[str]
    summary: str
    exact_only: bool = False
    filters: Mapping[str, str] = field(default_factory=dict)
    holders: Sequence[str] | None = None
    after: Key | None = None
    limit: int = 50

    @property
    def literal(self) -> str:
        return "".join(p for p in self.parts if p not in WILDCARDS)

    def glob(self, *, anchored: bool) -> str:
        body = "".join(self.parts)
        return body if anchored else f"*{body}*"

    def like(self, *, anchored: bool) -> str:
        body = "".join(WILDCARDS.get(p, p) for p in self.parts)
        return body if anchored else f"%{body}%"


def ranked(index: SerialIndex, query: SerialQuery) -> list[Any]:
    """Up to `query.limit` candidates in rank order: the index's columns, `tier` and `size`."""
    sql, params = _ranked(index, query)
    p = index.sql.param
    if query.after is not None:
        sql += f" WHERE (tier, size, serial_form, log_index) > ({p}, {p}, {p}, {p})"
        params.extend(query.after)
    sql += f" ORDER BY tier, size, serial_form, log_index LIMIT {int(query.limit)}"
    return index.rows(sql, params)


def _ranked(index: SerialIndex, query: SerialQuery) -> tuple[str, list[Any]]:
    """The candidates as a subquery `ranked` with columns tier and size besides the index's."""
    sql = index.sql
    p, d = sql.param, sql.dialect
    exact = query.literal if all(part not in WILDCARDS for part in query.parts) else ""
    if sql.sqlite:
        tier = f"CASE WHEN s.serial_form = {p} THEN 0 WHEN s.serial_form GLOB {p} THEN 1 ELSE 2 END"
        whole = query.glob(anchored=True)
        match = f"s.log_index IN (SELECT rowid FROM {sql.fts} WHERE serial_form GLOB {p})"
        match_params = [query.glob(anchored=False)]
    else:
        tier = f"CASE WHEN s.serial_form = {p} THEN 0 WHEN s.serial_form LIKE {p} THEN 1 ELSE 2 END"
        whole = query.like(anchored=True)
        match, match_params = f"s.serial_form LIKE {p}", [query.like(anchored=False)]
    if query.exact_only:
        match, match_params = f"s.serial_form = {p}", [query.literal]
    where, params = [match], [exact, whole, *match_params]
    for column, value in query.filters.items():
        if column not in COLUMNS:
            raise ValueError(f"the index has no column {column!r}")
        where.append(f"s.{column} = {p}")
        params.append(value)
    if query.holders is not None:
        where.append(
            f"s.item_id IN (SELECT item_id FROM {d.table(query.summary)}"
            f" WHERE holder IN ({d.marks(len(query.holders))}))"
        )
        params += query.holders
    columns = ", ".join(f"s.{c}" for c in COLUMNS)
    inner = (
        f"SELECT {columns}, {tier} AS tier, LENGTH(s.serial_form) AS size"
        f" FROM {sql.table} s WHERE {' AND '.join(where)}"
    )
    return f"SELECT * FROM ({inner}) AS ranked", params
