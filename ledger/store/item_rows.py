"""The rows of a table derived from the log, by item: how `custody verify`'s derived-state step
(ledger/readmodels/derived.py, policies/audit.py) reads the read models and the stored accounts to
compare them with the log, a chunk of items at a time.
"""

# ruff: noqa: S608 - SQL text from constant table and column names; values as parameters.

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ledger.store.dialect import Database, Row

PAGE = 1000


class ItemRows:
    """`columns` (comma separated) of `table`, keyed by `item_id`; with `scope`
    (column -> value), only the rows that have those values (one policy's accounts), and with
    `after` (column -> value), only those whose column is greater (the month rows that answer for
    a kept month end)."""

    def __init__(
        self,
        database: Database,
        table: str,
        columns: str,
        *,
        scope: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
    ) -> None:
        self.database = database
        d = database.dialect
        self.table, self.columns, self.param = d.table(table), columns, d.param
        scope, after = scope or {}, after or {}
        wanted = [f"{c} = {d.param}" for c in scope] + [f"{c} > {d.param}" for c in after]
        self.scope = " AND ".join(wanted or ["1 = 1"])
        self.scope_values = [*scope.values(), *after.values()]

    def of_items(self, item_ids: Sequence[str]) -> list[Row]:
        """The rows of these items, in no particular order."""
        if not item_ids:
            return []
        marks = self.database.dialect.marks(len(item_ids))
        return self.database.read(
            f"SELECT {self.columns} FROM {self.table} WHERE {self.scope} AND item_id IN ({marks})",
            [*self.scope_values, *item_ids],
        )

    def count(self) -> int:
        found = self.database.read(
            f"SELECT COUNT(*) FROM {self.table} WHERE {self.scope}", self.scope_values
        )
        return int(found[0][0])

    def item_ids(self, page: int = PAGE) -> Iterator[str]:
        """Every item id the table has rows of, in order, `page` at a time."""
        last = ""
        while found := self.database.read(
            f"SELECT DISTINCT item_id FROM {self.table} WHERE {self.scope}"
            f" AND item_id > {self.param} ORDER BY item_id LIMIT {int(page)}",
            [*self.scope_values, last],
        ):
            yield from (str(row[0]) for row in found)
            last = str(found[-1][0])
